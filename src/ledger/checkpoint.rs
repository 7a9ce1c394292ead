//! Checkpoints of what a reader derived from the event log up to some event, so that it resumes
//! there instead of replaying the whole log (a ledger of a million purchases holds two million
//! events, each with its full record).
//!
//! Stored in `meta` under `checkpoint.<reader>`: the next event sequence number (u64 BE), the hash
//! of the last event it covers (64 hex digits), then the reader's own bytes. A checkpoint whose
//! event is missing or has another hash (a log rewritten or cut since) is ignored, so a reader
//! never resumes from state that does not belong to this log.

use super::events::GENESIS_HASH;
use super::keys::event_key;
use super::{Ledger, LedgerError};

const HASH_LEN: usize = 64;

impl Ledger {
    /// Stores `state` as what `reader` derived from every event before `next_seq`. Not flushed:
    /// a checkpoint lost in a crash costs only a longer replay.
    pub(crate) fn save_checkpoint(&self, reader: &str, next_seq: u64, state: &[u8]) -> Result<(), LedgerError> {
        let hash = self.event_hash(next_seq.saturating_sub(1))?.ok_or_else(|| LedgerError::Corrupt {
            tree: "events",
            key: next_seq.saturating_sub(1).to_string(),
            reason: "a checkpoint names an event the log does not hold".into(),
        })?;
        let mut value = Vec::with_capacity(8 + HASH_LEN + state.len());
        value.extend_from_slice(&next_seq.to_be_bytes());
        value.extend_from_slice(hash.as_bytes());
        value.extend_from_slice(state);
        self.meta.insert(key(reader), value).map_err(|e| self.storage(e))?;
        Ok(())
    }

    /// The checkpoint of `reader` — `(next_seq, state)` — if there is one and it matches the log.
    pub fn checkpoint(&self, reader: &str) -> Result<Option<(u64, Vec<u8>)>, LedgerError> {
        let Some(value) = self.meta.get(key(reader)).map_err(|e| self.storage(e))? else { return Ok(None) };
        let Some((seq, rest)) = value.split_first_chunk::<8>() else { return Ok(None) };
        let next_seq = u64::from_be_bytes(*seq);
        let Some((hash, state)) = rest.split_at_checked(HASH_LEN) else { return Ok(None) };
        match self.event_hash(next_seq.saturating_sub(1))? {
            Some(h) if h.as_bytes() == hash => Ok(Some((next_seq, state.to_vec()))),
            _ => {
                tracing::warn!(reader, next_seq, "checkpoint does not match the event log; replaying it whole");
                Ok(None)
            }
        }
    }

    /// The stored hash of event `seq` (the genesis hash for 0, before the first event).
    fn event_hash(&self, seq: u64) -> Result<Option<String>, LedgerError> {
        if seq == 0 {
            return Ok(Some(GENESIS_HASH.to_string()));
        }
        let Some(v) = self.events.get(event_key(seq)).map_err(|e| self.storage(e))? else { return Ok(None) };
        // A stored event ends with `"hash":"<64 hex>"}`.
        let hash = v.len().checked_sub(HASH_LEN + 2).and_then(|start| v.get(start..start + HASH_LEN));
        Ok(hash.and_then(|h| std::str::from_utf8(h).ok()).map(str::to_string))
    }
}

fn key(reader: &str) -> String {
    format!("checkpoint.{reader}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Candidate, Game, Intent, ItemId, PurchaseRecord, Rates, Usd};

    fn record(ledger: &Ledger) {
        let now = chrono::Utc::now();
        let intent = Intent {
            custom_id: ledger.next_custom_id(now).unwrap(),
            candidate: Candidate {
                strategy: "s".into(),
                rule: "r".into(),
                priority: 0,
                game: Game::Cs2,
                name: "Recoil Case".into(),
                item_id: Some(ItemId::new(1)),
                price_seen: Usd::parse("1").unwrap(),
                max_price: Usd::parse("1").unwrap(),
            },
        };
        ledger.record_intents(&[PurchaseRecord::new(intent, now, Rates::new(), "h".into())]).unwrap();
    }

    #[test]
    fn a_checkpoint_is_read_back_only_while_it_matches_the_log() {
        let ledger = Ledger::temporary().unwrap();
        assert_eq!(ledger.checkpoint("book").unwrap(), None);
        ledger.save_checkpoint("book", 0, b"empty").unwrap();
        assert_eq!(ledger.checkpoint("book").unwrap(), Some((0, b"empty".to_vec())));
        record(&ledger);
        record(&ledger);
        ledger.save_checkpoint("book", 3, b"two").unwrap();
        assert_eq!(ledger.checkpoint("book").unwrap(), Some((3, b"two".to_vec())));
        assert!(ledger.save_checkpoint("book", 4, b"ahead").is_err(), "no event 3 yet");

        // The covered event replaced by another (a log rewritten): the checkpoint is not used.
        let other = Ledger::temporary().unwrap();
        record(&other);
        record(&other);
        let foreign = other.events.get(event_key(2)).unwrap().unwrap();
        ledger.events.insert(event_key(2), foreign).unwrap();
        assert_eq!(ledger.checkpoint("book").unwrap(), None);
    }
}
