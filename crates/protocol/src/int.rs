//! Integers as the protocol takes them: at most 2^53 − 1 ([`crate::limits::MAX_SAFE_INTEGER`]),
//! the largest a JavaScript client can hold exactly. A larger one is refused when the frame is
//! parsed (`bad_frame`), so no handler ever meets a seq it cannot store or compare.

use crate::limits::MAX_SAFE_INTEGER;
use serde::de::Error;
use serde::{Deserialize, Deserializer};

fn check<E: Error>(n: u64) -> Result<u64, E> {
    if n > MAX_SAFE_INTEGER {
        return Err(E::custom(format!(
            "{n} is above 2^53 - 1, the largest integer the protocol takes"
        )));
    }
    Ok(n)
}

pub(crate) fn safe<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    check(u64::deserialize(d)?)
}

pub(crate) fn safe_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)?.map(check).transpose()
}
