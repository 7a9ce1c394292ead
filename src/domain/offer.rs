//! The trade-offer lifecycle of a purchase (`offer_status`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `offer_status` as the API reports it. A purchase is done only when this is final.
///
/// `creating_trade → waiting_accept → accepted | canceled | timeout`, or `creating_trade →
/// invalid_trade_token | user_not_tradable | trade_create_error`; `accepted` may later become
/// `rollback_user | rollback_supplier` (Steam Trade Protection).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum OfferStatus {
    CreatingTrade,
    WaitingAccept,
    Accepted,
    Canceled,
    Timeout,
    InvalidTradeToken,
    UserNotTradable,
    TradeCreateError,
    RollbackUser,
    RollbackSupplier,
    /// A status this build does not know (the reference lists more than ten; we could read ten).
    /// Kept verbatim and treated as not final, so reconciliation keeps asking.
    Other(String),
}

impl OfferStatus {
    pub(crate) const ALL_KNOWN: [OfferStatus; 10] = [
        OfferStatus::CreatingTrade,
        OfferStatus::WaitingAccept,
        OfferStatus::Accepted,
        OfferStatus::Canceled,
        OfferStatus::Timeout,
        OfferStatus::InvalidTradeToken,
        OfferStatus::UserNotTradable,
        OfferStatus::TradeCreateError,
        OfferStatus::RollbackUser,
        OfferStatus::RollbackSupplier,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            OfferStatus::CreatingTrade => "creating_trade",
            OfferStatus::WaitingAccept => "waiting_accept",
            OfferStatus::Accepted => "accepted",
            OfferStatus::Canceled => "canceled",
            OfferStatus::Timeout => "timeout",
            OfferStatus::InvalidTradeToken => "invalid_trade_token",
            OfferStatus::UserNotTradable => "user_not_tradable",
            OfferStatus::TradeCreateError => "trade_create_error",
            OfferStatus::RollbackUser => "rollback_user",
            OfferStatus::RollbackSupplier => "rollback_supplier",
            OfferStatus::Other(s) => s,
        }
    }

    /// No further change is expected. `accepted` counts as final for delivery, though a rollback
    /// can still follow it within Steam's protection window.
    pub fn is_final(&self) -> bool {
        !matches!(self, OfferStatus::CreatingTrade | OfferStatus::WaitingAccept | OfferStatus::Other(_))
    }

    /// The item did not reach (or did not stay with) the user.
    pub(crate) fn is_failure(&self) -> bool {
        matches!(
            self,
            OfferStatus::Canceled
                | OfferStatus::Timeout
                | OfferStatus::InvalidTradeToken
                | OfferStatus::UserNotTradable
                | OfferStatus::TradeCreateError
                | OfferStatus::RollbackUser
                | OfferStatus::RollbackSupplier
        )
    }

    /// Whether `next` may follow `self`: any status may follow one that is not final (polling can
    /// miss the statuses in between, and an unknown status is never final), and `accepted` may
    /// become `rollback_*`. The one rule the purchase lifecycle ([`super::PurchaseState`]) uses.
    pub(crate) fn can_become(&self, next: &OfferStatus) -> bool {
        use OfferStatus::*;
        self != next && (!self.is_final() || matches!((self, next), (Accepted, RollbackUser | RollbackSupplier)))
    }
}

impl From<String> for OfferStatus {
    fn from(s: String) -> Self {
        s.as_str().parse().unwrap_or(OfferStatus::Other(s))
    }
}

impl FromStr for OfferStatus {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(OfferStatus::ALL_KNOWN
            .iter()
            .find(|k| k.as_str() == s)
            .cloned()
            .unwrap_or_else(|| OfferStatus::Other(s.to_string())))
    }
}

impl From<OfferStatus> for String {
    fn from(s: OfferStatus) -> String {
        s.as_str().to_string()
    }
}

impl fmt::Display for OfferStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_kept() {
        for s in OfferStatus::ALL_KNOWN {
            assert_eq!(s.as_str().parse::<OfferStatus>().unwrap(), s);
        }
        let other: OfferStatus = "escrow_hold".parse().unwrap();
        assert_eq!(other, OfferStatus::Other("escrow_hold".into()));
        assert!(!other.is_final());
    }

    #[test]
    fn lifecycle_edges_follow_the_reference() {
        use OfferStatus::*;
        assert!(CreatingTrade.can_become(&WaitingAccept));
        assert!(CreatingTrade.can_become(&TradeCreateError));
        // A poll may see creating_trade, then accepted: the status in between was missed.
        assert!(CreatingTrade.can_become(&Accepted));
        assert!(WaitingAccept.can_become(&Timeout));
        assert!(Accepted.can_become(&RollbackSupplier));
        assert!(!Accepted.can_become(&Canceled));
        assert!(!Canceled.can_become(&Accepted));
        assert!(!Accepted.can_become(&Accepted));
    }
}
