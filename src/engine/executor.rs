//! Sends approved orders. Each chunk of orders is in the ledger, flushed, with its reservations,
//! before its request leaves, and marked "sent", flushed, just before; its result is recorded before
//! the next chunk goes out.

use std::sync::atomic::Ordering;

use super::Engine;
use crate::config::Config;
use crate::domain::{
    BuyId, Candidate, CustomId, Intent, ItemId, OfferStatus, PurchaseRecord, PurchaseState, Rates, TradeLink, Usd,
};
use crate::exchange::{BatchItem, BuyOrder, BuyTarget, ExchangeError, Purchase, Rejection};
use crate::guard::Approved;
use crate::strategy::file::Strategy;

/// Records and sends `approved`: one `market_buy` for a single order, `market_batch_buy` in chunks
/// of the configured size otherwise. Each chunk's intents are recorded just before the chunk leaves;
/// a stop or halt between chunks keeps the rest unrecorded and unsent. The guard approved the whole
/// tick at once, so recording later chunks later changes none of its arithmetic.
pub(crate) async fn execute(
    engine: &Engine,
    config: &Config,
    strategies: &[Strategy],
    approved: Vec<Approved>,
    rates: &Rates,
) {
    let candidates: Vec<Candidate> = approved.into_iter().map(Approved::into_candidate).collect();
    let lone = candidates.len() == 1;
    let mut left = candidates.len();
    // A batch goes to one recipient: orders are grouped by the recipients their strategy allows
    // (priority order kept within a group).
    let mut groups: Vec<(&[String], Vec<Candidate>)> = Vec::new();
    for c in candidates {
        let allowed = strategies.iter().find(|s| s.name == c.strategy).map_or(&[][..], |s| &s.recipients[..]);
        match groups.iter_mut().find(|(a, _)| *a == allowed) {
            Some((_, group)) => group.push(c),
            None => groups.push((allowed, vec![c])),
        }
    }
    for (allowed, group) in &groups {
        for chunk in group.chunks(config.orders.batch_size.max(1)) {
            if let Some(why) = engine.hold_back() {
                tracing::warn!("{left} approved orders not recorded and not sent: {why}");
                return;
            }
            left -= chunk.len();
            let Some(recipient) = engine.next_recipient(config, allowed) else {
                tracing::warn!("{} approved orders not sent: none of their recipients can receive items", chunk.len());
                continue;
            };
            let Some(records) = record(engine, config, chunk, rates, &recipient.name) else { return };
            if config.dry_run {
                simulate(engine, &records);
                continue;
            }
            send_chunk(engine, &recipient.link, &records, lone).await;
        }
    }
}

/// Sends one recorded chunk: a lone order, or one without a listing id (a batch takes ids), as
/// market_buy; the rest as one market_batch_buy.
async fn send_chunk(engine: &Engine, link: &TradeLink, records: &[PurchaseRecord], lone: bool) {
    let (by_id, singles): (Vec<&PurchaseRecord>, Vec<&PurchaseRecord>) =
        records.iter().partition(|r| r.intent.item_id.is_some() && !lone);
    for r in singles {
        let order = BuyOrder {
            target: match r.intent.item_id {
                Some(id) => BuyTarget::Id(id),
                None => BuyTarget::Name { name: r.intent.name.clone(), game: r.intent.game },
            },
            max_price: Some(r.intent.max_price),
            custom_id: Some(r.intent.custom_id.clone()),
        };
        let result = engine.client.buy_marked(link, &order, || mark_sent(engine, &[&r.intent])).await;
        record_single(engine, &r.intent, result);
    }
    if !by_id.is_empty() {
        send_batch(engine, link, &by_id).await;
    }
}

/// A dry run's fills: each order is bought at the price it was decided on, with a made-up buy id,
/// and its offer counts as accepted at once. Nothing is sent.
fn simulate(engine: &Engine, records: &[PurchaseRecord]) {
    for r in records {
        let report = Report {
            buy_id: BuyId::new(engine.next_simulated_buy_id()),
            item_id: r.intent.item_id.unwrap_or(ItemId::new(0)),
            item_price: r.intent.price_seen,
            debited: Some(r.intent.price_seen.ceil_cents()),
            offer: OfferStatus::Accepted,
            tradeofferid: None,
        };
        record_bought(engine, &r.intent, &report, "dry run: simulated, nothing was sent");
    }
}

/// Allocates custom ids and records `chunk` as intents (pending, reserved, for `recipient`), flushed.
fn record(
    engine: &Engine,
    config: &Config,
    chunk: &[Candidate],
    rates: &Rates,
    recipient: &str,
) -> Option<Vec<PurchaseRecord>> {
    let now = engine.clock.now();
    let mut records = Vec::with_capacity(chunk.len());
    for c in chunk {
        let custom_id = match engine.ledger.next_custom_id(now) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "cannot allocate a custom_id; nothing sent");
                return None;
            }
        };
        let intent = Intent { custom_id, candidate: c.clone() };
        let mut record = PurchaseRecord::new(intent, now, rates.clone(), config.hash.clone());
        record.recipient = Some(recipient.to_string());
        records.push(record);
    }
    // Intent before send: intents and reservations are on disk before the request leaves.
    if let Err(e) = engine.ledger.record_intents(&records) {
        tracing::error!(error = %e, "cannot record intents; nothing sent");
        return None;
    }
    Some(records)
}

/// The last step before a request leaves (after the rate limiter's wait): a stop or halt that came
/// meanwhile still keeps it back; otherwise its intents are marked sent, flushed. An error here
/// sends nothing (the caller records the order as not sent).
fn mark_sent(engine: &Engine, intents: &[&Intent]) -> Result<(), String> {
    if let Some(why) = engine.hold_back() {
        return Err(why);
    }
    let ids: Vec<CustomId> = intents.iter().map(|i| i.custom_id.clone()).collect();
    engine
        .ledger
        .transition_all(&ids, &PurchaseState::Sent, engine.clock.now(), "request leaving")
        .map(|_| ())
        .map_err(|e| format!("cannot mark the order as sent in the ledger: {e}"))
}

async fn send_batch(engine: &Engine, link: &TradeLink, by_id: &[&PurchaseRecord]) {
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
    let intents: Vec<&Intent> = by_id.iter().map(|r| &r.intent).collect();
    let result = match engine.client.batch_buy_marked(link, &items, || mark_sent(engine, &intents)).await {
        Ok(result) => result,
        Err(e) => {
            for r in by_id {
                record_error(engine, &r.intent, &e);
            }
            return engine.api_error("market_batch_buy", &e);
        }
    };
    // Matched by custom_id when the answer echoes it, else by listing id (unique in a batch).
    let mut used = vec![false; result.purchased.len()];
    for r in by_id {
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
    let report = Report {
        buy_id: p.buy_id,
        item_id: p.item.id,
        item_price: p.item.price,
        debited: Some(p.balance_debited_sum),
        offer: p.offer_status.clone(),
        tradeofferid: None,
    };
    record_bought(engine, intent, &report, "the buy's answer");
}

/// What the exchange says was bought for one order.
pub(super) struct Report {
    pub buy_id: BuyId,
    pub item_id: ItemId,
    pub item_price: Usd,
    /// `None` when the answer does not say (getinfo and history may omit it).
    pub debited: Option<Usd>,
    pub offer: OfferStatus,
    pub tradeofferid: Option<String>,
}

/// Records a purchase the exchange reports, checked against what was decided: the item, and the
/// debit against `max_price`. A disagreement is recorded as reported, counted against the budget at
/// the higher amount, logged as an error naming both values, and halts buying.
pub(super) fn record_bought(engine: &Engine, intent: &Intent, report: &Report, source: &str) {
    let mut disagreements = Vec::new();
    match report.debited {
        Some(d) if d > intent.max_price => {
            disagreements.push(format!("debited {d}, above the order's max_price {}", intent.max_price))
        }
        Some(_) => {}
        None => disagreements.push(format!("no debit reported (max_price {})", intent.max_price)),
    }
    if let Some(ordered) = intent.item_id.filter(|id| *id != report.item_id) {
        disagreements.push(format!("bought listing {}, ordered listing {ordered}", report.item_id));
    }
    let counted = match report.debited {
        Some(d) if disagreements.is_empty() => d,
        Some(d) => d.max(intent.max_price),
        None => report.item_price.max(intent.max_price),
    };
    let reported = report.debited.map_or_else(|| "no debit".to_string(), |d| format!("debited {d}"));
    let mut detail = format!("bought ({source}): buy_id {}, {reported}", report.buy_id);
    let what = disagreements.join("; ");
    if !disagreements.is_empty() {
        detail = format!("{detail}; DISAGREES with the order: {what}; counted as {counted}");
    }
    let state = PurchaseState::Bought {
        buy_id: report.buy_id,
        item_id: report.item_id,
        debited: counted,
        offer: report.offer.clone(),
        tradeofferid: report.tradeofferid.clone(),
    };
    // Counted, told and logged only once the ledger holds it, and only the first time: a result
    // recorded again (reconciliation after a failed write, the buy's answer and market_getinfo
    // both) changes nothing.
    // The recipient comes from the record: the intent does not carry it.
    let (newly, unrecorded, recipient) =
        match engine.ledger.apply(&intent.custom_id, state, engine.clock.now(), &detail) {
            Ok(t) => (
                t.before.is_some_and(|before| !matches!(before, PurchaseState::Bought { .. })),
                false,
                t.record.recipient,
            ),
            Err(e) => {
                // The record stays open; reconciliation will ask the exchange about it and record it then.
                tracing::error!(custom_id = %intent.custom_id, error = %e, "cannot record the result");
                (false, true, None)
            }
        };
    // A disagreement halts even when it could not be recorded (it is money at stake).
    if !disagreements.is_empty() && (newly || unrecorded) {
        tracing::error!(
            custom_id = %intent.custom_id, buy_id = %report.buy_id, item = %intent.name,
            "the exchange's purchase disagrees with the order: {what}; counted against the budget as {counted}"
        );
        if engine.config().halt.on_disagreement {
            engine.halt("disagreement", format!("purchase {} disagrees with its order: {what}", intent.custom_id));
        }
    }
    if !newly {
        return;
    }
    engine.stats.bought.fetch_add(1, Ordering::Relaxed);
    engine.note_debit(counted);
    let simulated = engine.config().dry_run;
    if !simulated {
        // A dry run's simulated fills stay out of the money metrics (see the README).
        engine.stats.metrics.order("bought");
        engine.stats.metrics.spent(counted);
    }
    let mut told = note(intent, report.buy_id, counted, recipient);
    told.simulated = simulated;
    engine.notifier().purchase(engine.clock.now(), told);
    if disagreements.is_empty() {
        tracing::info!(
            custom_id = %intent.custom_id, buy_id = %report.buy_id, item = %intent.name, strategy = %intent.strategy,
            "bought for {counted}"
        );
    }
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
    let applied = transition(
        engine,
        intent,
        PurchaseState::NotBought { code, reason: message.to_string() },
        format!("rejected: {code} {message}; reservation of {} released", intent.max_price),
    );
    if applied {
        engine.stats.not_bought.fetch_add(1, Ordering::Relaxed);
        engine.stats.metrics.order("not_bought");
        tracing::info!(custom_id = %intent.custom_id, item = %intent.name, "not bought: {code} {message}");
    }
}

fn unknown(engine: &Engine, intent: &Intent, reason: String) {
    if transition(engine, intent, PurchaseState::Unknown { reason: reason.clone() }, reason.clone()) {
        engine.stats.unknown.fetch_add(1, Ordering::Relaxed);
        engine.stats.metrics.order("unknown");
        tracing::warn!(custom_id = %intent.custom_id, item = %intent.name, "outcome unknown: {reason}; will resolve with market_getinfo");
    }
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

/// A purchase as the webhook tells it.
pub(super) fn note(
    intent: &Intent,
    buy_id: BuyId,
    debited: Usd,
    recipient: Option<String>,
) -> crate::notify::PurchaseNote {
    crate::notify::PurchaseNote {
        custom_id: intent.custom_id.to_string(),
        buy_id: buy_id.get(),
        item: intent.name.clone(),
        game: intent.game.to_string(),
        strategy: intent.strategy.clone(),
        rule: intent.rule.clone(),
        recipient,
        price: debited.into(),
        simulated: false,
    }
}

/// Records `state`; whether it applied (metrics count only what the ledger holds, once).
fn transition(engine: &Engine, intent: &Intent, state: PurchaseState, detail: String) -> bool {
    let now = engine.clock.now();
    match engine.ledger.apply(&intent.custom_id, state, now, &detail) {
        Ok(t) => t.before.is_some(),
        Err(e) => {
            // The record stays open (pending); reconciliation will ask the exchange about it.
            tracing::error!(custom_id = %intent.custom_id, error = %e, "cannot record the result");
            false
        }
    }
}
