//! All-time purchase counts, caught up from the ledger's event log before each decision instead of
//! recounted from every purchase (a ledger grows for months; a tick runs every few seconds), and
//! checkpointed in the ledger so a start resumes near the end of the log rather than replaying it.
//! Public for the ledger benchmark, which measures a start's catch-up.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::{BuyId, CustomId, ItemId, PurchaseRecord, PurchaseState, Stage, Usd, Weight};
use crate::ledger::{EventKind, Ledger, LedgerError};
use crate::strategy::decide::{Totals, TotalsParts};

/// The checkpoint's name in the ledger.
const READER: &str = "book";
/// Events between two checkpoints: a start replays at most this many (plus those since a stop that
/// was not clean).
pub const CHECKPOINT_EVERY: u64 = 10_000;
const FORMAT: u32 = 1;

#[derive(Debug, Default)]
pub struct Book {
    /// The next event to read.
    next_seq: u64,
    /// The weight of each purchase that can still change: an event's "before". A purchase whose
    /// state is final and not followed gets no more events (the ledger refuses them), so it leaves.
    weights: HashMap<CustomId, Weight>,
    pub(crate) totals: Totals,
    /// Where the last checkpoint was taken (or loaded).
    checkpointed: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    format: u32,
    totals: TotalsParts,
    /// (custom id, counted, held) of each purchase that can still change.
    live: Vec<(CustomId, bool, bool)>,
}

impl Book {
    /// Reads the events since the last call (on the first, resumes from the ledger's checkpoint when
    /// it has one), and checkpoints every [`CHECKPOINT_EVERY`] events.
    pub fn catch_up(&mut self, ledger: &Ledger) -> Result<(), LedgerError> {
        if self.checkpointed.is_none() {
            self.resume(ledger)?;
        }
        for event in ledger.events_from(self.next_seq) {
            let event = event?;
            let after = event.record.state.weight();
            let before = match self.weights.remove(&event.custom_id) {
                Some(w) => w,
                None if event.kind == EventKind::Intent => Weight::default(),
                // Not expected (the ledger refuses events for settled purchases): read the weight
                // off the record's previous transition rather than count the purchase twice.
                None => previous_weight(&event.record),
            };
            if can_change(&event.record.state) {
                self.weights.insert(event.custom_id.clone(), after);
            }
            self.totals.apply(&event.record.intent, before, after);
            self.next_seq = event.seq + 1;
        }
        if self.next_seq >= self.checkpointed.unwrap_or(0).saturating_add(CHECKPOINT_EVERY) {
            self.save(ledger)?;
        }
        Ok(())
    }

    /// Writes the checkpoint now (also on a clean stop, so the next start replays nothing); a book
    /// that has not read the log yet has nothing to say.
    pub fn save(&mut self, ledger: &Ledger) -> Result<(), LedgerError> {
        if self.checkpointed.is_none() {
            return Ok(());
        }
        let mut live: Vec<(CustomId, bool, bool)> =
            self.weights.iter().map(|(id, w)| (id.clone(), w.counted, w.held)).collect();
        live.sort();
        let saved = Saved { format: FORMAT, totals: self.totals.to_parts(), live };
        let bytes = serde_json::to_vec(&saved).map_err(|e| LedgerError::Corrupt {
            tree: "meta",
            key: format!("checkpoint.{READER}"),
            reason: format!("cannot be encoded: {e}"),
        })?;
        ledger.save_checkpoint(READER, self.next_seq, &bytes)?;
        self.checkpointed = Some(self.next_seq);
        Ok(())
    }

    /// The counts so far.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    fn resume(&mut self, ledger: &Ledger) -> Result<(), LedgerError> {
        let saved = ledger.checkpoint(READER)?.and_then(|(seq, bytes)| {
            let saved: Saved = serde_json::from_slice(&bytes).ok().filter(|s: &Saved| s.format == FORMAT)?;
            Some((seq, saved))
        });
        match saved {
            Some((seq, saved)) if self.next_seq == 0 => {
                self.next_seq = seq;
                self.totals = Totals::from_parts(saved.totals);
                self.weights =
                    saved.live.into_iter().map(|(id, counted, held)| (id, Weight { counted, held })).collect();
                self.checkpointed = Some(seq);
            }
            _ => self.checkpointed = Some(self.next_seq),
        }
        Ok(())
    }
}

/// Whether a purchase in `state` may still get events: not final, or followed (an accepted offer
/// can still be rolled back).
fn can_change(state: &PurchaseState) -> bool {
    !state.is_final() || state.is_followed()
}

/// The weight of the state before the record's last transition.
fn previous_weight(record: &PurchaseRecord) -> Weight {
    let n = record.transitions.len();
    match n.checked_sub(2).and_then(|i| record.transitions.get(i)) {
        Some(t) => stage_weight(&t.state),
        None => Weight::default(),
    }
}

/// The weight of a stage, as [`PurchaseState::weight`] gives it (a stage names the state but not
/// its data, which weights do not depend on).
fn stage_weight(stage: &Stage) -> Weight {
    let state = match stage {
        Stage::Pending => PurchaseState::Pending,
        Stage::Sent => PurchaseState::Sent,
        Stage::Unknown => PurchaseState::Unknown { reason: String::new() },
        Stage::NotBought => PurchaseState::NotBought { code: 0, reason: String::new() },
        Stage::Offer(offer) => PurchaseState::Bought {
            buy_id: BuyId::new(0),
            item_id: ItemId::new(0),
            debited: Usd::ZERO,
            offer: offer.clone(),
            tradeofferid: None,
        },
    };
    state.weight()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Candidate, Game, Intent, OfferStatus, Rates};
    use chrono::Utc;

    fn buy(ledger: &Ledger, i: u64) -> CustomId {
        let now = Utc::now();
        let price = Usd::parse("1.00").unwrap();
        let intent = Intent {
            custom_id: ledger.next_custom_id(now).unwrap(),
            candidate: Candidate {
                strategy: "s".into(),
                rule: format!("r{}", i % 2),
                priority: 0,
                game: Game::Cs2,
                name: format!("item {}", i % 3),
                item_id: Some(ItemId::new(i)),
                price_seen: price,
                max_price: price,
            },
        };
        let id = intent.custom_id.clone();
        ledger.record_intents(&[PurchaseRecord::new(intent, now, Rates::new(), "h".into())]).unwrap();
        id
    }

    fn bought(offer: OfferStatus) -> PurchaseState {
        PurchaseState::Bought {
            buy_id: BuyId::new(1),
            item_id: ItemId::new(1),
            debited: Usd::parse("1.00").unwrap(),
            offer,
            tradeofferid: None,
        }
    }

    #[test]
    fn the_book_caught_up_step_by_step_equals_a_full_recount() {
        let ledger = Ledger::temporary().unwrap();
        let mut book = Book::default();
        let now = Utc::now();
        let ids: Vec<CustomId> = (0..6).map(|i| buy(&ledger, i)).collect();
        book.catch_up(&ledger).unwrap();
        ledger.transition(&ids[0], PurchaseState::NotBought { code: 5, reason: "gone".into() }, now, "").unwrap();
        ledger.transition(&ids[1], bought(OfferStatus::CreatingTrade), now, "").unwrap();
        book.catch_up(&ledger).unwrap();
        ledger.transition(&ids[1], bought(OfferStatus::Canceled), now, "").unwrap();
        ledger.transition(&ids[2], bought(OfferStatus::Accepted), now, "").unwrap();
        ledger.transition(&ids[2], bought(OfferStatus::RollbackUser), now, "").unwrap();
        ledger.transition(&ids[3], PurchaseState::Unknown { reason: "timeout".into() }, now, "").unwrap();
        book.catch_up(&ledger).unwrap();
        book.catch_up(&ledger).unwrap(); // nothing new: no change
        assert_eq!(book.totals, Totals::from_records(&ledger.list().unwrap()));
        assert_eq!(book.weights.len(), 3, "settled purchases leave the book: {:?}", book.weights);
    }

    #[test]
    fn a_start_resumes_from_the_checkpoint_and_counts_what_followed() {
        let ledger = Ledger::temporary().unwrap();
        let now = Utc::now();
        let ids: Vec<CustomId> = (0..4).map(|i| buy(&ledger, i)).collect();
        ledger.transition(&ids[0], bought(OfferStatus::Accepted), now, "").unwrap();
        let mut first = Book::default();
        first.save(&ledger).unwrap();
        assert_eq!(ledger.checkpoint(READER).unwrap(), None, "nothing read, nothing saved");
        first.catch_up(&ledger).unwrap();
        first.save(&ledger).unwrap();
        // After the stop: a rollback of a purchase from before the checkpoint, and new ones.
        ledger.transition(&ids[0], bought(OfferStatus::RollbackUser), now, "").unwrap();
        ledger.transition(&ids[1], PurchaseState::NotBought { code: 5, reason: "gone".into() }, now, "").unwrap();
        buy(&ledger, 9);
        let mut second = Book::default();
        second.catch_up(&ledger).unwrap();
        assert_eq!(second.totals, Totals::from_records(&ledger.list().unwrap()));
        assert_eq!(second.next_seq, 9, "read from the checkpoint on, not from the start");
    }

    #[test]
    fn a_stage_weighs_what_its_state_weighs() {
        for state in [
            PurchaseState::Pending,
            PurchaseState::Unknown { reason: "x".into() },
            PurchaseState::NotBought { code: 5, reason: "x".into() },
            bought(OfferStatus::Accepted),
            bought(OfferStatus::Canceled),
            bought(OfferStatus::RollbackUser),
        ] {
            assert_eq!(stage_weight(&state.stage()), state.weight(), "{state:?}");
        }
    }
}
