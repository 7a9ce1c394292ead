//! Streaming reads over every purchase, for the ledger's list, summary and export over a ledger of
//! a million purchases: one record at a time, in custom-id order (the order they were issued), never
//! a `Vec` of them all.

use super::{decode_record, Ledger, LedgerError};
use crate::domain::PurchaseRecord;

impl Ledger {
    /// Every purchase, one at a time, in custom-id order (issue order: ids only grow).
    pub fn records(&self) -> impl Iterator<Item = Result<PurchaseRecord, LedgerError>> + '_ {
        self.purchases.iter().map(move |item| {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            decode_record(&key, &value)
        })
    }

    /// The stored JSON of every purchase, one at a time, in custom-id order: what an NDJSON export
    /// writes, without decoding and re-encoding each record.
    pub fn record_bytes(&self) -> impl Iterator<Item = Result<sled::IVec, LedgerError>> + '_ {
        self.purchases.iter().map(move |item| item.map(|(_, v)| v).map_err(|e| self.storage(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Candidate, Game, Intent, ItemId, Rates, Usd};

    #[test]
    fn the_stream_holds_what_list_holds() {
        let ledger = Ledger::temporary().unwrap();
        let now = chrono::Utc::now();
        for i in 0..5u64 {
            let intent = Intent {
                custom_id: ledger.next_custom_id(now).unwrap(),
                candidate: Candidate {
                    strategy: "s".into(),
                    rule: "r".into(),
                    priority: 0,
                    game: Game::Cs2,
                    name: format!("item {i}"),
                    item_id: Some(ItemId::new(i)),
                    price_seen: Usd::parse("1").unwrap(),
                    max_price: Usd::parse("1").unwrap(),
                },
            };
            ledger.record_intents(&[PurchaseRecord::new(intent, now, Rates::new(), "h".into())]).unwrap();
        }
        let streamed: Vec<PurchaseRecord> = ledger.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(streamed, ledger.list().unwrap());
        assert_eq!(ledger.record_bytes().count(), 5);
    }
}
