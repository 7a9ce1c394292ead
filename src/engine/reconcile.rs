//! Reconciliation: resolves purchases whose outcome is open, and follows bought ones until their
//! trade offer is final.

use std::sync::atomic::Ordering;

use super::executor::{record_bought, Report};
use super::Engine;
use crate::domain::{BuyId, CustomId, ItemId, OfferStatus, PurchaseRecord, PurchaseState};
use crate::exchange::PurchaseInfo;

/// Ask about at most this many purchases per `market_getinfo`.
const CHUNK: usize = 100;

/// How long an accepted offer is still watched for a rollback (Steam's trade protection window).
pub(super) const ROLLBACK_WATCH: chrono::Duration = chrono::Duration::days(8);

/// Purchases whose outcome is open (pending from a crash, sent, unknown): found by the exchange →
/// bought; pending and never sent → released at once; unknown to the exchange long enough after
/// the request left → nothing was bought, the reservation is released. Every ten minutes, also
/// looks for purchases the exchange completed after the ledger had released them.
pub(crate) async fn resolve_open(engine: &Engine) {
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
        // Every item of this answer is one of ours; one that does not say which keeps the rest
        // from being called absent.
        let anonymous = infos.iter().any(|i| i.custom_id.is_none());
        for r in chunk {
            match find(&infos, r) {
                Some(info) => resolve_bought(engine, r, info, "market_getinfo"),
                None if anonymous => tracing::warn!(
                    custom_id = %r.intent.custom_id,
                    "market_getinfo answered items without custom_id: cannot tell whether this order is among them; it stays open"
                ),
                None => unheard.push(r),
            }
        }
    }
    let now = engine.clock.now();
    recheck_released(engine, now).await;
    // Recorded but never sent (a stop or crash came before its request left): nothing to wait for.
    let (never_sent, sent): (Vec<_>, Vec<_>) = unheard.into_iter().partition(|r| r.never_sent());
    for r in never_sent {
        release(engine, r, now, "recorded but never sent: the request did not leave before skinbot stopped".into());
    }
    // Sent and not known by custom_id. Released only when the last attempt is old enough for any
    // request to have landed, and market_history (searched separately) does not have it either.
    let after = chrono::Duration::from_std(engine.config().orders.resolve_after).unwrap_or(chrono::Duration::MAX);
    let due: Vec<_> = sent.into_iter().filter(|r| now - r.last_attempt() >= after).collect();
    let sweep = engine.history_sweep_due(now);
    if due.is_empty() && !sweep {
        return;
    }
    let oldest = due.iter().map(|r| r.created_at).min().unwrap_or(now).min(now - LATE_PURCHASE_WATCH);
    let history = match history_since(engine, oldest, now).await {
        Ok(h) => h,
        Err(e) => return engine.api_error("market_history", &e),
    };
    for r in due {
        if let Some(info) = find(&history, r) {
            resolve_bought(engine, r, info, "market_history");
            continue;
        }
        if let Some(info) =
            history.iter().find(|i| i.custom_id.is_none() && r.intent.item_id.is_none() && i.item.name == r.intent.name)
        {
            tracing::warn!(
                custom_id = %r.intent.custom_id, buy_id = %info.buy_id,
                "market_history has a purchase of this item without custom_id: it may be this order; it stays open"
            );
            continue;
        }
        let age = now - r.last_attempt();
        release(
            engine,
            r,
            now,
            format!("{UNHEARD} {} s after the last attempt: nothing was bought", age.num_seconds()),
        );
    }
    if sweep {
        late_purchases(engine, &history);
    }
}

/// The exchange's record of this order: by `custom_id`, else (an answer that omits it) by the
/// listing it was for.
fn find<'a>(infos: &'a [PurchaseInfo], r: &PurchaseRecord) -> Option<&'a PurchaseInfo> {
    let cid = r.intent.custom_id.as_str();
    infos
        .iter()
        .find(|i| i.custom_id.as_deref() == Some(cid))
        .or_else(|| infos.iter().find(|i| i.custom_id.is_none() && r.intent.item_id.is_some_and(|id| id == i.item.id)))
}

/// `market_history` from `since` on; the exchange's clock may differ from ours (a sandbox may even
/// run faster): searched widely.
async fn history_since(
    engine: &Engine,
    since: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<PurchaseInfo>, crate::exchange::ExchangeError> {
    let starting = u64::try_from((since - chrono::Duration::days(1)).timestamp()).unwrap_or(0);
    let ending = u64::try_from((now + chrono::Duration::days(365)).timestamp()).unwrap_or(u64::MAX);
    engine.client.history_all(starting, ending).await
}

/// How a release for want of news begins: the one kind of `not_bought` that a late purchase can
/// contradict (a documented refusal or an order never sent cannot).
const UNHEARD: &str = "unknown to the exchange";

/// Released for want of news: a purchase the exchange reports later is recorded as bought after all.
pub(super) fn released_unheard(state: &PurchaseState) -> bool {
    matches!(state, PurchaseState::NotBought { reason, .. } if reason.starts_with(UNHEARD))
}

/// How long an order released for want of news is still asked about at every poll.
const RECHECK_RELEASED: chrono::Duration = chrono::Duration::hours(1);

/// Orders released in the last hour because the exchange had not heard of them: asked about again
/// by `custom_id`, so a purchase that landed late (a slow proxy) is in the ledger within a poll,
/// not only at the next history sweep.
async fn recheck_released(engine: &Engine, now: chrono::DateTime<chrono::Utc>) {
    let released: Vec<PurchaseRecord> = match engine.ledger.list_since(now - RECHECK_RELEASED) {
        Ok(list) => list
            .into_iter()
            .filter(|r| released_unheard(&r.state))
            .filter(|r| now - r.last_attempt() <= RECHECK_RELEASED)
            .collect(),
        Err(e) => return tracing::error!(error = %e, "cannot read recent purchases"),
    };
    for chunk in released.chunks(CHUNK) {
        let ids: Vec<CustomId> = chunk.iter().map(|r| r.intent.custom_id.clone()).collect();
        let infos = match engine.client.getinfo_custom_ids(&ids).await {
            Ok(i) => i,
            Err(e) => return engine.api_error("market_getinfo", &e),
        };
        for r in chunk {
            if let Some(info) = infos.iter().find(|i| i.custom_id.as_deref() == Some(r.intent.custom_id.as_str())) {
                tracing::error!(
                    custom_id = %r.intent.custom_id, buy_id = %info.buy_id,
                    "the exchange completed a purchase after it was released as not bought; recording it as bought"
                );
                resolve_bought(engine, r, info, "market_getinfo, after it was released");
            }
        }
    }
}

/// How far back the history sweep looks for purchases the exchange completed late.
const LATE_PURCHASE_WATCH: chrono::Duration = chrono::Duration::days(1);

/// Purchases in the exchange's history that the ledger holds as not bought: the exchange completed
/// them after the ledger released them (a slow proxy, a lost answer). Recorded as bought, loudly.
fn late_purchases(engine: &Engine, history: &[PurchaseInfo]) {
    for info in history {
        let Some(cid) = info.custom_id.as_deref().and_then(|c| c.parse::<CustomId>().ok()) else { continue };
        let Ok(Some(record)) = engine.ledger.get(&cid) else { continue };
        if matches!(record.state, PurchaseState::NotBought { .. }) {
            tracing::error!(
                custom_id = %cid, buy_id = %info.buy_id,
                "the exchange shows a purchase the ledger had released as not bought; recording it as bought"
            );
            resolve_bought(engine, &record, info, "market_history, after it was released");
        }
    }
}

fn release(engine: &Engine, r: &PurchaseRecord, now: chrono::DateTime<chrono::Utc>, reason: String) {
    let cid = r.intent.custom_id.as_str();
    let state = PurchaseState::NotBought { code: 0, reason: reason.clone() };
    match engine.ledger.apply(&r.intent.custom_id, state, now, &reason) {
        Ok(t) if t.before.is_some() => {
            engine.stats.not_bought.fetch_add(1, Ordering::Relaxed);
            engine.stats.metrics.order("not_bought");
            tracing::info!(custom_id = cid, "{reason}; reservation of {} released", r.intent.max_price);
        }
        Ok(_) => {}
        Err(e) => tracing::error!(custom_id = cid, error = %e, "cannot record the resolution"),
    }
}

pub(super) fn resolve_bought(engine: &Engine, r: &PurchaseRecord, info: &PurchaseInfo, source: &str) {
    let report = Report {
        buy_id: info.buy_id,
        item_id: info.item.id,
        item_price: info.item.price,
        debited: info.balance_debited_sum,
        offer: info.offer_status.clone(),
        tradeofferid: info.tradeofferid.clone(),
    };
    record_bought(engine, &r.intent, &report, source);
}

/// Bought purchases whose offer is still moving: asks `market_getinfo(buy_ids)` and records changes.
/// While the websocket brings offer changes as they happen, only every so often (see `events`).
pub(crate) async fn follow_offers(engine: &Engine) {
    let now = engine.clock.now();
    if !engine.events.follow_due(now) {
        return;
    }
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
        for (cid, buy_id, offer) in chunk {
            let Some(info) = infos.iter().find(|i| i.buy_id == *buy_id) else { continue };
            if &info.offer_status == offer {
                continue;
            }
            let news = OfferNews {
                buy_id: info.buy_id,
                item_id: Some(info.item.id),
                offer: &info.offer_status,
                tradeofferid: info.tradeofferid.as_deref(),
                error_reason: info.error_reason.as_deref(),
            };
            record_offer(engine, cid, &news, None);
        }
    }
}

/// What the exchange says about a bought purchase's trade offer now (`market_getinfo`, or a
/// `status_change` event).
pub(super) struct OfferNews<'a> {
    pub buy_id: BuyId,
    /// `None` when the report does not say (the recorded listing is kept).
    pub item_id: Option<ItemId>,
    pub offer: &'a OfferStatus,
    pub tradeofferid: Option<&'a str>,
    pub error_reason: Option<&'a str>,
}

/// Records a bought purchase's new offer status; `via` names a source other than polling. The
/// lifecycle refuses what contradicts the record (another buy_id, a final status moving on).
/// Returns whether the ledger changed.
pub(super) fn record_offer(engine: &Engine, cid: &CustomId, news: &OfferNews<'_>, via: Option<&str>) -> bool {
    let Ok(Some(rec)) = engine.ledger.get(cid) else { return false };
    apply_offer(engine, &rec, news, via)
}

/// [`record_offer`] against `rec` as read: the record may have moved on since (a websocket event
/// and a poll with the same news); what counts is what the ledger's transaction applies.
fn apply_offer(engine: &Engine, rec: &PurchaseRecord, news: &OfferNews<'_>, via: Option<&str>) -> bool {
    let cid = &rec.intent.custom_id;
    let (debited, item_id, offer) = match &rec.state {
        PurchaseState::Bought { debited, item_id, offer, .. } => (*debited, *item_id, offer),
        _ => return false,
    };
    if offer == news.offer {
        return false;
    }
    let state = PurchaseState::Bought {
        buy_id: news.buy_id,
        item_id: news.item_id.unwrap_or(item_id),
        debited,
        offer: news.offer.clone(),
        tradeofferid: news.tradeofferid.map(str::to_string),
    };
    let mut detail = format!("offer {offer} → {}", news.offer);
    if let Some(why) = news.error_reason {
        detail.push_str(&format!(" ({why})"));
    }
    if let Some(via) = via {
        detail.push_str(&format!(", by {via}"));
    }
    match engine.ledger.apply(cid, state, engine.clock.now(), &detail) {
        // Someone else recorded this news first: nothing to count or tell.
        Ok(t) if t.before.is_none() => false,
        Ok(t) => {
            tracing::info!(custom_id = %cid, item = %rec.intent.name, "{detail}");
            // The state the transaction left, not the one read before it.
            let was = match t.before {
                Some(PurchaseState::Bought { offer, .. }) => offer,
                _ => offer.clone(),
            };
            if news.offer.is_final() && !was.is_final() {
                engine.recipient_failed(rec.recipient.as_deref(), news.offer);
                engine.delivery_ended(news.offer);
            }
            offer_failed(engine, rec, &was, news, debited);
            true
        }
        Err(e) => {
            tracing::warn!(custom_id = %cid, error = %e, "offer status change not recorded");
            false
        }
    }
}

/// A bought item's offer that just failed: a delivery that failed (its debit is refunded by the
/// exchange, and counted so) or a rollback after acceptance (not assumed refunded, as in `ledger
/// summary`); both go to the webhook.
fn offer_failed(
    engine: &Engine,
    rec: &PurchaseRecord,
    was: &OfferStatus,
    news: &OfferNews<'_>,
    debited: crate::domain::Usd,
) {
    if was.is_failure() || !news.offer.is_failure() {
        return;
    }
    let rollback = matches!(news.offer, OfferStatus::RollbackUser | OfferStatus::RollbackSupplier);
    if !rollback && !engine.config().dry_run {
        engine.stats.metrics.refunded(debited);
    }
    let note = super::executor::note(&rec.intent, news.buy_id, debited, rec.recipient.clone());
    let event = crate::notify::Event::offer_failed(engine.clock.now(), note, news.offer.as_str(), rollback);
    engine.notifier().send(event);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rust_decimal_macros::dec;
    use secrecy::SecretString;

    use super::*;
    use crate::config::{Config, NotifySettings};
    use crate::domain::{Candidate, Game, Intent, Rates, Usd};
    use crate::engine::executor::{record_bought, Report};
    use crate::engine::{clock::TokioClock, Deps};
    use crate::exchange::{Client, ClientConfig};
    use crate::ledger::Ledger;
    use crate::notify::{EventKind, Notifier};

    /// An engine that never reaches an exchange (nothing here calls it), with a webhook queue the
    /// test reads, and one recorded order.
    fn engine_with_order() -> (Arc<Engine>, tokio::sync::mpsc::Receiver<crate::notify::Event>, PurchaseRecord) {
        let cc = ClientConfig::new("http://127.0.0.1:9/api.php", "1", SecretString::from("s".to_string()));
        let ledger = Ledger::temporary().unwrap();
        let deps = Deps { client: Client::new(cc).unwrap(), ledger, clock: Arc::new(TokioClock::new()) };
        let engine = Engine::new(Arc::new(Config::embedded_default()), Vec::new(), deps);
        let url = SecretString::from("http://127.0.0.1:9/".to_string());
        let settings = NotifySettings { url: Some(url), ..NotifySettings::default() };
        let (notifier, rx) = Notifier::with_queue(&settings, std::time::Duration::from_secs(3600));
        engine.notify_to(notifier);
        let now = engine.clock.now();
        let intent = Intent {
            custom_id: engine.ledger.next_custom_id(now).unwrap(),
            candidate: Candidate {
                strategy: "s".into(),
                rule: "r".into(),
                priority: 0,
                game: Game::Cs2,
                name: "Recoil Case".into(),
                item_id: Some(ItemId::new(77)),
                price_seen: Usd::new(dec!(0.42)),
                max_price: Usd::new(dec!(0.50)),
            },
        };
        let record = PurchaseRecord::new(intent, now, Rates::new(), "cfg".into());
        engine.ledger.record_intents(std::slice::from_ref(&record)).unwrap();
        (engine, rx, record)
    }

    fn scraped(engine: &Engine, line: &str) -> Option<String> {
        engine.stats.metrics.encode().lines().find_map(|l| l.strip_prefix(line).map(|v| v.trim().to_string()))
    }

    fn report(offer: OfferStatus) -> Report {
        Report {
            buy_id: BuyId::new(9),
            item_id: ItemId::new(77),
            item_price: Usd::new(dec!(0.42)),
            debited: Some(Usd::new(dec!(0.42))),
            offer,
            tradeofferid: None,
        }
    }

    #[tokio::test]
    async fn a_purchase_recorded_twice_is_counted_and_told_once() {
        let (engine, mut rx, record) = engine_with_order();
        // The buy's answer, then market_getinfo with the same purchase (or the same answer recorded
        // again after a failed write).
        record_bought(&engine, &record.intent, &report(OfferStatus::CreatingTrade), "the buy's answer");
        record_bought(&engine, &record.intent, &report(OfferStatus::CreatingTrade), "market_getinfo");
        assert_eq!(scraped(&engine, "skinbot_orders_total{outcome=\"bought\"} ").as_deref(), Some("1"));
        assert_eq!(scraped(&engine, "skinbot_spent_total{currency=\"USD\"} ").as_deref(), Some("0.42"));
        assert_eq!(rx.try_recv().unwrap().event, EventKind::Purchase);
        assert!(rx.try_recv().is_err(), "one purchase message");
    }

    #[tokio::test]
    async fn a_failed_delivery_heard_by_websocket_and_poll_together_is_refunded_and_told_once() {
        let (engine, mut rx, record) = engine_with_order();
        record_bought(&engine, &record.intent, &report(OfferStatus::CreatingTrade), "the buy's answer");
        assert_eq!(rx.try_recv().unwrap().event, EventKind::Purchase);
        // Both read the record before either wrote: the same news applied twice to the same read.
        let read = engine.ledger.get(&record.intent.custom_id).unwrap().unwrap();
        let news = OfferNews {
            buy_id: BuyId::new(9),
            item_id: None,
            offer: &OfferStatus::Canceled,
            tradeofferid: None,
            error_reason: None,
        };
        assert!(apply_offer(&engine, &read, &news, Some("websocket")));
        assert!(!apply_offer(&engine, &read, &news, None), "the poll's copy changes nothing");
        assert_eq!(scraped(&engine, "skinbot_refunded_total{currency=\"USD\"} ").as_deref(), Some("0.42"));
        assert_eq!(rx.try_recv().unwrap().event, EventKind::DeliveryFailed);
        assert!(rx.try_recv().is_err(), "one delivery_failed message");
    }
}
