//! The dashboard's HTML: the page and its sections, from the ledger and the status. maud escapes
//! every interpolated value (`(expr)`), so an item named `<script>` is text; nothing here writes
//! raw HTML (`PreEscaped` is not used).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use maud::{html, Markup, DOCTYPE};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::limit;
use super::svg::{self, LimitLine, Point, Series, LIMIT_COLORS, PALETTE};
use super::Source;
use crate::domain::{Game, OfferStatus, PurchaseRecord, PurchaseState, Usd};
use crate::engine::status::StatusReport;
use crate::ledger::query::{self, Filter};
use crate::ledger::{Ledger, LedgerError};
use crate::strategy::file::Strategy;

mod item;
mod purchases;
mod spend;

pub(crate) use item::*;
pub(crate) use purchases::*;
pub(crate) use spend::*;

/// What the dashboard keeps of a purchase: what its table, filters and charts read.
#[derive(Clone)]
pub(crate) struct Row {
    id: String,
    created_at: DateTime<Utc>,
    strategy: String,
    rule: String,
    game: Game,
    name: String,
    price_seen: Usd,
    max_price: Usd,
    state: PurchaseState,
    recipient: Option<String>,
}

impl Row {
    /// Every purchase, in issue order.
    pub(crate) fn read_all(ledger: &Ledger) -> Result<Vec<Row>, LedgerError> {
        ledger.records().map(|r| r.map(Row::of)).collect()
    }

    pub(crate) fn of(r: PurchaseRecord) -> Row {
        let i = r.intent.candidate;
        Row {
            id: r.intent.custom_id.to_string(),
            created_at: r.created_at,
            strategy: i.strategy,
            rule: i.rule,
            game: i.game,
            name: i.name,
            price_seen: i.price_seen,
            max_price: i.max_price,
            state: r.state,
            recipient: r.recipient,
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    fn debited(&self) -> Option<Usd> {
        match &self.state {
            PurchaseState::Bought { debited, .. } => Some(*debited),
            _ => None,
        }
    }
}

/// The whole page: every section rendered, the script keeps them current.
pub(crate) fn page(csrf: &str, now: Markup, purchases: Markup, spend: Markup, item: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf" content=(csrf);
                title { "skinbot dashboard" }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                header {
                    h1 { "skinbot" }
                    nav { a href="#now-section" { "Now" } a href="#purchases-section" { "Purchases" } a href="#spend-section" { "Spend" } a href="#item-section" { "Item" } }
                    span #live { "live: connecting" }
                }
                main {
                    section #now-section { h2 { "Now" } div #now { (now) } }
                    section #purchases-section {
                        h2 { "Purchases" }
                        div #purchases { (purchases) }
                        div #detail {}
                    }
                    section #spend-section { h2 { "Spend" } div #spend { (spend) } }
                    section #item-section { h2 { "Item" } div #item { (item) } }
                }
                footer { p #cli-hint { "The dashboard not answering? " code { "skinbot halt" } " stops buying from a terminal too." } }
            }
        }
    }
}

fn age(t: Option<DateTime<Utc>>) -> String {
    let Some(t) = t else { return String::new() };
    let s = (Utc::now() - t).num_seconds().max(0);
    match s {
        0..120 => format!("{s} s ago"),
        120..7200 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

/// The first word of `12.50 USD`, as a number (for a gauge).
fn amount(text: &str) -> Option<Decimal> {
    text.split_whitespace().next().and_then(|t| crate::domain::money::parse_decimal(t).ok())
}

fn status_of(source: &Source) -> (Option<StatusReport>, bool) {
    match (&source.engine, &source.state_dir) {
        (Some(e), _) => (Some(e.status()), true),
        (None, Some(dir)) => (StatusReport::read(dir).ok().flatten(), false),
        (None, None) => (None, false),
    }
}

/// What the Now section shows, as text that changes when it does (not when only its time does).
pub(crate) fn status_fingerprint(source: &Source) -> String {
    let (status, _) = status_of(source);
    status
        .map(|mut s| {
            s.written_at = None;
            serde_json::to_string(&s).unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Now: mode, running or halted and why, balance, budget windows, open purchases, the last tick,
/// and the brake.
pub(crate) fn now(source: &Source, csrf: &str) -> Result<Markup, LedgerError> {
    let halt = source.ledger.current_halt()?;
    let (status, here) = status_of(source);
    let open = source.ledger.open_by_state()?;
    let identity = source.ledger.identity()?.unwrap_or_default();
    Ok(html! {
        dl.facts {
            dt { "Mode" }
            dd #mode { (status.as_ref().map(|s| s.mode.clone()).unwrap_or_else(|| if identity.is_empty() { "unknown".into() } else { identity.clone() })) }
            dt { "Bot" }
            dd #running {
                @if here { "running (pid " (std::process::id()) ")" }
                @else if let Some(s) = &status { "not running here; its last status was written " (age(s.written_at)) }
                @else { "not running (no status written yet)" }
            }
            dt { "Buying" }
            @if let Some(h) = &halt {
                dd #buying.halted { "HALTED: " (h.reason) " (" (h.kind) ", by " (h.by) ", " (h.at.format("%Y-%m-%d %H:%M:%S UTC")) ")" }
            } @else if let Some(p) = status.as_ref().and_then(|s| s.paused.clone()) {
                dd #buying.paused { "paused: " (p) }
            } @else {
                dd #buying.on { "on" }
            }
            dt { "Balance" }
            dd #balance {
                @match status.as_ref().and_then(|s| s.balance.clone()) {
                    Some(b) => { (b) " (" (age(status.as_ref().and_then(|s| s.balance_at))) ")" }
                    None => { "unknown" }
                }
            }
        }
        h3 { "Budget windows (spent or reserved)" }
        div.gauges {
            @for w in status.as_ref().map(|s| s.windows.as_slice()).unwrap_or_default() {
                div.gauge {
                    span.name { (w.name) }
                    @match (amount(&w.used), w.limit.as_deref().and_then(amount)) {
                        (Some(used), Some(limit)) if limit > Decimal::ZERO => {
                            meter min="0" max=(limit) value=(used.min(limit)) high=(limit * Decimal::new(8, 1)) {}
                        }
                        _ => {}
                    }
                    span.value { (w.used) " of " (w.limit.as_deref().unwrap_or("no limit")) @if let Some(l) = &w.left { " (" (l) " left)" } }
                }
            }
        }
        h3 { "Open purchases" }
        p #open {
            @if open.is_empty() { "none" }
            @for (state, n) in &open { span.tag { (state) " " (n) } " " }
        }
        h3 { "Last tick" }
        @match status.as_ref().and_then(|s| s.last_tick.clone()) {
            Some(t) => {
                p #last-tick { (t.game) ", " (age(t.at)) ": " (t.listings) " listings, " (t.candidates) " candidates, " (t.approved) " approved; " (t.api_errors_total) " exchange errors since start" }
                @if !t.refused.is_empty() {
                    ul #refusals { @for (why, n) in &t.refused { li { (n) " × " (why) } } }
                }
            }
            None => { p #last-tick { "no tick yet" } }
        }
        div.brake {
            @if halt.is_some() {
                form #resume-form action="/resume" method="post" data-post="now" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Resume buying" }
                }
            } @else {
                form #halt-form action="/halt" method="post" data-post="now" {
                    input type="hidden" name="csrf" value=(csrf);
                    input #halt-reason type="text" name="reason" maxlength="500" placeholder="why (kept in the ledger)";
                    button type="submit" { "Halt buying" }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(i: u32, name: &str, price: &str, state: PurchaseState) -> Row {
        Row {
            id: format!("sb-20261127T120000Z-{i:06}"),
            created_at: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap() + Duration::seconds(i.into()),
            strategy: if i % 2 == 0 { "even".into() } else { "odd".into() },
            rule: "r".into(),
            game: Game::Cs2,
            name: name.into(),
            price_seen: Usd::parse(price).unwrap(),
            max_price: Usd::parse(price).unwrap(),
            state,
            recipient: None,
        }
    }

    fn query(pairs: &[(&str, &str)]) -> PurchaseQuery {
        let q = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        serde_json::from_value(serde_json::Value::Object(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect(),
        ))
        .unwrap()
    }

    fn ids(html: &str) -> Vec<String> {
        html.split("data-href=\"/frag/purchase/").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
    }

    #[test]
    fn the_server_filters_sorts_and_pages() {
        let rows: Vec<Row> =
            (1..=120).map(|i| row(i, &format!("Item {i}"), &format!("{i}.00"), PurchaseState::Pending)).collect();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
        let html = purchases(&rows, &PurchaseQuery::default(), now).into_string();
        assert!(html.contains("data-count=\"120\""));
        let first = ids(&html);
        assert_eq!(first.len(), 50);
        assert_eq!(first[0], "sb-20261127T120000Z-000120", "newest first");
        let html = purchases(&rows, &query(&[("page", "3")]), now).into_string();
        assert_eq!(ids(&html).len(), 20);
        let html = purchases(&rows, &query(&[("sort", "price"), ("dir", "asc"), ("size", "5")]), now).into_string();
        assert_eq!(ids(&html)[..2], ["sb-20261127T120000Z-000001", "sb-20261127T120000Z-000002"]);
        let html = purchases(&rows, &query(&[("strategy", "odd"), ("min", "100")]), now).into_string();
        assert!(html.contains("data-count=\"10\""), "101, 103, …, 119");
        let html = purchases(&rows, &query(&[("item", "item 1?")]), now).into_string();
        assert!(html.contains("data-count=\"10\""), "Item 10 … Item 19");
        let html = purchases(&rows, &query(&[("since", "yesterday")]), now).into_string();
        assert!(html.contains("class=\"error\"") && html.contains("data-count=\"0\""), "a bad filter says why");
    }

    #[test]
    fn every_ledger_value_is_escaped() {
        let name = "<script>alert(1)</script>\"'&";
        let rows = vec![row(1, name, "1.00", PurchaseState::Pending)];
        let html = purchases(&rows, &query(&[("item", "<b>")]), Utc::now()).into_string();
        assert!(!html.contains("<b>") && html.contains("&lt;b&gt;"));
        let html = purchases(&rows, &PurchaseQuery::default(), Utc::now()).into_string();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"), "{html}");
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn spend_counts_refunds_and_outcomes_per_day() {
        let bought = |offer| PurchaseState::Bought {
            buy_id: crate::domain::BuyId::new(1),
            item_id: crate::domain::ItemId::new(1),
            debited: Usd::parse("2.50").unwrap(),
            offer,
            tradeofferid: None,
        };
        let mut rows = vec![
            row(1, "a", "2.50", bought(OfferStatus::Accepted)),
            row(2, "b", "2.50", bought(OfferStatus::Canceled)),
            row(3, "c", "2.50", PurchaseState::Sent),
        ];
        for r in &mut rows {
            r.created_at = Utc::now();
        }
        let ctx = SpendContext { per_day: Some(Usd::parse("40").unwrap()), tz: chrono_tz::UTC };
        let html = spend(&rows, &ctx, &SpendQuery::default()).into_string();
        assert!(html.contains("data-series=\"odd (net)\"") && html.contains("data-value=\"2.50\""));
        assert!(html.contains("data-series=\"refunded (failed offers)\""));
        assert!(html.contains("daily budget 40"));
        assert!(
            html.contains(
                "<td class=\"num\">5.00 USD</td><td class=\"num\">2.50 USD</td><td class=\"num\">2.50 USD</td>"
            ),
            "{html}"
        );
        for outcome in ["accepted", "failed", "pending"] {
            assert!(html.contains(&format!("data-series=\"{outcome}\"")), "{outcome}");
        }
    }

    #[test]
    fn absurd_amounts_and_long_globs_do_not_panic() {
        let huge = |i| PurchaseState::Bought {
            buy_id: crate::domain::BuyId::new(1),
            item_id: crate::domain::ItemId::new(1),
            debited: Usd::new(Decimal::MAX),
            offer: if i % 2 == 0 { OfferStatus::Canceled } else { OfferStatus::Accepted },
            tradeofferid: None,
        };
        let mut rows: Vec<Row> = (1..=4).map(|i| row(i, "x", "1.00", huge(i))).collect();
        for r in &mut rows {
            r.created_at = Utc::now();
        }
        let ctx = SpendContext { per_day: Some(Usd::new(Decimal::MAX)), tz: chrono_tz::UTC };
        let html = spend(&rows, &ctx, &SpendQuery::default()).into_string();
        assert!(html.contains(&format!("{} USD", Decimal::MAX.round_dp(2))), "the spent sum saturates: {html}");

        let rows = vec![row(1, "Item 1", "1.00", PurchaseState::Pending)];
        let long = "a".repeat(201);
        let html = purchases(&rows, &query(&[("item", &long)]), Utc::now()).into_string();
        assert!(html.contains("item: at most 200 characters") && html.contains("data-count=\"0\""), "{html}");
        let html = purchases(&rows, &query(&[("item", "[")]), Utc::now()).into_string();
        assert!(html.contains("class=\"error\"") && html.contains("item: "), "{html}");
        let html = purchases(&rows, &query(&[("item", &"{a,b}".repeat(40))]), Utc::now()).into_string();
        assert!(html.contains("data-count=\"0\""), "{html}");
    }
}
