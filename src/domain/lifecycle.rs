//! The purchase lifecycle, defined once: its states, which transitions are allowed, which states are
//! final, and what each state counts against the budget and the strategies' limits. The ledger stores
//! and enforces it; the engine asks it.
//!
//! ```text
//! pending ──> sent ──> unknown ──┐
//!    │         │  └──────────────┼──> not_bought                       (final; reservation released)
//!    │         └─────────────────┴──> bought(offer_status) ──> … ──> final offer_status
//!    └──> not_bought (never sent)        not_bought ──> bought (the exchange shows it after all)
//! ```
//!
//! Anything may follow `pending`, `sent` or `unknown`. `not_bought` is final but not a dead end: a
//! purchase the exchange later shows (by `custom_id`, in `market_getinfo` or `market_history`) is
//! recorded as bought whatever the ledger said. A bought purchase stays bought, with the same buy
//! id, item and debit; only its offer status moves on, from a status that is not final to any other
//! (polling can miss the ones in between), and from `accepted` to `rollback_*` (Steam Trade
//! Protection). Repeating the current state changes nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{BuyId, ItemId, OfferStatus, Usd};

/// Where a purchase stands. "In flight" and "unknown" are states of their own so that
/// reconciliation has something concrete to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PurchaseState {
    /// Recorded and reserved; its request has not left. Left by a crash, it was never sent.
    Pending,
    /// The request is leaving (marked, flushed, just before it goes out): the exchange may have
    /// it. Resolved like an unknown outcome, counting the wait from this mark.
    Sent,
    /// Sent; the exchange's answer was lost (timeout, dropped connection, 5xx). Resolved with
    /// `market_getinfo(custom_ids)`, never by buying again.
    Unknown { reason: String },
    /// The exchange said nothing was bought; the reservation is released.
    NotBought { code: i64, reason: String },
    /// Bought: the balance was debited and a trade offer is on its way.
    Bought { buy_id: BuyId, item_id: ItemId, debited: Usd, offer: OfferStatus, tradeofferid: Option<String> },
}

/// The name of a state, as shown and stored in a purchase's history: `pending`, `unknown`,
/// `not_bought`, or the offer status of a bought purchase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Stage {
    Pending,
    Sent,
    Unknown,
    NotBought,
    Offer(OfferStatus),
}

impl Stage {
    pub fn as_str(&self) -> &str {
        match self {
            Stage::Pending => "pending",
            Stage::Sent => "sent",
            Stage::Unknown => "unknown",
            Stage::NotBought => "not_bought",
            Stage::Offer(o) => o.as_str(),
        }
    }
}

impl From<String> for Stage {
    fn from(s: String) -> Self {
        match s.as_str() {
            "pending" => Stage::Pending,
            "sent" => Stage::Sent,
            "unknown" => Stage::Unknown,
            "not_bought" => Stage::NotBought,
            _ => Stage::Offer(OfferStatus::from(s)),
        }
    }
}

impl From<Stage> for String {
    fn from(s: Stage) -> String {
        s.as_str().to_string()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Stage {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a requested state change does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The new state follows the recorded one: record it.
    Apply,
    /// The same state again (an offer status polled twice): nothing to record.
    NoOp,
}

/// A state change the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TransitionError {
    /// The new state contradicts what is recorded (a bought purchase's buy id, item, debit or trade
    /// offer, or a bought purchase becoming anything but bought).
    Conflict(String),
    /// Nothing may follow a final state (but `accepted` → `rollback_*`).
    Final { from: Stage, to: Stage },
}

/// How a purchase counts against the strategies' limits (see [`PurchaseState::weight`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weight {
    /// Counts as bought (or possibly bought): everything but "nothing was bought".
    pub counted: bool,
    /// Counts as held, for restocking: counted, and its offer has not failed.
    pub held: bool,
}

impl PurchaseState {
    pub(crate) fn stage(&self) -> Stage {
        match self {
            PurchaseState::Pending => Stage::Pending,
            PurchaseState::Sent => Stage::Sent,
            PurchaseState::Unknown { .. } => Stage::Unknown,
            PurchaseState::NotBought { .. } => Stage::NotBought,
            PurchaseState::Bought { offer, .. } => Stage::Offer(offer.clone()),
        }
    }

    pub fn label(&self) -> &str {
        match self {
            PurchaseState::Pending => "pending",
            PurchaseState::Sent => "sent",
            PurchaseState::Unknown { .. } => "unknown",
            PurchaseState::NotBought { .. } => "not_bought",
            PurchaseState::Bought { offer, .. } => offer.as_str(),
        }
    }

    /// The exchange has not told us yet whether anything was bought (pending, sent or unknown).
    pub fn is_unresolved(&self) -> bool {
        matches!(self, PurchaseState::Pending | PurchaseState::Sent | PurchaseState::Unknown { .. })
    }

    /// Nothing more is expected to happen to it. `accepted` counts as final for delivery, though a
    /// rollback can still follow it within Steam's protection window (see [`Self::is_followed`]).
    pub fn is_final(&self) -> bool {
        match self {
            PurchaseState::Pending | PurchaseState::Sent | PurchaseState::Unknown { .. } => false,
            PurchaseState::NotBought { .. } => true,
            PurchaseState::Bought { offer, .. } => offer.is_final(),
        }
    }

    /// A bought purchase whose offer is still worth asking about: not final yet, or accepted (a
    /// rollback may follow for a while).
    pub(crate) fn is_followed(&self) -> bool {
        match self {
            PurchaseState::Bought { offer, .. } => !offer.is_final() || *offer == OfferStatus::Accepted,
            _ => false,
        }
    }

    /// What a purchase in this state holds of the budget: the reservation (`max_price`) while the
    /// outcome is open, the debit once bought, nothing when nothing was bought.
    pub fn holds(&self, reserved: Usd) -> Usd {
        match self {
            PurchaseState::Pending | PurchaseState::Sent | PurchaseState::Unknown { .. } => reserved,
            PurchaseState::NotBought { .. } => Usd::ZERO,
            PurchaseState::Bought { debited, .. } => *debited,
        }
    }

    /// How it counts against the strategies' limits.
    pub(crate) fn weight(&self) -> Weight {
        match self {
            PurchaseState::NotBought { .. } => Weight { counted: false, held: false },
            PurchaseState::Bought { offer, .. } => Weight { counted: true, held: !offer.is_failure() },
            PurchaseState::Pending | PurchaseState::Sent | PurchaseState::Unknown { .. } => {
                Weight { counted: true, held: true }
            }
        }
    }

    /// Whether `to` may follow this state (see the module doc).
    pub(crate) fn check_transition(&self, to: &PurchaseState) -> Result<Change, TransitionError> {
        if self == to {
            return Ok(Change::NoOp);
        }
        match (self, to) {
            (
                PurchaseState::Bought { buy_id, item_id, debited, offer, tradeofferid },
                PurchaseState::Bought {
                    buy_id: new_buy,
                    item_id: new_item,
                    debited: new_debit,
                    offer: new_offer,
                    tradeofferid: new_trade,
                },
            ) => {
                if (buy_id, item_id, debited) != (new_buy, new_item, new_debit) {
                    return Err(TransitionError::Conflict(format!(
                        "recorded as bought (buy_id {buy_id}, item {item_id}, debited {debited}); \
                         refusing buy_id {new_buy}, item {new_item}, debited {new_debit}"
                    )));
                }
                if offer == new_offer {
                    return match (tradeofferid, new_trade) {
                        (_, None) => Ok(Change::NoOp),
                        (None, Some(_)) => Ok(Change::Apply),
                        (Some(old), Some(new)) if old == new => Ok(Change::NoOp),
                        (Some(old), Some(new)) => Err(TransitionError::Conflict(format!(
                            "trade offer {old} is recorded; refusing trade offer {new}"
                        ))),
                    };
                }
                if offer.can_become(new_offer) {
                    return Ok(Change::Apply);
                }
            }
            // The money left; only the trade offer can move on. Becoming pending / unknown / not
            // bought would release a debit from the budget.
            (PurchaseState::Bought { offer, .. }, _) if !self.is_final() => {
                return Err(TransitionError::Conflict(format!(
                    "bought (offer {offer}); refusing to record it as {}",
                    to.label()
                )));
            }
            // The exchange shows a purchase the ledger had released: it was bought after all.
            (PurchaseState::NotBought { .. }, PurchaseState::Bought { .. }) => return Ok(Change::Apply),
            _ if !self.is_final() => return Ok(Change::Apply),
            _ => {}
        }
        Err(TransitionError::Final { from: self.stage(), to: to.stage() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bought(offer: OfferStatus) -> PurchaseState {
        PurchaseState::Bought {
            buy_id: BuyId::new(1),
            item_id: ItemId::new(2),
            debited: Usd::parse("1.00").unwrap(),
            offer,
            tradeofferid: None,
        }
    }

    #[test]
    fn anything_follows_an_open_outcome_and_nothing_follows_not_bought() {
        let unknown = PurchaseState::Unknown { reason: "timeout".into() };
        let not_bought = PurchaseState::NotBought { code: 5, reason: "gone".into() };
        for to in [&unknown, &not_bought, &bought(OfferStatus::Accepted)] {
            assert_eq!(PurchaseState::Pending.check_transition(to), Ok(Change::Apply));
        }
        assert_eq!(unknown.check_transition(&not_bought), Ok(Change::Apply));
        assert!(matches!(not_bought.check_transition(&PurchaseState::Sent), Err(TransitionError::Final { .. })));
        // … except being shown bought by the exchange after all.
        assert_eq!(not_bought.check_transition(&bought(OfferStatus::CreatingTrade)), Ok(Change::Apply));
        assert_eq!(PurchaseState::Pending.check_transition(&PurchaseState::Sent), Ok(Change::Apply));
        assert_eq!(PurchaseState::Sent.check_transition(&unknown), Ok(Change::Apply));
        assert_eq!(not_bought.check_transition(&not_bought.clone()), Ok(Change::NoOp));
    }

    #[test]
    fn a_bought_purchase_keeps_its_debit_and_never_goes_back() {
        let b = bought(OfferStatus::CreatingTrade);
        assert!(matches!(b.check_transition(&PurchaseState::Pending), Err(TransitionError::Conflict(_))));
        let mut other = bought(OfferStatus::WaitingAccept);
        if let PurchaseState::Bought { debited, .. } = &mut other {
            *debited = Usd::parse("2.00").unwrap();
        }
        assert!(matches!(b.check_transition(&other), Err(TransitionError::Conflict(_))));
    }

    #[test]
    fn offers_move_from_open_statuses_to_any_and_only_accepted_rolls_back() {
        use OfferStatus::*;
        // Polling can skip a status: creating_trade straight to accepted is allowed.
        assert_eq!(bought(CreatingTrade).check_transition(&bought(Accepted)), Ok(Change::Apply));
        assert_eq!(bought(WaitingAccept).check_transition(&bought(Timeout)), Ok(Change::Apply));
        assert_eq!(bought(Accepted).check_transition(&bought(RollbackUser)), Ok(Change::Apply));
        assert!(bought(Canceled).check_transition(&bought(Accepted)).is_err());
        assert!(bought(Accepted).check_transition(&bought(Canceled)).is_err());
        assert!(bought(RollbackUser).check_transition(&bought(Accepted)).is_err());
        assert_eq!(bought(Accepted).check_transition(&bought(Accepted)), Ok(Change::NoOp));
    }

    #[test]
    fn what_each_state_holds_and_counts() {
        let max = Usd::parse("3.00").unwrap();
        assert_eq!(PurchaseState::Pending.holds(max), max);
        assert_eq!(PurchaseState::NotBought { code: 5, reason: String::new() }.holds(max), Usd::ZERO);
        assert_eq!(bought(OfferStatus::Canceled).holds(max), Usd::parse("1.00").unwrap());
        assert_eq!(bought(OfferStatus::Canceled).weight(), Weight { counted: true, held: false });
        assert!(bought(OfferStatus::Accepted).is_followed());
        assert!(!bought(OfferStatus::Canceled).is_followed());
        assert!(!PurchaseState::Pending.is_followed());
    }

    #[test]
    fn stages_round_trip_as_their_labels() {
        for s in ["pending", "sent", "unknown", "not_bought", "accepted", "escrow_hold"] {
            let stage = Stage::from(s.to_string());
            assert_eq!(stage.as_str(), s);
            assert_eq!(serde_json::to_string(&stage).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(Stage::from("accepted".to_string()), Stage::Offer(OfferStatus::Accepted));
    }
}
