//! Reconciliation: resolves purchases whose outcome is open, and follows bought ones until their
//! trade offer is final.

use std::sync::atomic::Ordering;

use super::Engine;
use crate::domain::{BuyId, CustomId, PurchaseState};
use crate::exchange::PurchaseInfo;

/// Ask about at most this many purchases per `market_getinfo`.
const CHUNK: usize = 100;

/// How long an accepted offer is still watched for a rollback (Steam's trade protection window).
const ROLLBACK_WATCH: chrono::Duration = chrono::Duration::days(8);

/// Pending (from a crash) and unknown purchases: found by custom_id → bought; unknown to the
/// exchange long enough after sending → nothing was bought, the reservation is released.
pub async fn resolve_open(engine: &Engine) {
    let open = match engine.ledger.open_purchases() {
        Ok(list) => list,
        Err(e) => return tracing::error!(error = %e, "cannot read open purchases"),
    };
    let unresolved: Vec<_> = open.into_iter().filter(|r| r.state.is_unresolved()).collect();
    let mut unheard = Vec::new();
    for chunk in unresolved.chunks(CHUNK) {
        let ids: Vec<CustomId> = chunk.iter().map(|r| r.intent.custom_id.clone()).collect();
        let infos = match engine.client.getinfo_custom_ids(&ids).await {
            Ok(i) => i,
            Err(e) => return engine.api_error("market_getinfo", &e),
        };
        for r in chunk {
            match infos.iter().find(|i| i.custom_id.as_deref() == Some(r.intent.custom_id.as_str())) {
                Some(info) => resolve_bought(engine, r, info, "market_getinfo"),
                None => unheard.push(r),
            }
        }
    }
    // Not known by custom_id. Released only when the last attempt is old enough for any request to
    // have landed, and market_history (searched separately) does not have it either.
    let now = engine.clock.now();
    let after = chrono::Duration::from_std(engine.config().orders.resolve_after).unwrap_or(chrono::Duration::MAX);
    let due: Vec<_> = unheard.into_iter().filter(|r| now - last_attempt(r) >= after).collect();
    if due.is_empty() {
        return;
    }
    let oldest = due.iter().map(|r| r.created_at).min().unwrap_or(now);
    // The exchange's clock may differ from ours (a sandbox may even run faster): search widely.
    let starting = u64::try_from((oldest - chrono::Duration::days(1)).timestamp()).unwrap_or(0);
    let ending = u64::try_from((now + chrono::Duration::days(365)).timestamp()).unwrap_or(u64::MAX);
    let history = match engine.client.history_all(starting, ending).await {
        Ok(h) => h,
        Err(e) => return engine.api_error("market_history", &e),
    };
    for r in due {
        let cid = r.intent.custom_id.as_str();
        if let Some(info) = history.iter().find(|i| i.custom_id.as_deref() == Some(cid)) {
            resolve_bought(engine, r, info, "market_history");
            continue;
        }
        let age = now - last_attempt(r);
        let reason =
            format!("unknown to the exchange {} s after the last attempt: nothing was bought", age.num_seconds());
        engine.stats.not_bought.fetch_add(1, Ordering::Relaxed);
        tracing::info!(custom_id = cid, "{reason}; reservation of {} released", r.intent.max_price);
        let state = PurchaseState::NotBought { code: 0, reason: reason.clone() };
        if let Err(e) = engine.ledger.transition(&r.intent.custom_id, state, now, &reason) {
            tracing::error!(custom_id = cid, error = %e, "cannot record the resolution");
        }
    }
}

/// When the purchase was last sent (or recorded, for one a crash left pending).
fn last_attempt(r: &crate::domain::PurchaseRecord) -> chrono::DateTime<chrono::Utc> {
    r.transitions.last().map(|t| t.at).unwrap_or(r.created_at).max(r.created_at)
}

fn resolve_bought(engine: &Engine, r: &crate::domain::PurchaseRecord, info: &PurchaseInfo, source: &str) {
    let cid = r.intent.custom_id.as_str();
    let debited = info.balance_debited_sum.unwrap_or(info.item.price);
    engine.note_debit(debited);
    engine.stats.bought.fetch_add(1, Ordering::Relaxed);
    let detail = format!("resolved by {source}: the exchange has buy_id {} for {debited}", info.buy_id);
    tracing::info!(custom_id = cid, "{detail}");
    if let Err(e) =
        engine.ledger.transition(&r.intent.custom_id, bought_state(info, debited), engine.clock.now(), &detail)
    {
        tracing::error!(custom_id = cid, error = %e, "cannot record the resolution");
    }
}

/// Bought purchases whose offer is still moving: asks `market_getinfo(buy_ids)` and records changes.
pub async fn follow_offers(engine: &Engine) {
    let now = engine.clock.now();
    // Offers still moving are open purchases. Accepted ones can still be rolled back for a while;
    // they are swept less often, as that is rare and the sweep reads more of the ledger.
    let mut records = match engine.ledger.open_purchases() {
        Ok(r) => r,
        Err(e) => return tracing::error!(error = %e, "cannot read the ledger"),
    };
    if engine.rollback_sweep_due(now) {
        match engine.ledger.list_since(now - ROLLBACK_WATCH) {
            Ok(recent) => records.extend(
                recent.into_iter().filter(|r| matches!(&r.state, PurchaseState::Bought { offer, .. } if *offer == crate::domain::OfferStatus::Accepted)),
            ),
            Err(e) => tracing::error!(error = %e, "cannot read the ledger"),
        }
    }
    let moving: Vec<_> = records
        .into_iter()
        .filter_map(|r| match &r.state {
            PurchaseState::Bought { buy_id, offer, .. } if r.state.is_followed() => {
                Some((r.intent.custom_id.clone(), *buy_id, offer.clone()))
            }
            _ => None,
        })
        .collect();
    for chunk in moving.chunks(CHUNK) {
        let ids: Vec<BuyId> = chunk.iter().map(|(_, b, _)| *b).collect();
        let infos = match engine.client.getinfo_buy_ids(&ids).await {
            Ok(i) => i,
            Err(e) => return engine.api_error("market_getinfo", &e),
        };
        let now = engine.clock.now();
        for (cid, buy_id, offer) in chunk {
            let Some(info) = infos.iter().find(|i| i.buy_id == *buy_id) else { continue };
            if &info.offer_status == offer {
                continue;
            }
            let Ok(Some(rec)) = engine.ledger.get(cid) else { continue };
            let debited = match &rec.state {
                PurchaseState::Bought { debited, .. } => *debited,
                _ => continue,
            };
            let state = bought_state(info, debited);
            let detail = match &info.error_reason {
                Some(why) => format!("offer {} → {} ({why})", offer, info.offer_status),
                None => format!("offer {} → {}", offer, info.offer_status),
            };
            tracing::info!(custom_id = %cid, item = %rec.intent.name, "{detail}");
            if let Err(e) = engine.ledger.transition(cid, state, now, &detail) {
                tracing::warn!(custom_id = %cid, error = %e, "offer status change not recorded");
            }
        }
    }
}

fn bought_state(info: &PurchaseInfo, debited: crate::domain::Usd) -> PurchaseState {
    PurchaseState::Bought {
        buy_id: info.buy_id,
        item_id: info.item.id,
        debited,
        offer: info.offer_status.clone(),
        tradeofferid: info.tradeofferid.clone(),
    }
}
