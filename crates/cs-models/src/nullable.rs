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

/// A `float32` that may be `null` (zero); a number outside `f32`'s range is refused, as Go's decoder
/// does, instead of becoming an infinity that would be written back as `null`.
pub(crate) fn null_default_f32<'de, D>(deserializer: D) -> Result<f32, D::Error>
where
    D: Deserializer<'de>,
{
    let Some(v) = Option::<f64>::deserialize(deserializer)? else {
        return Ok(0.0);
    };
    // The cast rounds to the nearest f32; only out-of-range values become infinite.
    let f = v as f32;
    if f.is_finite() {
        Ok(f)
    } else {
        Err(serde::de::Error::custom(format!(
            "number {v} overflows float32"
        )))
    }
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
