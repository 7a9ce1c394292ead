//! What a decision reads and writes: a market [`Listing`], a [`Candidate`] for the guard, and an
//! [`Intent`] — an approved candidate with the ledger key it is recorded and sent under.
//!
//! These are domain types: the exchange converts its wire types into them at its edge, so the pure
//! decision never depends on how an answer was decoded.

use serde::{Deserialize, Serialize};

use super::{CustomId, Game, ItemId, Usd};

/// One item on sale: the listing id, its market name and its price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub id: ItemId,
    pub name: String,
    pub price: Usd,
}

/// Something a strategy wants to buy, before the guard has seen it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub strategy: String,
    pub rule: String,
    /// Higher goes first when the budget cannot cover all. Not part of records written before it
    /// was stored; those read as 0.
    #[serde(default)]
    pub priority: i32,
    pub game: Game,
    pub name: String,
    /// The listing chosen from the price list; `None` buys the cheapest listing of `name`.
    pub item_id: Option<ItemId>,
    /// The price seen in the snapshot the decision was made on.
    pub price_seen: Usd,
    /// The ceiling sent as `max_price`, and the amount reserved against the budget until the
    /// exchange says what was really debited.
    pub max_price: Usd,
}

/// A candidate the guard approved, with its `custom_id`: the ledger key and the `custom_id` sent to
/// the exchange. Stored flat (the candidate's fields beside `custom_id`), as records always were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intent {
    pub custom_id: CustomId,
    #[serde(flatten)]
    pub candidate: Candidate,
}

/// Reads the flat form directly. (A derived `flatten` buffers every field of every record into
/// an intermediate tree first: most of the time of a scan over a million records.)
impl<'de> Deserialize<'de> for Intent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Flat {
            custom_id: CustomId,
            strategy: String,
            rule: String,
            #[serde(default)]
            priority: i32,
            game: Game,
            name: String,
            item_id: Option<ItemId>,
            price_seen: Usd,
            max_price: Usd,
        }
        let f = Flat::deserialize(d)?;
        Ok(Intent {
            custom_id: f.custom_id,
            candidate: Candidate {
                strategy: f.strategy,
                rule: f.rule,
                priority: f.priority,
                game: f.game,
                name: f.name,
                item_id: f.item_id,
                price_seen: f.price_seen,
                max_price: f.max_price,
            },
        })
    }
}

impl std::ops::Deref for Intent {
    type Target = Candidate;

    fn deref(&self) -> &Candidate {
        &self.candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_stored_flat_and_reads_records_written_before_priority_was_kept() {
        let old = r#"{"custom_id":"sb-1","strategy":"s","rule":"r","game":"cs2","name":"Recoil Case",
            "item_id":7,"price_seen":"0.31","max_price":"0.31"}"#;
        let intent: Intent = serde_json::from_str(old).unwrap();
        assert_eq!(intent.candidate.priority, 0);
        assert_eq!(intent.name, "Recoil Case");
        let json = serde_json::to_value(&intent).unwrap();
        assert_eq!(json["custom_id"], "sb-1");
        assert_eq!(json["max_price"], "0.31");
        assert!(json.get("candidate").is_none());
    }
}
