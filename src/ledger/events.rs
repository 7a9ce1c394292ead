//! The append-only, hash-chained event log: every change of a purchase, in order, tamper-evident.
//!
//! Each event is stored as the JSON text of its body with `,"hash":"<64 hex>"` spliced in before the final
//! `}`. The hash is SHA-256 over the previous event's hash (32 raw bytes; 32 zero bytes before the first
//! event) followed by the body bytes exactly as stored, so verification never depends on re-serializing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, ConflictableTransactionResult, TransactionalTree};

use super::keys::{event_key, id_from_time_index_key, time_index_key, u64_from};
use super::{decode_record, Ledger, LedgerError};
use crate::domain::{CustomId, PurchaseRecord};

/// 64 hex zeros: the `prev_hash` of the first event.
pub(crate) const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub(super) const META_NEXT_SEQ: &str = "events.next_seq";
pub(super) const META_LAST_HASH: &str = "events.last_hash";

/// `,"hash":"` + 64 hex digits + `"}`.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The purchase was recorded (state pending, budget reserved).
    Intent,
    /// The purchase changed state.
    Transition,
}

/// One event as stored. `record` is the full purchase record after the event, so the log alone can
/// rebuild (and check) the `purchases` tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub custom_id: CustomId,
    pub kind: EventKind,
    /// The state label after the event (`pending`, `waiting_accept`, …).
    pub state: String,
    pub detail: String,
    pub record: PurchaseRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// The hashed part of an event; field order here is the stored (and hashed) order.
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    at: DateTime<Utc>,
    custom_id: &'a CustomId,
    kind: EventKind,
    state: &'a str,
    detail: &'a str,
    record: &'a PurchaseRecord,
    prev_hash: &'a str,
}

fn chain_hash(prev_hash: &str, body: &[u8]) -> Option<String> {
    let prev = hex::decode(prev_hash).ok().filter(|p| p.len() == 32)?;
    let mut hasher = Sha256::new();
    hasher.update(&prev);
    hasher.update(body);
    Some(hex::encode(hasher.finalize()))
}

/// Appends events inside a sled transaction: reads the chain head from `meta` once, writes it back at the
/// end, so a batch of intents is one run of consecutive events.
pub(super) struct Appender<'t> {
    events: &'t TransactionalTree,
    meta: &'t TransactionalTree,
    next_seq: u64,
    last_hash: String,
}

type TxResult<T> = ConflictableTransactionResult<T, LedgerError>;

fn abort<T>(e: LedgerError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

impl<'t> Appender<'t> {
    pub fn start(events: &'t TransactionalTree, meta: &'t TransactionalTree) -> TxResult<Self> {
        let next_seq = match meta.get(META_NEXT_SEQ)? {
            Some(v) => match u64_from("meta", META_NEXT_SEQ, &v) {
                Ok(n) => n,
                Err(e) => return abort(e),
            },
            None => 1,
        };
        let last_hash = match meta.get(META_LAST_HASH)? {
            Some(v) => match String::from_utf8(v.to_vec()) {
                Ok(h) => h,
                Err(_) => {
                    return abort(LedgerError::Corrupt {
                        tree: "meta",
                        key: META_LAST_HASH.into(),
                        reason: "not UTF-8".into(),
                    })
                }
            },
            None => GENESIS_HASH.to_string(),
        };
        Ok(Appender { events, meta, next_seq, last_hash })
    }

    pub fn append(
        &mut self,
        at: DateTime<Utc>,
        kind: EventKind,
        detail: &str,
        record: &PurchaseRecord,
    ) -> TxResult<()> {
        let custom_id = &record.intent.custom_id;
        let body = Body {
            seq: self.next_seq,
            at,
            custom_id,
            kind,
            state: record.state.label(),
            detail,
            record,
            prev_hash: &self.last_hash,
        };
        let mut bytes = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => {
                return abort(LedgerError::InvalidRecord {
                    custom_id: custom_id.clone(),
                    reason: format!("cannot be encoded: {e}"),
                })
            }
        };
        let Some(hash) = chain_hash(&self.last_hash, &bytes) else {
            return abort(LedgerError::Corrupt {
                tree: "meta",
                key: META_LAST_HASH.into(),
                reason: "not a 64-digit hex hash".into(),
            });
        };
        // `bytes` is a JSON object, so it ends with '}'.
        bytes.pop();
        bytes.extend_from_slice(format!(",\"hash\":\"{hash}\"}}").as_bytes());
        self.events.insert(&event_key(self.next_seq), bytes)?;
        self.next_seq += 1;
        self.last_hash = hash;
        Ok(())
    }

    pub fn finish(self) -> TxResult<()> {
        self.meta.insert(META_NEXT_SEQ, &self.next_seq.to_be_bytes())?;
        self.meta.insert(META_LAST_HASH, self.last_hash.as_bytes())?;
        Ok(())
    }
}

/// Checks one stored event against the running chain head; returns it parsed.
fn check_event(seq: u64, value: &[u8], prev_hash: &str) -> Result<Event, LedgerError> {
    let broken = |reason: String| LedgerError::ChainBroken { seq, reason };
    let split = value.len().checked_sub(HASH_SUFFIX_LEN).ok_or_else(|| broken("event too short".into()))?;
    let (head, suffix) = value.split_at(split);
    let stored_hash = suffix
        .strip_prefix(b",\"hash\":\"")
        .and_then(|s| s.strip_suffix(b"\"}"))
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| broken("the event has no hash at its end".into()))?;
    let mut body = head.to_vec();
    body.push(b'}');
    let computed = chain_hash(prev_hash, &body).ok_or_else(|| broken("previous hash is not hex".into()))?;
    if computed != stored_hash {
        return Err(broken(format!("stored hash {stored_hash} but the event hashes to {computed}: it was changed")));
    }
    let event: Event = serde_json::from_slice(value).map_err(|e| broken(format!("the event is not readable: {e}")))?;
    if event.seq != seq {
        return Err(broken(format!("stored under sequence {seq} but says {}", event.seq)));
    }
    if event.prev_hash != prev_hash {
        return Err(broken("its prev_hash does not link to the previous event".into()));
    }
    if event.custom_id != event.record.intent.custom_id {
        return Err(broken("its custom_id differs from its record's".into()));
    }
    Ok(event)
}

impl Ledger {
    /// The event log, oldest first, parsed but not verified (see [`Ledger::verify_chain`]).
    pub fn events(&self) -> impl Iterator<Item = Result<Event, LedgerError>> + '_ {
        self.events_from(0)
    }

    /// The events with a sequence number of `seq` or more, oldest first: how a reader that has seen
    /// the log up to some point catches up without reading it all again.
    pub(crate) fn events_from(&self, seq: u64) -> impl Iterator<Item = Result<Event, LedgerError>> + '_ {
        self.events.range(super::keys::event_key(seq)..).map(move |item| {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            serde_json::from_slice(&value).map_err(|e| LedgerError::Corrupt {
                tree: "events",
                key: hex::encode(&key),
                reason: format!("not an event: {e}"),
            })
        })
    }

    /// The number of events and the hash of the last one (`GENESIS_HASH` when there are none): worth
    /// writing down elsewhere, since a log rewritten from the start with fresh hashes verifies.
    pub fn chain_head(&self) -> Result<(u64, String), LedgerError> {
        let next_seq = match self.meta.get(META_NEXT_SEQ).map_err(|e| self.storage(e))? {
            Some(v) => u64_from("meta", META_NEXT_SEQ, &v)?,
            None => 1,
        };
        let head = match self.meta.get(META_LAST_HASH).map_err(|e| self.storage(e))? {
            Some(v) => String::from_utf8(v.to_vec()).map_err(|_| LedgerError::Corrupt {
                tree: "meta",
                key: META_LAST_HASH.into(),
                reason: "not UTF-8".into(),
            })?,
            None => GENESIS_HASH.to_string(),
        };
        Ok((next_seq.saturating_sub(1), head))
    }

    /// Walks the event log from the first event: every sequence number present, every hash right, every
    /// link to the previous hash right, the chain head in `meta` equal to the last event; then checks that
    /// the `purchases` tree and its indexes hold exactly the last snapshot of each purchase. Returns the
    /// number of events.
    pub fn verify_chain(&self) -> Result<u64, LedgerError> {
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut count = 0u64;
        let mut latest: BTreeMap<CustomId, PurchaseRecord> = BTreeMap::new();
        for item in self.events.iter() {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            let expected = count + 1;
            let seq = u64_from("events", &hex::encode(&key), &key)?;
            if seq != expected {
                return Err(LedgerError::ChainBroken { seq: expected, reason: format!("missing; next is {seq}") });
            }
            let event = check_event(seq, &value, &prev_hash)?;
            prev_hash = event.hash;
            latest.insert(event.custom_id, event.record);
            count = seq;
        }
        let (logged, head) = self.chain_head()?;
        if logged != count || head != prev_hash {
            return Err(LedgerError::ChainBroken {
                seq: count,
                reason: format!(
                    "the log ends at event {count} but the ledger's head says event {logged} (hash {head}): \
                     events were removed or replaced"
                ),
            });
        }
        self.check_purchases_against(&latest)?;
        Ok(count)
    }

    fn check_purchases_against(&self, latest: &BTreeMap<CustomId, PurchaseRecord>) -> Result<(), LedgerError> {
        let mismatch =
            |id: &str, reason: &str| LedgerError::RecordMismatch { custom_id: id.to_string(), reason: reason.into() };
        let mut seen = 0usize;
        for item in self.purchases.iter() {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            let record = decode_record(&key, &value)?;
            let id = record.intent.custom_id.as_str();
            match latest.get(&record.intent.custom_id) {
                None => return Err(mismatch(id, "it has no event")),
                Some(logged) if *logged != record => {
                    return Err(mismatch(id, "the stored record differs from its last event's snapshot"))
                }
                Some(_) => {}
            }
            let index_key = time_index_key(record.created_at, &record.intent.custom_id);
            if !self.by_time.contains_key(&index_key).map_err(|e| self.storage(e))? {
                return Err(mismatch(id, "missing from the time index"));
            }
            let open = self.open.contains_key(&index_key).map_err(|e| self.storage(e))?;
            if open == record.state.is_final() {
                return Err(mismatch(id, "the open-purchases index disagrees with its state"));
            }
            seen += 1;
        }
        if seen != latest.len() {
            let missing = latest.keys().find(|id| !self.purchases.contains_key(id.as_str()).unwrap_or(false));
            let id = missing.map(|id| id.as_str()).unwrap_or("?");
            return Err(mismatch(id, "it has events but no record in `purchases`"));
        }
        for (tree, name) in [(&self.by_time, "by_time"), (&self.open, "open")] {
            let entries = tree.len();
            if name == "by_time" && entries != seen {
                return Err(mismatch("?", "the time index has entries for purchases that do not exist"));
            }
            for item in tree.iter().keys() {
                let key = item.map_err(|e| self.storage(e))?;
                let id = id_from_time_index_key(name, &key)?;
                if !latest.contains_key(&id) {
                    return Err(mismatch(id.as_str(), "indexed but not recorded"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_the_previous_hash_and_the_body() {
        let a = chain_hash(GENESIS_HASH, b"{\"x\":1}").unwrap();
        let b = chain_hash(GENESIS_HASH, b"{\"x\":2}").unwrap();
        let c = chain_hash(&a, b"{\"x\":1}").unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(chain_hash("zz", b"{}").is_none());
    }

    #[test]
    fn a_value_without_its_hash_suffix_is_a_broken_chain() {
        assert!(matches!(check_event(1, b"{}", GENESIS_HASH), Err(LedgerError::ChainBroken { seq: 1, .. })));
        let junk = vec![b'x'; 100];
        assert!(matches!(check_event(3, &junk, GENESIS_HASH), Err(LedgerError::ChainBroken { seq: 3, .. })));
    }
}
