//! What can go wrong in the ledger. Every message names the ledger directory, the tree and key, or the
//! purchase (`custom_id`) it is about, so an operator can find it.

use crate::domain::{CustomId, Game};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// sled takes an exclusive file lock; a second process (or a second open in this one) gets this.
    #[error(
        "the ledger at {dir} is in use by another skinbot process (sled allows one process at a time); \
         stop it or wait until it has exited, then retry"
    )]
    Locked { dir: String },

    #[error("failed to open the ledger at {dir}: {source}")]
    Open { dir: String, source: sled::Error },

    #[error("ledger storage error at {dir}: {source}")]
    Storage { dir: String, source: sled::Error },

    #[error("the ledger at {dir} has schema version {found}; this build reads version {expected}")]
    SchemaVersion { dir: String, found: String, expected: u64 },

    #[error("corrupt ledger data in tree `{tree}` at key `{key}`: {reason}")]
    Corrupt { tree: &'static str, key: String, reason: String },

    #[error("purchase {custom_id} is already in the ledger; nothing of this batch was recorded")]
    DuplicateId { custom_id: CustomId },

    #[error("purchase {custom_id} is not in the ledger")]
    NotFound { custom_id: CustomId },

    #[error("purchase {custom_id} cannot be recorded: {reason}")]
    InvalidRecord { custom_id: CustomId, reason: String },

    /// A final purchase does not change again (except `accepted` → `rollback_*`).
    #[error("purchase {custom_id} is final ({from}); refusing the transition to {to}")]
    FinalState { custom_id: CustomId, from: String, to: String },

    /// The new state contradicts what is already recorded (a bought purchase's buy id, item or debit).
    #[error("purchase {custom_id}: {reason}")]
    Conflict { custom_id: CustomId, reason: String },

    #[error("the ledger's event log is broken at event {seq}: {reason}")]
    ChainBroken { seq: u64, reason: String },

    /// The `purchases` tree disagrees with the hash-chained log: the record was changed outside the ledger.
    #[error("purchase {custom_id} does not match its history in the event log: {reason}")]
    RecordMismatch { custom_id: String, reason: String },

    #[error("price of {game} `{name}` at unix time {at} is older than its last recorded price (unix time {last})")]
    PriceOutOfOrder { game: Game, name: String, at: i64, last: u64 },

    #[error("`{name}` cannot be recorded as an item name: {reason}")]
    BadItemName { name: String, reason: &'static str },

    #[error("time {at} is out of the ledger's range (1970 onwards)")]
    TimeOutOfRange { at: String },
}
