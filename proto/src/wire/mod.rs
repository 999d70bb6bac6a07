//! Zero-copy views and representations of the headers mptfo handles.
