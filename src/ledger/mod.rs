//! The ledger: every purchase, its history as a hash-chained event log, and recorded prices, in one sled
//! database.
//!
//! Trees:
//! - `purchases`: custom id → [`PurchaseRecord`] as JSON.
//! - `by_time`, `open`: `created_at` + custom id → empty; every purchase, and those not final. They make
//!   "since" queries and reconciliation skip what they don't need.
//! - `events`: u64 sequence → hash-chained event (see [`events`]). Written in the same sled transaction as
//!   the purchase it describes, so the two never disagree.
//! - `prices`: game 0x00 name 0x00 unix seconds → price text, only when the price changed.
//! - `meta`: schema version, the custom id counter, the chain head, the last accepted rates.
//! - `halts`: u64 sequence → [`HaltEvent`]: every halt and resume, who and why (see [`halts`]).
//!
//! Key layouts are in [`keys`]. sled lets one process open a database; [`LedgerError::Locked`] says so.

mod checkpoint;
mod error;
pub mod events;
mod halts;
pub mod keys;
mod prices;
pub mod query;
pub mod remote;
mod scan;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sled::Tree;

pub use error::LedgerError;
pub use events::{Event, EventKind};
pub use halts::HaltEvent;
pub use prices::weighted_median;

use crate::domain::lifecycle::{Change, TransitionError};
use crate::domain::{CustomId, Game, PurchaseRecord, PurchaseState, Rates, Usd};
use events::Appender;
use keys::{id_from_time_index_key, time_index_key, time_prefix};

const SCHEMA_VERSION: u64 = 1;
const META_SCHEMA: &str = "schema_version";
/// The last custom id issued: unix second (i64 BE) + sequence within it (u32 BE).
const META_LAST_ID: &str = "ids.last";
/// The currency rates last accepted (JSON).
const META_LAST_RATES: &str = "rates.last";

/// Last recorded price per item, filled lazily from the `prices` tree; `None` = known to have none.
type PriceCache = HashMap<Game, HashMap<String, Option<(u64, Usd)>>>;

/// What [`Ledger::apply`] did to one purchase.
#[derive(Debug, Clone)]
pub struct Transitioned {
    /// The record as it stands now.
    pub record: PurchaseRecord,
    /// The state it left, when the transition applied; `None` when the record already was in that
    /// state (nothing was written).
    pub before: Option<PurchaseState>,
}

/// A handle on the ledger. Cloning is cheap and every clone sees the same data.
#[derive(Clone)]
pub struct Ledger {
    db: sled::Db,
    purchases: Tree,
    by_time: Tree,
    open: Tree,
    events: Tree,
    prices: Tree,
    meta: Tree,
    halts: Tree,
    /// Where it lives, for error messages.
    dir: Arc<str>,
    /// Also serializes price writes, so the cache and the tree move together.
    price_cache: Arc<Mutex<PriceCache>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn is_lock_error(e: &sled::Error) -> bool {
    // sled reports a held lock as a plain io error with this text (config.rs, `try_lock`).
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// Parses a `purchases` value, checking it belongs under its key.
pub(crate) fn decode_record(key: &[u8], value: &[u8]) -> Result<PurchaseRecord, LedgerError> {
    let shown = String::from_utf8_lossy(key).into_owned();
    let record: PurchaseRecord = serde_json::from_slice(value).map_err(|e| LedgerError::Corrupt {
        tree: "purchases",
        key: shown.clone(),
        reason: format!("not a purchase record: {e}"),
    })?;
    if record.intent.custom_id.as_str().as_bytes() != key {
        return Err(LedgerError::Corrupt {
            tree: "purchases",
            key: shown,
            reason: format!("holds the record of {}", record.intent.custom_id),
        });
    }
    Ok(record)
}

/// The lifecycle's verdict on a state change (see [`crate::domain::lifecycle`]), as a ledger error.
fn check_transition(record: &PurchaseRecord, to: &PurchaseState) -> Result<Change, LedgerError> {
    let custom_id = record.intent.custom_id.clone();
    record.state.check_transition(to).map_err(|e| match e {
        TransitionError::Conflict(reason) => LedgerError::Conflict { custom_id, reason },
        TransitionError::Final { from, to } => {
            LedgerError::FinalState { custom_id, from: from.to_string(), to: to.to_string() }
        }
    })
}

impl Ledger {
    /// Opens (creating if needed) the ledger in `dir`.
    pub fn open(dir: &Path) -> Result<Ledger, LedgerError> {
        let shown = dir.display().to_string();
        let db = sled::Config::new().path(dir).open().map_err(|source| {
            if is_lock_error(&source) {
                LedgerError::Locked { dir: shown.clone() }
            } else {
                LedgerError::Open { dir: shown.clone(), source }
            }
        })?;
        Ledger::init(db, shown)
    }

    /// A ledger that lives only as long as its handles (sled's temporary mode), for tests.
    pub fn temporary() -> Result<Ledger, LedgerError> {
        let shown = "<temporary ledger>".to_string();
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(|source| LedgerError::Open { dir: shown.clone(), source })?;
        Ledger::init(db, shown)
    }

    fn init(db: sled::Db, dir: String) -> Result<Ledger, LedgerError> {
        let tree = |name: &str| db.open_tree(name).map_err(|source| LedgerError::Open { dir: dir.clone(), source });
        let ledger = Ledger {
            purchases: tree("purchases")?,
            by_time: tree("by_time")?,
            open: tree("open")?,
            events: tree("events")?,
            prices: tree("prices")?,
            meta: tree("meta")?,
            halts: tree("halts")?,
            db,
            dir: dir.into(),
            price_cache: Arc::default(),
        };
        match ledger.meta.get(META_SCHEMA).map_err(|e| ledger.storage(e))? {
            None => {
                ledger
                    .meta
                    .insert(META_SCHEMA, SCHEMA_VERSION.to_string().as_bytes())
                    .map_err(|e| ledger.storage(e))?;
                ledger.flush()?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.to_string().as_bytes() => {}
            Some(v) => {
                return Err(LedgerError::SchemaVersion {
                    dir: ledger.dir.to_string(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                    expected: SCHEMA_VERSION,
                })
            }
        }
        Ok(ledger)
    }

    /// The directory it lives in, as shown in messages.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    fn storage(&self, source: sled::Error) -> LedgerError {
        LedgerError::Storage { dir: self.dir.to_string(), source }
    }

    fn tx_error(&self, e: TransactionError<LedgerError>) -> LedgerError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.storage(e),
        }
    }

    /// Writes everything so far to disk.
    pub fn flush(&self) -> Result<(), LedgerError> {
        self.db.flush().map(drop).map_err(|e| self.storage(e))
    }

    /// Which exchange (and project) this ledger's purchases were made on, if recorded. Purchases of
    /// two exchanges must never mix: their buy ids and custom ids mean nothing to each other.
    pub fn identity(&self) -> Result<Option<String>, LedgerError> {
        match self.meta.get(b"identity").map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(v) => String::from_utf8(v.to_vec()).map(Some).map_err(|e| LedgerError::Corrupt {
                tree: "meta",
                key: "identity".into(),
                reason: e.to_string(),
            }),
        }
    }

    /// Records the exchange this ledger belongs to (flushed).
    pub(crate) fn set_identity(&self, identity: &str) -> Result<(), LedgerError> {
        self.meta.insert(b"identity", identity.as_bytes()).map_err(|e| self.storage(e))?;
        self.flush()
    }

    /// The currency rates last accepted, as [`Ledger::set_last_rates`] recorded them: what a first
    /// currency list after a start is checked against.
    pub fn last_rates(&self) -> Result<Option<Rates>, LedgerError> {
        match self.meta.get(META_LAST_RATES).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| LedgerError::Corrupt {
                tree: "meta",
                key: META_LAST_RATES.into(),
                reason: e.to_string(),
            }),
        }
    }

    /// Records the currency rates just accepted (not flushed: losing the last few is harmless).
    pub fn set_last_rates(&self, rates: &Rates) -> Result<(), LedgerError> {
        let json = serde_json::to_vec(rates).map_err(|e| LedgerError::Corrupt {
            tree: "meta",
            key: META_LAST_RATES.into(),
            reason: e.to_string(),
        })?;
        self.meta.insert(META_LAST_RATES, json).map_err(|e| self.storage(e))?;
        Ok(())
    }

    /// Notes that `game`'s price list was observed at `at`, and returns since when it has been observed
    /// without a gap longer than `max_gap`. Recorded prices only say when a price *changed*; this says
    /// over which time "no change recorded" really means "unchanged" (not "the bot was not running").
    pub fn observe(
        &self,
        game: Game,
        at: DateTime<Utc>,
        max_gap: chrono::Duration,
    ) -> Result<DateTime<Utc>, LedgerError> {
        let key = format!("observed:{}", game.as_str());
        let previous = self.observation(&key)?;
        let since = observed_since(previous, at, max_gap);
        let value = serde_json::to_vec(&(since, at.max(previous.map(|p| p.1).unwrap_or(at))))
            .map_err(|e| LedgerError::Corrupt { tree: "meta", key: key.clone(), reason: e.to_string() })?;
        self.meta.insert(key.as_bytes(), value).map_err(|e| self.storage(e))?;
        Ok(since)
    }

    /// What [`Ledger::observe`] would answer for an observation at `at`, without recording it
    /// (`skinbot plan` reads the ledger and writes nothing).
    pub fn observed_since(
        &self,
        game: Game,
        at: DateTime<Utc>,
        max_gap: chrono::Duration,
    ) -> Result<DateTime<Utc>, LedgerError> {
        let previous = self.observation(&format!("observed:{}", game.as_str()))?;
        Ok(observed_since(previous, at, max_gap))
    }

    /// The recorded observation span (first, last) under `key`.
    fn observation(&self, key: &str) -> Result<Option<Span>, LedgerError> {
        match self.meta.get(key.as_bytes()).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice::<(DateTime<Utc>, DateTime<Utc>)>(&v)
                .map(Some)
                .map_err(|e| LedgerError::Corrupt { tree: "meta", key: key.to_string(), reason: e.to_string() }),
        }
    }

    /// A new custom id, `sb-YYYYMMDDTHHMMSSZ-NNNNNN`, greater (as bytes) than every id issued before, even if
    /// the clock went back. Not flushed: an id that was never recorded was never sent, so reissuing it after
    /// a crash is harmless, and recording one flushes the counter with it.
    pub fn next_custom_id(&self, now: DateTime<Utc>) -> Result<CustomId, LedgerError> {
        let (second, seq) = self
            .meta
            .transaction(|tx| {
                let last = match tx.get(META_LAST_ID)? {
                    None => None,
                    Some(v) => match <[u8; 12]>::try_from(v.as_ref()) {
                        Ok(b) => Some((
                            i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                            u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
                        )),
                        Err(_) => {
                            return Err(ConflictableTransactionError::Abort(LedgerError::Corrupt {
                                tree: "meta",
                                key: META_LAST_ID.into(),
                                reason: "expected 12 bytes".into(),
                            }))
                        }
                    },
                };
                let next = match last {
                    Some((second, seq)) if now.timestamp() <= second => {
                        if seq + 1 < keys::ID_SEQ_LIMIT {
                            (second, seq + 1)
                        } else {
                            // A million ids in one second: borrow the next second rather than widen the id.
                            (second + 1, 1)
                        }
                    }
                    _ => (now.timestamp(), 1),
                };
                let mut value = next.0.to_be_bytes().to_vec();
                value.extend_from_slice(&next.1.to_be_bytes());
                tx.insert(META_LAST_ID, value)?;
                Ok(next)
            })
            .map_err(|e| self.tx_error(e))?;
        keys::custom_id(second, seq)
    }

    /// Intent before send: records `records` (each pending, with its reservation) and their
    /// events in one transaction and flushes to disk before returning. Writes nothing if any custom id is
    /// already recorded or appears twice in `records`.
    pub fn record_intents(&self, records: &[PurchaseRecord]) -> Result<(), LedgerError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut ids = HashSet::new();
        let mut encoded = Vec::with_capacity(records.len());
        for record in records {
            let custom_id = &record.intent.custom_id;
            let invalid =
                |reason: &str| LedgerError::InvalidRecord { custom_id: custom_id.clone(), reason: reason.into() };
            if record.state != PurchaseState::Pending {
                return Err(invalid(&format!("an intent must be pending, not {}", record.state.label())));
            }
            if record.intent.max_price.is_negative() {
                return Err(invalid(&format!("negative max_price {}", record.intent.max_price)));
            }
            if !ids.insert(custom_id) {
                return Err(LedgerError::DuplicateId { custom_id: custom_id.clone() });
            }
            let json = serde_json::to_vec(record).map_err(|e| invalid(&format!("cannot be encoded: {e}")))?;
            encoded.push((record, json));
        }
        (&self.purchases, &self.by_time, &self.open, &self.events, &self.meta)
            .transaction(|(purchases, by_time, open, events, meta)| {
                let mut log = Appender::start(events, meta)?;
                for (record, json) in &encoded {
                    let id = &record.intent.custom_id;
                    if purchases.get(id.as_str())?.is_some() {
                        return Err(ConflictableTransactionError::Abort(LedgerError::DuplicateId {
                            custom_id: id.clone(),
                        }));
                    }
                    purchases.insert(id.as_str(), json.as_slice())?;
                    let index_key = time_index_key(record.created_at, id);
                    by_time.insert(index_key.as_slice(), &[])?;
                    open.insert(index_key, &[])?;
                    let detail = record.transitions.last().map_or("", |t| t.detail.as_str());
                    log.append(record.created_at, EventKind::Intent, detail, record)?;
                }
                log.finish()
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()
    }

    /// Moves a purchase to `state` (see [`crate::domain::lifecycle`]), recording the transition and its event
    /// atomically, flushed. Repeating the current state returns the record unchanged.
    pub fn transition(
        &self,
        id: &CustomId,
        state: PurchaseState,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<PurchaseRecord, LedgerError> {
        self.apply(id, state, at, detail).map(|t| t.record)
    }

    /// [`Ledger::transition`], telling whether it applied and from which state: what the engine
    /// counts and notifies by, so an outcome delivered twice (a websocket event and a poll, a result
    /// recorded again after a failed write) is counted once.
    pub fn apply(
        &self,
        id: &CustomId,
        state: PurchaseState,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<Transitioned, LedgerError> {
        let mut out = self.transition_inner(std::slice::from_ref(id), &state, at, detail)?;
        out.pop().ok_or_else(|| LedgerError::NotFound { custom_id: id.clone() })
    }

    /// Moves every purchase in `ids` to `state` in one transaction (all or none), flushed once: how a
    /// chunk of orders is marked as sent just before its request leaves.
    pub(crate) fn transition_all(
        &self,
        ids: &[CustomId],
        state: &PurchaseState,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<Vec<PurchaseRecord>, LedgerError> {
        Ok(self.transition_inner(ids, state, at, detail)?.into_iter().map(|t| t.record).collect())
    }

    fn transition_inner(
        &self,
        ids: &[CustomId],
        state: &PurchaseState,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<Vec<Transitioned>, LedgerError> {
        let (records, changed) = (&self.purchases, &self.open, &self.events, &self.meta)
            .transaction(|(purchases, open, events, meta)| {
                let abort = |e| Err(ConflictableTransactionError::Abort(e));
                let mut log = Appender::start(events, meta)?;
                let mut out = Vec::with_capacity(ids.len());
                let mut changed = false;
                for id in ids {
                    let Some(value) = purchases.get(id.as_str())? else {
                        return abort(LedgerError::NotFound { custom_id: id.clone() });
                    };
                    let mut record = match decode_record(id.as_str().as_bytes(), &value) {
                        Ok(r) => r,
                        Err(e) => return abort(e),
                    };
                    match check_transition(&record, state) {
                        Err(e) => return abort(e),
                        Ok(Change::NoOp) => {
                            out.push(Transitioned { record, before: None });
                            continue;
                        }
                        Ok(Change::Apply) => {}
                    }
                    let before = record.state.clone();
                    record.transition(state.clone(), at, detail);
                    let json = match serde_json::to_vec(&record) {
                        Ok(j) => j,
                        Err(e) => {
                            return abort(LedgerError::InvalidRecord {
                                custom_id: id.clone(),
                                reason: format!("cannot be encoded: {e}"),
                            })
                        }
                    };
                    purchases.insert(id.as_str(), json)?;
                    let index_key = time_index_key(record.created_at, id);
                    if record.state.is_final() {
                        open.remove(index_key)?;
                    } else {
                        open.insert(index_key, &[])?;
                    }
                    log.append(at, EventKind::Transition, detail, &record)?;
                    changed = true;
                    out.push(Transitioned { record, before: Some(before) });
                }
                log.finish()?;
                Ok((out, changed))
            })
            .map_err(|e| self.tx_error(e))?;
        if changed {
            self.flush()?;
        }
        Ok(records)
    }

    pub fn get(&self, id: &CustomId) -> Result<Option<PurchaseRecord>, LedgerError> {
        match self.purchases.get(id.as_str()).map_err(|e| self.storage(e))? {
            Some(value) => decode_record(id.as_str().as_bytes(), &value).map(Some),
            None => Ok(None),
        }
    }

    /// Every purchase, oldest `created_at` first (ties by custom id).
    pub fn list(&self) -> Result<Vec<PurchaseRecord>, LedgerError> {
        self.indexed("by_time", self.by_time.iter(), None)
    }

    /// Purchases created at or after `since`, oldest first; older ones are skipped by key, not read.
    pub fn list_since(&self, since: DateTime<Utc>) -> Result<Vec<PurchaseRecord>, LedgerError> {
        let start = time_prefix(since);
        self.indexed("by_time", self.by_time.range(start..), Some(since))
    }

    /// Purchases whose state is not final, oldest first: what reconciliation must resolve.
    pub fn open_purchases(&self) -> Result<Vec<PurchaseRecord>, LedgerError> {
        let records = self.indexed("open", self.open.iter(), None)?;
        Ok(records.into_iter().filter(|r| !r.state.is_final()).collect())
    }

    /// How many purchases are open, by state label (what `status`, `/metrics` and the dashboard show).
    pub fn open_by_state(&self) -> Result<std::collections::BTreeMap<String, u64>, LedgerError> {
        let mut open = std::collections::BTreeMap::new();
        for r in self.open_purchases()? {
            *open.entry(r.state.label().to_string()).or_default() += 1;
        }
        Ok(open)
    }

    fn indexed(
        &self,
        name: &'static str,
        keys: sled::Iter,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<PurchaseRecord>, LedgerError> {
        let mut out = Vec::new();
        for key in keys.keys() {
            let key = key.map_err(|e| self.storage(e))?;
            let id = id_from_time_index_key(name, &key)?;
            let record = self.get(&id)?.ok_or_else(|| LedgerError::Corrupt {
                tree: name,
                key: id.to_string(),
                reason: "indexes a purchase that is not in `purchases`".into(),
            })?;
            // The key has microseconds; the record may be finer.
            if since.is_none_or(|since| record.created_at >= since) {
                out.push(record);
            }
        }
        Ok(out)
    }
}

/// The first and the last observation of a list without a longer gap.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// Since when a list observed at `at` has been watched without a gap over `max_gap`, given the
/// recorded span (first, last) of earlier observations.
fn observed_since(
    previous: Option<(DateTime<Utc>, DateTime<Utc>)>,
    at: DateTime<Utc>,
    max_gap: chrono::Duration,
) -> DateTime<Utc> {
    match previous {
        Some((since, last)) if at >= last && at - last <= max_gap => since,
        Some((since, last)) if at < last => since.min(at),
        _ => at,
    }
}

#[cfg(test)]
mod tests;
