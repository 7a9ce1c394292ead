//! Reconciliation: resolves purchases whose outcome is open, and follows bought ones until their
//! trade offer is final.

use std::sync::atomic::Ordering;

use super::executor::still_moving;
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
    let unresolved: Vec<_> = open
        .into_iter()
        .filter(|r| matches!(r.state, PurchaseState::Pending | PurchaseState::Unknown { .. }))
        .collect();
    for chunk in unresolved.chunks(CHUNK) {
        let ids: Vec<CustomId> = chunk.iter().map(|r| r.intent.custom_id.clone()).collect();
        let infos = match engine.client.getinfo_custom_ids(&ids).await {
            Ok(i) => i,
            Err(e) => return engine.api_error("market_getinfo", &e),
        };
        let now = engine.clock.now();
        for r in chunk {
            let cid = r.intent.custom_id.as_str();
            if let Some(info) = infos.iter().find(|i| i.custom_id.as_deref() == Some(cid)) {
                let debited = info.balance_debited_sum.unwrap_or(info.item.price);
                engine.note_debit(debited);
                engine.stats.bought.fetch_add(1, Ordering::Relaxed);
                let state = bought_state(info, debited);
                let detail = format!("resolved: the exchange has buy_id {} for {debited}", info.buy_id);
                tracing::info!(custom_id = cid, "{detail}");
                if let Err(e) = engine.ledger.transition(&r.intent.custom_id, state, now, &detail) {
                    tracing::error!(custom_id = cid, error = %e, "cannot record the resolution");
                }
            } else {
                let age = now - r.created_at;
                let after =
                    chrono::Duration::from_std(engine.config.orders.resolve_after).unwrap_or(chrono::Duration::MAX);
                if age >= after {
                    let reason =
                        format!("unknown to the exchange {} s after sending: nothing was bought", age.num_seconds());
                    engine.stats.not_bought.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(custom_id = cid, "{reason}; reservation of {} released", r.intent.max_price);
                    let state = PurchaseState::NotBought { code: 0, reason: reason.clone() };
                    if let Err(e) = engine.ledger.transition(&r.intent.custom_id, state, now, &reason) {
                        tracing::error!(custom_id = cid, error = %e, "cannot record the resolution");
                    }
                }
            }
        }
    }
}

/// Bought purchases whose offer is still moving: asks `market_getinfo(buy_ids)` and records changes.
pub async fn follow_offers(engine: &Engine) {
    let now = engine.clock.now();
    let records = match engine.ledger.list_since(now - ROLLBACK_WATCH) {
        Ok(r) => r,
        Err(e) => return tracing::error!(error = %e, "cannot read the ledger"),
    };
    let moving: Vec<_> = records
        .into_iter()
        .filter_map(|r| match &r.state {
            PurchaseState::Bought { buy_id, offer, .. } if still_moving(offer) => {
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
