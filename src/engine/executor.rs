//! Sends approved orders. Each order is in the ledger, flushed, with its reservation, before its
//! request leaves; its result is recorded before the next order goes out.

use std::sync::atomic::Ordering;

use super::Engine;
use crate::config::Config;
use crate::domain::{Intent, PurchaseRecord, PurchaseState, Rates};
use crate::exchange::{BatchItem, BuyOrder, BuyTarget, ExchangeError, Purchase, Rejection};
use crate::guard::Approved;

/// Records and sends `approved`: one `market_buy` for a single order, `market_batch_buy` in
/// chunks of the configured size otherwise.
pub async fn execute(engine: &Engine, config: &Config, approved: Vec<Approved>, rates: &Rates) {
    let now = engine.clock.now();
    let mut records = Vec::with_capacity(approved.len());
    for a in approved {
        let custom_id = match engine.ledger.next_custom_id(now) {
            Ok(id) => id,
            Err(e) => return tracing::error!(error = %e, "cannot allocate a custom_id; nothing sent"),
        };
        let intent = Intent { custom_id, candidate: a.into_candidate() };
        records.push(PurchaseRecord::new(intent, now, rates.clone(), config.hash.clone()));
    }
    // Intent before send: intents and reservations are on disk before any request leaves.
    if let Err(e) = engine.ledger.record_intents(&records) {
        return tracing::error!(error = %e, "cannot record intents; nothing sent");
    }
    let link = config.trade_link.clone();
    if let Some(why) = engine.hold_back() {
        return release_unsent(engine, &records, &why);
    }
    if records.len() == 1 {
        let intent = &records[0].intent;
        let order = BuyOrder {
            target: match intent.item_id {
                Some(id) => BuyTarget::Id(id),
                None => BuyTarget::Name { name: intent.name.clone(), game: intent.game },
            },
            max_price: Some(intent.max_price),
            custom_id: Some(intent.custom_id.clone()),
        };
        let result = engine.client.buy(&link, &order).await;
        record_single(engine, intent, result);
        return;
    }
    let chunks: Vec<&[PurchaseRecord]> = records.chunks(config.orders.batch_size.max(1)).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        // Between batches: a stop or a halt keeps the rest from going out.
        if let Some(why) = engine.hold_back() {
            let rest: Vec<PurchaseRecord> = chunks[i..].iter().flat_map(|c| c.iter().cloned()).collect();
            return release_unsent(engine, &rest, &why);
        }
        // Name-only intents cannot go in a batch (it takes ids): they go one by one.
        let (by_id, by_name): (Vec<&PurchaseRecord>, Vec<&PurchaseRecord>) =
            chunk.iter().partition(|r| r.intent.item_id.is_some());
        for r in by_name {
            let order = BuyOrder {
                target: BuyTarget::Name { name: r.intent.name.clone(), game: r.intent.game },
                max_price: Some(r.intent.max_price),
                custom_id: Some(r.intent.custom_id.clone()),
            };
            let result = engine.client.buy(&link, &order).await;
            record_single(engine, &r.intent, result);
        }
        if by_id.is_empty() {
            continue;
        }
        let items: Vec<BatchItem> = by_id
            .iter()
            .filter_map(|r| {
                r.intent.item_id.map(|id| BatchItem {
                    id,
                    max_price: Some(r.intent.max_price),
                    custom_id: Some(r.intent.custom_id.clone()),
                })
            })
            .collect();
        match engine.client.batch_buy(&link, &items).await {
            Ok(result) => {
                // Matched by custom_id when the answer echoes it, else by listing id (unique in a batch).
                let mut used = vec![false; result.purchased.len()];
                for r in &by_id {
                    let cid = r.intent.custom_id.as_str();
                    let purchased = result.purchased.iter().enumerate().find(|(i, p)| {
                        !used[*i]
                            && match p.custom_id.as_deref() {
                                Some(echoed) => echoed == cid,
                                None => Some(p.item.id) == r.intent.item_id,
                            }
                    });
                    let unavailable = result.unavailable.iter().find(|u| match u.custom_id.as_deref() {
                        Some(echoed) => echoed == cid,
                        None => Some(u.id) == r.intent.item_id,
                    });
                    if let Some((i, p)) = purchased {
                        used[i] = true;
                        bought(engine, &r.intent, p);
                    } else if let Some(u) = unavailable {
                        refused(engine, &r.intent, u.error_code, &u.error_message);
                    } else {
                        unknown(engine, &r.intent, "market_batch_buy answered without this item".into());
                    }
                }
                for (p, _) in result.purchased.iter().zip(&used).filter(|(_, u)| !**u) {
                    tracing::error!(
                        buy_id = %p.buy_id, item = %p.item.name, custom_id = ?p.custom_id,
                        "market_batch_buy reports a purchase that matches none of our orders ({} debited)", p.balance_debited_sum
                    );
                }
            }
            Err(e) => {
                for r in &by_id {
                    record_error(engine, &r.intent, &e);
                }
                engine.api_error("market_batch_buy", &e);
            }
        }
    }
}

/// Orders recorded but never sent: nothing reached the exchange, so their reservations go back.
fn release_unsent(engine: &Engine, records: &[PurchaseRecord], why: &str) {
    for r in records {
        released(engine, &r.intent, 0, &format!("not sent: {why}"));
    }
}

fn record_single(engine: &Engine, intent: &Intent, result: Result<Purchase, ExchangeError>) {
    match result {
        Ok(p) => bought(engine, intent, &p),
        Err(e) => {
            record_error(engine, intent, &e);
            engine.api_error("market_buy", &e);
        }
    }
}

fn bought(engine: &Engine, intent: &Intent, p: &Purchase) {
    engine.stats.bought.fetch_add(1, Ordering::Relaxed);
    engine.note_debit(p.balance_debited_sum);
    tracing::info!(
        custom_id = %intent.custom_id, buy_id = %p.buy_id, item = %intent.name, strategy = %intent.strategy,
        "bought for {}", p.balance_debited_sum
    );
    let state = PurchaseState::Bought {
        buy_id: p.buy_id,
        item_id: p.item.id,
        debited: p.balance_debited_sum,
        offer: p.offer_status.clone(),
        tradeofferid: None,
    };
    transition(engine, intent, state, format!("bought for {}, buy_id {}", p.balance_debited_sum, p.buy_id));
}

/// The exchange refused a buy: released only for a documented "nothing was bought" answer; anything
/// else may hide a purchase and is resolved by `custom_id`.
fn refused(engine: &Engine, intent: &Intent, code: i64, message: &str) {
    if !Rejection::buy_bought_nothing(code, message) {
        return unknown(engine, intent, format!("exchange says {code} {message}"));
    }
    released(engine, intent, code, message);
}

/// Nothing was bought: the reservation goes back.
fn released(engine: &Engine, intent: &Intent, code: i64, message: &str) {
    engine.stats.not_bought.fetch_add(1, Ordering::Relaxed);
    tracing::info!(custom_id = %intent.custom_id, item = %intent.name, "not bought: {code} {message}");
    transition(
        engine,
        intent,
        PurchaseState::NotBought { code, reason: message.to_string() },
        format!("rejected: {code} {message}; reservation of {} released", intent.max_price),
    );
}

fn unknown(engine: &Engine, intent: &Intent, reason: String) {
    engine.stats.unknown.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(custom_id = %intent.custom_id, item = %intent.name, "outcome unknown: {reason}; will resolve with market_getinfo");
    transition(engine, intent, PurchaseState::Unknown { reason: reason.clone() }, reason);
}

fn record_error(engine: &Engine, intent: &Intent, e: &ExchangeError) {
    match e {
        ExchangeError::Rejected { code, message, .. } => refused(engine, intent, *code, message),
        // The exchange refused before doing anything.
        ExchangeError::RateLimited { .. } => released(engine, intent, -7, "request_limit_reached"),
        ExchangeError::Fatal { code, message, .. } => released(engine, intent, *code, message),
        // Nothing reached the exchange.
        ExchangeError::NotSent { reason, .. } => released(engine, intent, 0, &format!("not sent: {reason}")),
        // It may have been bought: resolve, never buy again under a new id.
        ExchangeError::OutcomeUnknown { reason, .. } => unknown(engine, intent, reason.clone()),
        ExchangeError::Malformed { field, detail, .. } => {
            unknown(engine, intent, format!("unreadable answer at {field}: {detail}"))
        }
    }
}

fn transition(engine: &Engine, intent: &Intent, state: PurchaseState, detail: String) {
    let now = engine.clock.now();
    if let Err(e) = engine.ledger.transition(&intent.custom_id, state, now, &detail) {
        // The record stays open (pending); reconciliation will ask the exchange about it.
        tracing::error!(custom_id = %intent.custom_id, error = %e, "cannot record the result");
    }
}
