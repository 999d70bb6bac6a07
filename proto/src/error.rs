//! The one error type of the wire layer. Every parser returns it instead of
//! panicking; callers turn it into a counted drop.

/// Why a packet, header or option could not be parsed or emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer ends before the field that was asked for.
    #[error("truncated: the buffer is shorter than the header or option says")]
    Truncated,
    /// A field holds a value the format does not allow.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A checksum did not verify.
    #[error("bad checksum")]
    Checksum,
    /// Well formed, but of a kind this layer does not handle (e.g. an EtherType).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The output buffer is too small for what is to be emitted.
    #[error("output buffer too small")]
    BufferTooSmall,
}

/// Result with the wire layer's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
