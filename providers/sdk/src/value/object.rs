//! The map behind [`Value::Object`](super::Value::Object).
//!
//! A plan holds several copies of every object it looks at: the recorded state, what the
//! provider read back, the value expressions see, and both sides of each change. Most of
//! them never differ, so copies share one map and a copy is a reference count; the map is
//! copied only when one of its holders changes it (through `DerefMut`, as
//! [`Arc::make_mut`] does). Reading it is reading a `BTreeMap`.

use std::collections::BTreeMap;
use std::collections::btree_map;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::Value;

/// An object's or map's attributes, keys sorted, shared between copies.
#[derive(Clone, Default)]
pub struct Object(Arc<BTreeMap<String, Value>>);

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object::default()
    }

    /// The attributes as an owned map, copied only if another value shares them.
    pub fn into_map(self) -> BTreeMap<String, Value> {
        Arc::unwrap_or_clone(self.0)
    }

    /// True when both hold the very same map (a copy not changed since): equal without
    /// looking inside.
    pub fn shares(&self, other: &Object) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Object {
    type Target = BTreeMap<String, Value>;

    fn deref(&self) -> &BTreeMap<String, Value> {
        &self.0
    }
}

impl DerefMut for Object {
    fn deref_mut(&mut self) -> &mut BTreeMap<String, Value> {
        Arc::make_mut(&mut self.0)
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.shares(other) || *self.0 == *other.0
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<BTreeMap<String, Value>> for Object {
    fn from(map: BTreeMap<String, Value>) -> Object {
        Object(Arc::new(map))
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Object {
        Object(Arc::new(iter.into_iter().collect()))
    }
}

impl Extend<(String, Value)> for Object {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        Arc::make_mut(&mut self.0).extend(iter);
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = btree_map::IntoIter<String, Value>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_map().into_iter()
    }
}

impl<'a> IntoIterator for &'a Object {
    type Item = (&'a String, &'a Value);
    type IntoIter = btree_map::Iter<'a, String, Value>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a mut Object {
    type Item = (&'a String, &'a mut Value);
    type IntoIter = btree_map::IterMut<'a, String, Value>;

    fn into_iter(self) -> Self::IntoIter {
        Arc::make_mut(&mut self.0).iter_mut()
    }
}
