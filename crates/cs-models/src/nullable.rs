//! Serde helpers reproducing Go's JSON decoding and `omitempty` rules.

use serde::{Deserialize, Deserializer};

/// Deserializes `null` as the type's default value, as Go leaves the zero value in place.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `omitempty` for integers.
pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// `omitempty` for 32-bit floats (Go omits exactly `0`).
pub(crate) fn is_zero_f32(v: &f32) -> bool {
    *v == 0.0
}

/// `omitempty` for booleans.
pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}
