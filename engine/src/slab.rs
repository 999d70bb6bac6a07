//! Per-core arenas with generation-checked keys.
//!
//! Owns the storage of every long-lived object of a worker (subflows, MPTCP
//! connections, pending TFO entries, timers): each is a slot in a [`Slab`],
//! named by a [`Key`]. Tables (4-tuple, token) map to keys, not to pointers
//! or `Rc`s.
//!
//! A key carries the generation of its slot. Removing a value bumps the
//! generation, so a key kept past the removal (a stale timer, a table entry
//! not yet cleaned up) finds nothing even after the slot is reused, instead
//! of finding an unrelated object. A slot whose generation would wrap is
//! retired (never reused), so a stale key can never match again.
//!
//! Free slots form a LIFO list (the most recently freed slot is reused first,
//! which keeps the working set warm in cache). No unsafe code.

use core::fmt;

/// Names one value in a [`Slab`]: slot index plus the slot's generation at
/// insertion time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Slot index in the slab.
    pub index: u32,
    /// Generation of the slot when the value was inserted.
    pub gen: u32,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}v{})", self.index, self.gen)
    }
}

/// End-of-list marker for the free list.
const NIL: u32 = u32::MAX;

#[derive(Clone)]
enum Slot<T> {
    Occupied {
        gen: u32,
        value: T,
    },
    /// `gen` is the generation the next value in this slot will get.
    Vacant {
        gen: u32,
        next_free: u32,
    },
    /// Generation space exhausted; never reused.
    Retired,
}

/// An arena of `T` addressed by generation-checked [`Key`]s.
#[derive(Clone)]
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for Slab<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<T> Slab<T> {
    /// An empty slab; allocates on first insert.
    pub const fn new() -> Slab<T> {
        Slab {
            slots: Vec::new(),
            free_head: NIL,
            len: 0,
        }
    }

    /// An empty slab with room for `capacity` values before reallocating
    /// (preallocate at worker start-up to keep the hot path allocation-free).
    pub fn with_capacity(capacity: usize) -> Slab<T> {
        Slab {
            slots: Vec::with_capacity(capacity),
            free_head: NIL,
            len: 0,
        }
    }

    /// Number of values stored.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slab holds no value.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of values the slab can hold without reallocating.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Reserve room for `additional` more slots.
    pub fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
    }

    /// The key the next [`insert`](Self::insert) will return.
    pub fn vacant_key(&self) -> Key {
        if self.free_head != NIL {
            match self.slots[self.free_head as usize] {
                Slot::Vacant { gen, .. } => Key {
                    index: self.free_head,
                    gen,
                },
                _ => unreachable!("free list points at a non-vacant slot"),
            }
        } else {
            let index = u32::try_from(self.slots.len()).expect("slab index space exhausted");
            assert!(index != NIL, "slab index space exhausted");
            Key { index, gen: 0 }
        }
    }

    /// Store `value`; returns its key.
    pub fn insert(&mut self, value: T) -> Key {
        self.insert_with(|_| value)
    }

    /// Store the value built by `make`, which is told the value's key first
    /// (for objects that must know their own key, e.g. to arm timers).
    pub fn insert_with(&mut self, make: impl FnOnce(Key) -> T) -> Key {
        let key = self.vacant_key();
        let value = make(key);
        if key.index == self.free_head {
            let Slot::Vacant { next_free, .. } = self.slots[key.index as usize] else {
                unreachable!("free list points at a non-vacant slot");
            };
            self.free_head = next_free;
            self.slots[key.index as usize] = Slot::Occupied {
                gen: key.gen,
                value,
            };
        } else {
            self.slots.push(Slot::Occupied { gen: 0, value });
        }
        self.len += 1;
        key
    }

    /// The value named by `key`, if it is still there.
    #[inline]
    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize) {
            Some(Slot::Occupied { gen, value }) if *gen == key.gen => Some(value),
            _ => None,
        }
    }

    /// The value named by `key`, mutably, if it is still there.
    #[inline]
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize) {
            Some(Slot::Occupied { gen, value }) if *gen == key.gen => Some(value),
            _ => None,
        }
    }

    /// Whether `key` names a live value.
    #[inline]
    pub fn contains(&self, key: Key) -> bool {
        self.get(key).is_some()
    }

    /// Remove and return the value named by `key`; `None` (and no change) if
    /// the key is stale.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Occupied { gen, .. } if *gen == key.gen => {}
            _ => return None,
        }
        let next = if key.gen == u32::MAX {
            Slot::Retired
        } else {
            Slot::Vacant {
                gen: key.gen + 1,
                next_free: self.free_head,
            }
        };
        let old = core::mem::replace(slot, next);
        if key.gen != u32::MAX {
            self.free_head = key.index;
        }
        self.len -= 1;
        match old {
            Slot::Occupied { value, .. } => Some(value),
            _ => unreachable!(),
        }
    }

    /// Remove the value named by `key` and drop it where it lies (no move
    /// out of the slab, unlike [`Slab::remove`]); false (and no change) if
    /// the key is stale.
    pub fn delete(&mut self, key: Key) -> bool {
        let Some(slot) = self.slots.get_mut(key.index as usize) else {
            return false;
        };
        match slot {
            Slot::Occupied { gen, .. } if *gen == key.gen => {}
            _ => return false,
        }
        // Assigning drops the old value in place.
        *slot = if key.gen == u32::MAX {
            Slot::Retired
        } else {
            Slot::Vacant {
                gen: key.gen + 1,
                next_free: self.free_head,
            }
        };
        if key.gen != u32::MAX {
            self.free_head = key.index;
        }
        self.len -= 1;
        true
    }

    /// Remove every value. Keys issued before stay invalid: generations are
    /// kept, only the values go.
    pub fn clear(&mut self) {
        let keys: Vec<Key> = self.iter().map(|(k, _)| k).collect();
        for k in keys {
            self.remove(k);
        }
    }

    /// Keep only the values for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(Key, &mut T) -> bool) {
        for index in 0..self.slots.len() {
            let drop_key = match &mut self.slots[index] {
                Slot::Occupied { gen, value } => {
                    let key = Key {
                        index: index as u32,
                        gen: *gen,
                    };
                    (!keep(key, value)).then_some(key)
                }
                _ => None,
            };
            if let Some(key) = drop_key {
                self.remove(key);
            }
        }
    }

    /// Live values with their keys, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &T)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Occupied { gen, value } => Some((
                Key {
                    index: i as u32,
                    gen: *gen,
                },
                value,
            )),
            _ => None,
        })
    }

    /// Live values, mutably, with their keys, in slot order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Key, &mut T)> + '_ {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Occupied { gen, value } => Some((
                    Key {
                        index: i as u32,
                        gen: *gen,
                    },
                    value,
                )),
                _ => None,
            })
    }

    /// The live value in slot `index` whatever its generation (for
    /// intrusive links inside this crate, which are kept consistent).
    #[inline]
    pub(crate) fn get_by_index(&self, index: u32) -> Option<&T> {
        match self.slots.get(index as usize) {
            Some(Slot::Occupied { value, .. }) => Some(value),
            _ => None,
        }
    }

    /// Mutable form of [`get_by_index`](Self::get_by_index).
    #[inline]
    pub(crate) fn get_by_index_mut(&mut self, index: u32) -> Option<&mut T> {
        match self.slots.get_mut(index as usize) {
            Some(Slot::Occupied { value, .. }) => Some(value),
            _ => None,
        }
    }

    /// The full key of the live value in slot `index`.
    #[inline]
    pub(crate) fn key_of_index(&self, index: u32) -> Option<Key> {
        match self.slots.get(index as usize) {
            Some(Slot::Occupied { gen, .. }) => Some(Key { index, gen: *gen }),
            _ => None,
        }
    }
}

/// Indexing with a key the caller knows is live (just looked up or
/// inserted); a stale key is a bug and panics.
impl<T> core::ops::Index<Key> for Slab<T> {
    type Output = T;
    #[inline]
    fn index(&self, key: Key) -> &T {
        self.get(key).expect("stale slab key")
    }
}

impl<T> core::ops::IndexMut<Key> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, key: Key) -> &mut T {
        self.get_mut(key).expect("stale slab key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn insert_get_remove() {
        let mut s = Slab::with_capacity(4);
        assert!(s.capacity() >= 4);
        let a = s.insert("a");
        let b = s.insert("b");
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(a), Some(&"a"));
        *s.get_mut(b).unwrap() = "B";
        assert_eq!(s.remove(b), Some("B"));
        assert_eq!(s.remove(b), None);
        assert_eq!(s.get(b), None);
        // The freed slot is reused with a new generation: the old key stays dead.
        let c = s.insert("c");
        assert_eq!(c.index, b.index);
        assert_ne!(c.gen, b.gen);
        assert_eq!(s.get(b), None);
        assert_eq!(s.get_mut(b), None);
        assert_eq!(s.get(c), Some(&"c"));
        assert_eq!(s.len(), 2);
        let all: Vec<_> = s.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(all, vec![(a, "a"), (c, "c")]);
    }

    #[test]
    fn insert_with_sees_own_key() {
        let mut s = Slab::new();
        let k0 = s.insert_with(|k| k);
        assert_eq!(s.get(k0), Some(&k0));
        s.remove(k0);
        let k1 = s.insert_with(|k| k);
        assert_eq!(s.get(k1), Some(&k1));
        assert_ne!(k0, k1);
    }

    #[test]
    fn out_of_range_key_is_none() {
        let mut s: Slab<u8> = Slab::new();
        let k = Key { index: 7, gen: 0 };
        assert!(s.get(k).is_none());
        assert!(s.remove(k).is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn generation_exhaustion_retires_slot() {
        let mut s = Slab::new();
        let k = s.insert(1u8);
        // Force the slot to the last generation.
        s.slots[0] = Slot::Occupied {
            gen: u32::MAX,
            value: 1,
        };
        let last = Key {
            index: 0,
            gen: u32::MAX,
        };
        assert_eq!(s.remove(last), Some(1));
        assert!(s.get(k).is_none());
        let n = s.insert(2);
        assert_eq!(n.index, 1, "retired slot must not be reused");
        assert!(s.get(last).is_none());
    }

    #[test]
    fn retain_and_clear() {
        let mut s = Slab::new();
        let keys: Vec<Key> = (0..10).map(|i| s.insert(i)).collect();
        s.retain(|_, v| *v % 2 == 0);
        assert_eq!(s.len(), 5);
        assert!(s.get(keys[1]).is_none());
        assert_eq!(s.get(keys[2]), Some(&2));
        for (_, v) in s.iter_mut() {
            *v += 100;
        }
        assert_eq!(s.get(keys[4]), Some(&104));
        s.clear();
        assert!(s.is_empty());
        assert!(s.get(keys[4]).is_none());
        let k = s.insert(0);
        assert!(keys.iter().all(|old| *old != k));
    }

    proptest! {
        #[test]
        fn matches_hashmap_model(ops in proptest::collection::vec((0u8..3, 0usize..64, any::<u16>()), 1..400)) {
            let mut slab = Slab::new();
            let mut model: HashMap<Key, u16> = HashMap::new();
            let mut issued: Vec<Key> = Vec::new();
            for (op, pick, val) in ops {
                match op {
                    0 => {
                        let k = slab.insert(val);
                        prop_assert!(!model.contains_key(&k));
                        prop_assert!(!issued.contains(&k), "key reissued");
                        model.insert(k, val);
                        issued.push(k);
                    }
                    1 if !issued.is_empty() => {
                        let k = issued[pick % issued.len()];
                        prop_assert_eq!(slab.remove(k), model.remove(&k));
                    }
                    _ if !issued.is_empty() => {
                        let k = issued[pick % issued.len()];
                        prop_assert_eq!(slab.get(k), model.get(&k));
                    }
                    _ => {}
                }
                prop_assert_eq!(slab.len(), model.len());
            }
            let mut got: Vec<(Key, u16)> = slab.iter().map(|(k, v)| (k, *v)).collect();
            let mut want: Vec<(Key, u16)> = model.into_iter().collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }
}
