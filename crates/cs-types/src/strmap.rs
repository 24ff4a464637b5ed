//! [`StrMap`]: the `map[string]string` of an event, kept as one vector of entries sorted by key.
//!
//! An event's maps hold a few to a few dozen short entries, are filled once by the parsers,
//! read many times by filters and dropped with the event. A sorted vector serves that better
//! than a B-tree: one allocation per map, lookups that first compare lengths (most keys are
//! told apart without comparing their bytes), and a drop that frees one buffer. Iteration is
//! in key order, as a `BTreeMap`'s.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::Text;

/// A map from text to text, sorted by key (byte order, as `str`'s `Ord`).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrMap {
    entries: Vec<(Text, Text)>,
}

/// Entries a map makes room for on its first insert.
const FIRST_CAPACITY: usize = 8;

/// Byte-order comparison written out, so that the short keys of a map are compared inline
/// rather than through a call to `memcmp`.
#[inline]
fn compare(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

impl StrMap {
    /// An empty map (no allocation).
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry, keeping the allocation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Index of `key`'s entry.
    #[inline]
    fn find(&self, key: &str) -> Option<usize> {
        let key = key.as_bytes();
        self.entries.iter().position(|(k, _)| {
            let k = k.as_bytes();
            k.len() == key.len() && compare(k, key) == Ordering::Equal
        })
    }

    /// Where `key` is or would go.
    fn search(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _)| compare(k.as_bytes(), key.as_bytes()))
    }

    /// The value of `key`.
    #[inline]
    pub fn get<Q: Borrow<str> + ?Sized>(&self, key: &Q) -> Option<&Text> {
        self.find(key.borrow()).map(|i| &self.entries[i].1)
    }

    /// The value of `key`, to change it in place.
    #[inline]
    pub fn get_mut<Q: Borrow<str> + ?Sized>(&mut self, key: &Q) -> Option<&mut Text> {
        self.find(key.borrow()).map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` has an entry.
    pub fn contains_key<Q: Borrow<str> + ?Sized>(&self, key: &Q) -> bool {
        self.find(key.borrow()).is_some()
    }

    /// Sets `key` to `value`; the previous value, if any.
    pub fn insert(&mut self, key: Text, value: Text) -> Option<Text> {
        if let Some(i) = self.find(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        self.insert_at(key, value);
        None
    }

    /// Inserts a key known to be new at its place. A map's first entry makes room for a few
    /// more: an event's maps are filled a handful of entries at a time.
    fn insert_at(&mut self, key: Text, value: Text) {
        let at = self.search(&key).unwrap_or_else(|at| at);
        if self.entries.capacity() == 0 {
            self.entries.reserve_exact(FIRST_CAPACITY);
        }
        self.entries.insert(at, (key, value));
    }

    /// Sets `key` to `value`, copying the key only when it is new.
    pub fn set(&mut self, key: &str, value: impl Into<Text>) {
        match self.find(key) {
            Some(i) => self.entries[i].1 = value.into(),
            None => self.insert_at(Text::from(key), value.into()),
        }
    }

    /// Sets every `(key, value)` of `pairs`, as [`StrMap::set`] one after the other would.
    /// Pairs whose keys ascend (a grok's fields, another map's entries) are merged with the
    /// map's entries in one pass; a key that does not follow its predecessor is set on its own.
    pub fn merge<'a>(&mut self, pairs: impl ExactSizeIterator<Item = (&'a str, &'a str)>) {
        let mut late: Vec<(&str, &str)> = Vec::new();
        let mut prev: Option<&str> = None;
        let mut ascending = |k: &'a str, v: &'a str| {
            let ok = prev.is_none_or(|p| compare(p.as_bytes(), k.as_bytes()) == Ordering::Less);
            if ok {
                prev = Some(k);
            } else {
                late.push((k, v));
            }
            ok
        };
        if self.entries.is_empty() {
            self.entries.reserve_exact(pairs.len().max(FIRST_CAPACITY));
            for (k, v) in pairs {
                if ascending(k, v) {
                    self.entries.push((Text::from(k), Text::from(v)));
                }
            }
        } else {
            let mut out = Vec::with_capacity(self.entries.len() + pairs.len());
            let mut old = std::mem::take(&mut self.entries).into_iter().peekable();
            for (k, v) in pairs {
                if !ascending(k, v) {
                    continue;
                }
                while let Some(e) =
                    old.next_if(|(ok, _)| compare(ok.as_bytes(), k.as_bytes()) == Ordering::Less)
                {
                    out.push(e);
                }
                match old.next_if(|(ok, _)| ok.as_bytes() == k.as_bytes()) {
                    Some((ok, _)) => out.push((ok, Text::from(v))),
                    None => out.push((Text::from(k), Text::from(v))),
                }
            }
            out.extend(old);
            self.entries = out;
        }
        for (k, v) in late {
            self.set(k, v);
        }
    }

    /// Removes `key`; its value, if it had one.
    pub fn remove<Q: Borrow<str> + ?Sized>(&mut self, key: &Q) -> Option<Text> {
        let i = self.find(key.borrow())?;
        Some(self.entries.remove(i).1)
    }

    /// Keeps only the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Text, &mut Text) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// Entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// Entries in key order, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Text, &mut Text)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Text> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Text> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Builds a map from entries, kept as they are when sorted by key without repeats (as a
    /// map's own iteration yields them), sorted otherwise, the last of repeated keys winning.
    fn from_entries(mut entries: Vec<(Text, Text)>) -> Self {
        let sorted = entries
            .windows(2)
            .all(|w| compare(w[0].0.as_bytes(), w[1].0.as_bytes()) == Ordering::Less);
        if !sorted {
            // Later entries win, as repeated inserts would have it.
            entries.reverse();
            entries.sort_by(|a, b| compare(a.0.as_bytes(), b.0.as_bytes()));
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        Self { entries }
    }
}

/// Iterator over a [`StrMap`]'s entries, in key order.
#[derive(Clone)]
pub struct Iter<'a>(std::slice::Iter<'a, (Text, Text)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Text, &'a Text);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a StrMap {
    type Item = (&'a Text, &'a Text);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for StrMap {
    type Item = (Text, Text);
    type IntoIter = std::vec::IntoIter<(Text, Text)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(Text, Text)> for StrMap {
    fn from_iter<I: IntoIterator<Item = (Text, Text)>>(iter: I) -> Self {
        Self::from_entries(iter.into_iter().collect())
    }
}

impl Extend<(Text, Text)> for StrMap {
    fn extend<I: IntoIterator<Item = (Text, Text)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<const N: usize> From<[(Text, Text); N]> for StrMap {
    fn from(entries: [(Text, Text); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<Q: Borrow<str> + ?Sized> std::ops::Index<&Q> for StrMap {
    type Output = Text;

    /// The value of `key`; panics when there is none, as a `BTreeMap`.
    fn index(&self, key: &Q) -> &Text {
        self.get(key).expect("no entry found for key")
    }
}

impl fmt::Debug for StrMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for StrMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k.as_str(), v.as_str())?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for StrMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;

        impl<'de> Visitor<'de> for MapVisitor {
            type Value = StrMap;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrMap, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(256));
                while let Some(entry) = access.next_entry::<Text, Text>()? {
                    entries.push(entry);
                }
                Ok(StrMap::from_entries(entries))
            }
        }

        deserializer.deserialize_map(MapVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_sorted_and_unique_whatever_the_insertion_order() {
        let mut m = StrMap::new();
        for (k, v) in [("b", "1"), ("a", "2"), ("ab", "3"), ("", "4"), ("b", "5")] {
            m.insert(k.into(), v.into());
        }
        let got: Vec<(&str, &str)> = m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("", "4"), ("a", "2"), ("ab", "3"), ("b", "5")]);
        assert_eq!(m.get("ab").map(Text::as_str), Some("3"));
        assert_eq!(m.get("abc"), None);
        assert_eq!(m.remove("a").as_deref(), Some("2"));
        assert!(!m.contains_key("a"));
        m.set("a", "6");
        m.set("ab", "7");
        assert_eq!(m["a"], "6");
        assert_eq!(m["ab"], "7");
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn the_order_is_that_of_a_btree_map_of_strings() {
        let keys = [
            "é", "z", "Z", "zz", "a\u{0}", "a", "", "10", "9", "ÿ", "a b",
        ];
        let map: StrMap = keys.iter().map(|k| ((*k).into(), (*k).into())).collect();
        let mut expected: Vec<&str> = keys.to_vec();
        expected.sort();
        assert_eq!(map.keys().map(Text::as_str).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_collected_or_decoded_map_keeps_the_last_of_repeated_keys() {
        let map: StrMap = [("k", "1"), ("j", "x"), ("k", "2")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert_eq!(map.len(), 2);
        assert_eq!(map["k"], "2");
        let decoded: StrMap = serde_json::from_str(r#"{"k":"1","a":"b","k":"3"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&decoded).unwrap(),
            r#"{"a":"b","k":"3"}"#
        );
    }

    #[test]
    fn a_merge_sets_the_pairs_as_one_set_after_the_other() {
        let start: StrMap = [("b", "old"), ("d", "old"), ("zz", "old")]
            .into_iter()
            .map(|(k, v)| (Text::from(k), Text::from(v)))
            .collect();
        let cases: [&[(&str, &str)]; 5] = [
            &[("a", "1"), ("b", "2"), ("c", ""), ("z", "3"), ("zzz", "4")],
            &[("b", "1"), ("d", "2"), ("zz", "3")],
            &[("d", "1"), ("a", "2"), ("d", "3"), ("b", "4"), ("e", "5")],
            &[("", "1"), ("zz", "2"), ("zz", "3")],
            &[],
        ];
        for pairs in cases {
            for base in [StrMap::new(), start.clone()] {
                let mut merged = base.clone();
                merged.merge(pairs.iter().copied());
                let mut expected = base;
                for &(k, v) in pairs {
                    expected.set(k, v);
                }
                assert_eq!(merged, expected, "{pairs:?}");
                assert!(
                    merged.keys().zip(merged.keys().skip(1)).all(|(a, b)| a < b),
                    "{merged:?}"
                );
            }
        }
    }
}
