//! Streaming reads over every purchase, for the ledger's list, summary and export over a ledger of
//! a million purchases: one record at a time, in custom-id order (the order they were issued), never
//! a `Vec` of them all.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{decode_record, Ledger, LedgerError};
use crate::domain::{BuyId, Game, ItemId, OfferStatus, PurchaseRecord, PurchaseState, Usd};

/// What filters and summaries read of a purchase, decoded without the rest of its record (its
/// history, rates and config hash are skipped, not parsed). Text is borrowed from the stored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brief<'a> {
    pub custom_id: Cow<'a, str>,
    pub strategy: Cow<'a, str>,
    pub rule: Cow<'a, str>,
    pub game: Game,
    pub name: Cow<'a, str>,
    pub created_at: DateTime<Utc>,
    pub max_price: Usd,
    /// The state with its label, amounts and weights right; ids and reasons are left blank.
    pub state: PurchaseState,
}

impl Brief<'_> {
    /// What it holds of the budget (see [`PurchaseState::holds`]).
    pub fn committed(&self) -> Usd {
        self.state.holds(self.max_price)
    }

    fn of(r: &PurchaseRecord) -> Brief<'_> {
        let i = &r.intent;
        Brief {
            custom_id: Cow::Borrowed(i.custom_id.as_str()),
            strategy: Cow::Borrowed(&i.strategy),
            rule: Cow::Borrowed(&i.rule),
            game: i.game,
            name: Cow::Borrowed(&i.name),
            created_at: r.created_at,
            max_price: i.max_price,
            state: blank(&r.state),
        }
    }
}

/// `state` without what a brief leaves out.
fn blank(state: &PurchaseState) -> PurchaseState {
    match state {
        PurchaseState::Pending => PurchaseState::Pending,
        PurchaseState::Sent => PurchaseState::Sent,
        PurchaseState::Unknown { .. } => PurchaseState::Unknown { reason: String::new() },
        PurchaseState::NotBought { code, .. } => PurchaseState::NotBought { code: *code, reason: String::new() },
        PurchaseState::Bought { debited, offer, .. } => PurchaseState::Bought {
            buy_id: BuyId::new(0),
            item_id: ItemId::new(0),
            debited: *debited,
            offer: offer.clone(),
            tradeofferid: None,
        },
    }
}

#[derive(Deserialize)]
struct RawBrief<'a> {
    #[serde(borrow)]
    intent: RawIntent<'a>,
    created_at: DateTime<Utc>,
    #[serde(borrow)]
    state: RawState<'a>,
}

#[derive(Deserialize)]
struct RawIntent<'a> {
    #[serde(borrow)]
    custom_id: Cow<'a, str>,
    #[serde(borrow)]
    strategy: Cow<'a, str>,
    #[serde(borrow)]
    rule: Cow<'a, str>,
    game: Game,
    #[serde(borrow)]
    name: Cow<'a, str>,
    max_price: Usd,
}

#[derive(Deserialize)]
struct RawState<'a> {
    #[serde(borrow)]
    state: Cow<'a, str>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    debited: Option<Usd>,
    #[serde(default)]
    offer: Option<String>,
}

impl RawBrief<'_> {
    /// `None` for a layout it does not know (the full record is decoded instead).
    fn into_brief(self) -> Option<Brief<'static>> {
        let state = match (self.state.state.as_ref(), self.state.debited, self.state.offer) {
            ("pending", ..) => PurchaseState::Pending,
            ("unknown", ..) => PurchaseState::Unknown { reason: String::new() },
            ("not_bought", ..) => PurchaseState::NotBought { code: self.state.code?, reason: String::new() },
            ("bought", Some(debited), Some(offer)) => PurchaseState::Bought {
                buy_id: BuyId::new(0),
                item_id: ItemId::new(0),
                debited,
                offer: OfferStatus::from(offer),
                tradeofferid: None,
            },
            _ => return None,
        };
        let i = self.intent;
        Some(Brief {
            custom_id: Cow::Owned(i.custom_id.into_owned()),
            strategy: Cow::Owned(i.strategy.into_owned()),
            rule: Cow::Owned(i.rule.into_owned()),
            game: i.game,
            name: Cow::Owned(i.name.into_owned()),
            created_at: self.created_at,
            max_price: i.max_price,
            state,
        })
    }
}

impl Ledger {
    /// Every purchase, one at a time, in custom-id order (issue order: ids only grow).
    pub fn records(&self) -> impl Iterator<Item = Result<PurchaseRecord, LedgerError>> + '_ {
        self.purchases.iter().map(move |item| {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            decode_record(&key, &value)
        })
    }

    /// Calls `f` with a [`Brief`] of every purchase, in custom-id order: what a filtered list or a
    /// summary needs, several times faster than decoding whole records.
    pub fn scan_briefs(&self, mut f: impl FnMut(&Brief<'_>)) -> Result<(), LedgerError> {
        for item in self.purchases.iter() {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            let brief = serde_json::from_slice::<RawBrief<'_>>(&value).ok().and_then(|raw| {
                // The brief must belong under its key, as a decoded record must.
                (raw.intent.custom_id.as_bytes() == key.as_ref()).then(|| raw.into_brief()).flatten()
            });
            match brief {
                Some(b) => f(&b),
                None => f(&Brief::of(&decode_record(&key, &value)?)),
            }
        }
        Ok(())
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

        // Every state, read briefly, is what the whole record says.
        let ids: Vec<_> = streamed.iter().map(|r| r.intent.custom_id.clone()).collect();
        let bought = |offer| PurchaseState::Bought {
            buy_id: crate::domain::BuyId::new(9),
            item_id: ItemId::new(9),
            debited: Usd::parse("0.90").unwrap(),
            offer,
            tradeofferid: Some("77".into()),
        };
        ledger.transition(&ids[0], PurchaseState::Unknown { reason: "timeout".into() }, now, "").unwrap();
        ledger.transition(&ids[1], PurchaseState::NotBought { code: 5, reason: "gone".into() }, now, "").unwrap();
        ledger.transition(&ids[2], bought(crate::domain::OfferStatus::Accepted), now, "").unwrap();
        ledger.transition(&ids[3], bought(crate::domain::OfferStatus::Canceled), now, "").unwrap();
        let mut briefs = Vec::new();
        ledger
            .scan_briefs(|b| briefs.push((b.custom_id.to_string(), b.state.label().to_string(), b.committed())))
            .unwrap();
        let full: Vec<_> = ledger
            .records()
            .map(|r| r.unwrap())
            .map(|r| (r.intent.custom_id.to_string(), r.state.label().to_string(), r.committed()))
            .collect();
        assert_eq!(briefs, full);
        assert_eq!(
            briefs.iter().map(|b| b.1.as_str()).collect::<Vec<_>>(),
            ["unknown", "not_bought", "accepted", "canceled", "pending"]
        );
    }
}
