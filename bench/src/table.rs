//! Per-connection application state indexed by the stack's connection id.
//!
//! A [`ConnId`] is a slab key (slot index + generation), so a vector indexed
//! by the slot, checked against the generation, maps it to the
//! application's state without hashing.

use mptfo_engine::stack::ConnId;

/// Application state of live connections, keyed by [`ConnId`].
#[derive(Debug)]
pub struct ConnTable<T> {
    slots: Vec<Option<(u32, T)>>,
    len: usize,
}

impl<T> Default for ConnTable<T> {
    fn default() -> Self {
        ConnTable {
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<T> ConnTable<T> {
    /// Stores `value` for `conn` (replacing a stale entry of an older
    /// connection in the same slot).
    pub fn insert(&mut self, conn: ConnId, value: T) {
        let i = conn.index as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].is_none() {
            self.len += 1;
        }
        self.slots[i] = Some((conn.gen, value));
    }

    /// The state of `conn`, if it is known.
    pub fn get_mut(&mut self, conn: ConnId) -> Option<&mut T> {
        match self.slots.get_mut(conn.index as usize) {
            Some(Some((gen, v))) if *gen == conn.gen => Some(v),
            _ => None,
        }
    }

    /// Removes and returns the state of `conn`.
    pub fn remove(&mut self, conn: ConnId) -> Option<T> {
        let slot = self.slots.get_mut(conn.index as usize)?;
        match slot {
            Some((gen, _)) if *gen == conn.gen => {
                self.len -= 1;
                slot.take().map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// Every stored connection and its state.
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, &T)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.as_ref().map(|(gen, v)| {
                (
                    ConnId {
                        index: i as u32,
                        gen: *gen,
                    },
                    v,
                )
            })
        })
    }

    /// Number of connections stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no connection is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mptfo_engine::slab::Key;

    #[test]
    fn generation_is_checked() {
        let mut t = ConnTable::default();
        let a = Key { index: 3, gen: 1 };
        let b = Key { index: 3, gen: 2 };
        t.insert(a, "a");
        assert_eq!(t.len(), 1);
        assert!(t.get_mut(b).is_none());
        assert!(t.remove(b).is_none());
        assert_eq!(t.remove(a), Some("a"));
        assert!(t.is_empty());
        t.insert(b, "b");
        assert_eq!(t.get_mut(b).copied(), Some("b"));
    }
}
