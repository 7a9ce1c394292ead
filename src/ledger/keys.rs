//! Key encodings. Every key is built so that sled's byte order is the order we scan in.
//!
//! - `purchases`: the custom id bytes. Ledger ids are `sb-YYYYMMDDTHHMMSSZ-NNNNNN`: a fixed-width UTC
//!   second and a fixed-width sequence within that second, so byte order is issue order.
//! - `by_time` / `open`: 8 bytes of `created_at` (microseconds, sign bit flipped, big-endian) followed by
//!   the custom id bytes; the value is empty. Time order that does not depend on how an id was made.
//! - `events`: the event sequence number, u64 big-endian.
//! - `prices`: `game` + 0x00 + name + 0x00 + unix seconds (u64 big-endian).

use chrono::{DateTime, Utc};

use super::LedgerError;
use crate::domain::{CustomId, Game};

/// Sequence numbers within one second of custom ids: six digits, so the width never changes.
pub(crate) const ID_SEQ_LIMIT: u32 = 1_000_000;

pub fn custom_id(second: i64, seq: u32) -> Result<CustomId, LedgerError> {
    let at = DateTime::<Utc>::from_timestamp(second, 0)
        .ok_or_else(|| LedgerError::TimeOutOfRange { at: format!("unix second {second}") })?;
    let text = format!("sb-{}-{seq:06}", at.format("%Y%m%dT%H%M%SZ"));
    // Always valid (ASCII letters, digits and '-'), but parse rather than build around the checks.
    text.parse().map_err(|e: crate::domain::ids::IdError| LedgerError::TimeOutOfRange { at: e.to_string() })
}

/// `created_at` as an 8-byte big-endian key prefix that sorts like the time (negative times included).
pub(crate) fn time_prefix(at: DateTime<Utc>) -> [u8; 8] {
    // Flipping the sign bit maps signed order onto unsigned byte order.
    (at.timestamp_micros() ^ i64::MIN).to_be_bytes()
}

pub(crate) fn time_index_key(at: DateTime<Utc>, id: &CustomId) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.as_str().len());
    key.extend_from_slice(&time_prefix(at));
    key.extend_from_slice(id.as_str().as_bytes());
    key
}

/// The custom id inside a `by_time` / `open` key.
pub(crate) fn id_from_time_index_key(tree: &'static str, key: &[u8]) -> Result<CustomId, LedgerError> {
    let corrupt = |reason: &str| LedgerError::Corrupt { tree, key: hex::encode(key), reason: reason.to_string() };
    let id = key.get(8..).ok_or_else(|| corrupt("key shorter than its 8-byte time prefix"))?;
    let id = std::str::from_utf8(id).map_err(|_| corrupt("custom id is not UTF-8"))?;
    id.parse().map_err(|_| corrupt("not a valid custom id"))
}

pub(crate) fn event_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(crate) fn u64_from(tree: &'static str, key: &str, bytes: &[u8]) -> Result<u64, LedgerError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| LedgerError::Corrupt {
        tree,
        key: key.to_string(),
        reason: format!("expected 8 bytes, found {}", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
}

/// `game` 0x00 `name` 0x00: the prefix of every price entry of one item.
pub(crate) fn price_prefix(game: Game, name: &str) -> Result<Vec<u8>, LedgerError> {
    if name.as_bytes().contains(&0) {
        return Err(LedgerError::BadItemName { name: name.to_string(), reason: "it contains a NUL byte" });
    }
    let mut key = Vec::with_capacity(game.as_str().len() + name.len() + 10);
    key.extend_from_slice(game.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    Ok(key)
}

pub(crate) fn price_key(prefix: &[u8], second: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&second.to_be_bytes());
    key
}

/// Unix seconds of `at`, refused before 1970 (the key is unsigned).
pub(crate) fn unix_second(at: DateTime<Utc>) -> Result<u64, LedgerError> {
    u64::try_from(at.timestamp()).map_err(|_| LedgerError::TimeOutOfRange { at: at.to_rfc3339() })
}

/// The time of a price key whose item prefix is `prefix_len` bytes long.
pub(crate) fn price_key_second(key: &[u8], prefix_len: usize) -> Result<u64, LedgerError> {
    let rest = key.get(prefix_len..).unwrap_or_default();
    let shown = String::from_utf8_lossy(key).replace('\0', "\\0");
    u64_from("prices", &shown, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn custom_ids_sort_in_issue_order() {
        let a = custom_id(1_795_736_460, 42).unwrap();
        assert_eq!(a.as_str(), "sb-20261126T234100Z-000042");
        let b = custom_id(1_795_736_460, 100_000).unwrap();
        let c = custom_id(1_795_736_461, 0).unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn time_prefixes_sort_like_times_including_before_1970() {
        let times = [
            Utc.timestamp_opt(-5, 0).unwrap(),
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(0, 1_000).unwrap(),
            Utc.timestamp_opt(1_795_736_460, 0).unwrap(),
        ];
        for pair in times.windows(2) {
            assert!(time_prefix(pair[0]) < time_prefix(pair[1]));
        }
    }

    #[test]
    fn time_index_keys_give_back_their_custom_id() {
        let id: CustomId = "order-7".parse().unwrap();
        let key = time_index_key(Utc.timestamp_opt(10, 0).unwrap(), &id);
        assert_eq!(id_from_time_index_key("by_time", &key).unwrap(), id);
        assert!(matches!(id_from_time_index_key("by_time", &key[..5]), Err(LedgerError::Corrupt { .. })));
    }

    #[test]
    fn price_keys_group_by_item_and_sort_by_time() {
        let p = price_prefix(Game::Cs2, "AK-47 | Redline").unwrap();
        assert_eq!(&p[..4], b"cs2\0");
        let k1 = price_key(&p, 5);
        let k2 = price_key(&p, 256);
        assert!(k1 < k2);
        assert_eq!(price_key_second(&k2, p.len()).unwrap(), 256);
        // A name that is a prefix of another never mixes with it, thanks to the 0x00 separator.
        let longer = price_prefix(Game::Cs2, "AK-47 | Redline (FT)").unwrap();
        assert!(!price_key(&longer, 1).starts_with(&p));
        assert!(matches!(price_prefix(Game::Rust, "a\0b"), Err(LedgerError::BadItemName { .. })));
        assert!(unix_second(Utc.timestamp_opt(-1, 0).unwrap()).is_err());
    }
}
