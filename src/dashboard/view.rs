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
    let mut open: BTreeMap<String, u64> = BTreeMap::new();
    for r in source.ledger.open_purchases()? {
        *open.entry(r.state.label().to_string()).or_default() += 1;
    }
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

/// The Purchases section's query: the `ledger list` filters, sort, page.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PurchaseQuery {
    since: Option<String>,
    until: Option<String>,
    item: Option<String>,
    strategy: Option<String>,
    rule: Option<String>,
    state: Option<String>,
    min: Option<String>,
    max: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<String>,
    size: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl PurchaseQuery {
    fn filter(&self, now: DateTime<Utc>) -> Result<Filter, String> {
        let time = |v: &Option<String>, name: &str| {
            given(v).map(|t| query::parse_time(t, now).map_err(|e| format!("{name}: {e}"))).transpose()
        };
        let price = |v: &Option<String>, name: &str| {
            given(v).map(|p| Usd::parse(p).map_err(|e| format!("{name}: {e}"))).transpose()
        };
        let item = match given(&self.item) {
            Some(g) => Some(query::item_glob(g).map_err(|e| format!("item: {e}"))?),
            None => None,
        };
        Ok(Filter {
            since: time(&self.since, "since")?,
            until: time(&self.until, "until")?,
            item,
            strategy: given(&self.strategy).map(str::to_string),
            rule: given(&self.rule).map(str::to_string),
            state: given(&self.state).map(str::to_string),
            min: price(&self.min, "min")?,
            max: price(&self.max, "max")?,
        })
    }

    fn sort(&self) -> &str {
        match given(&self.sort) {
            Some(s @ ("time" | "item" | "strategy" | "price" | "max" | "debited" | "state")) => s,
            _ => "time",
        }
    }

    fn descending(&self) -> bool {
        given(&self.dir) != Some("asc")
    }

    fn size(&self) -> usize {
        given(&self.size).and_then(|s| s.parse().ok()).unwrap_or(50).clamp(1, 500)
    }

    fn page(&self) -> usize {
        given(&self.page).and_then(|s| s.parse().ok()).unwrap_or(1).max(1)
    }

    /// This query as a `/frag/purchases` link, with some parameters replaced.
    fn link(&self, set: &[(&str, String)]) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        let fields = [
            ("since", &self.since),
            ("until", &self.until),
            ("item", &self.item),
            ("strategy", &self.strategy),
            ("rule", &self.rule),
            ("state", &self.state),
            ("min", &self.min),
            ("max", &self.max),
            ("sort", &self.sort),
            ("dir", &self.dir),
            ("page", &self.page),
            ("size", &self.size),
        ];
        for (k, v) in fields {
            if let Some((_, new)) = set.iter().find(|(name, _)| *name == k) {
                out.append_pair(k, new);
            } else if let Some(v) = given(v) {
                out.append_pair(k, v);
            }
        }
        format!("/frag/purchases?{}", out.finish())
    }
}

fn money(u: Usd) -> String {
    u.to_string()
}

/// Purchases: the filter form, the count, one page of the sorted table, the pager.
pub(crate) fn purchases(rows: &[Row], q: &PurchaseQuery, now: DateTime<Utc>) -> Markup {
    let filter = q.filter(now);
    let mut matched: Vec<&Row> = match &filter {
        Ok(f) => rows
            .iter()
            .filter(|r| f.matches_fields(r.created_at, &r.name, &r.strategy, &r.rule, &r.state, r.price_seen))
            .collect(),
        Err(_) => Vec::new(),
    };
    let sort = q.sort();
    matched.sort_by(|a, b| {
        let o = match sort {
            "item" => a.name.cmp(&b.name),
            "strategy" => (&a.strategy, &a.rule).cmp(&(&b.strategy, &b.rule)),
            "price" => a.price_seen.cmp(&b.price_seen),
            "max" => a.max_price.cmp(&b.max_price),
            "debited" => a.debited().cmp(&b.debited()),
            "state" => a.state.label().cmp(b.state.label()),
            _ => std::cmp::Ordering::Equal,
        };
        o.then_with(|| a.created_at.cmp(&b.created_at)).then_with(|| a.id.cmp(&b.id))
    });
    if q.descending() {
        matched.reverse();
    }
    let size = q.size();
    let pages = matched.len().div_ceil(size).max(1);
    let page = q.page().min(pages);
    let shown = &matched[((page - 1) * size).min(matched.len())..(page * size).min(matched.len())];
    let head = |key: &str, label: &str| {
        let dir = if sort == key && q.descending() { "asc" } else { "desc" };
        let mark = if sort == key {
            if q.descending() {
                " ▼"
            } else {
                " ▲"
            }
        } else {
            ""
        };
        html! { th { a data-target="purchases" href=(q.link(&[("sort", key.into()), ("dir", dir.into()), ("page", "1".into())])) { (label) (mark) } } }
    };
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        form #purchase-filters.filters action="/frag/purchases" method="get" data-target="purchases" {
            label { "since " input name="since" value=(v(&q.since)) placeholder="24h, 2026-11-27" size="10"; }
            label { "until " input name="until" value=(v(&q.until)) size="10"; }
            label { "item " input name="item" value=(v(&q.item)) placeholder="*Case" size="14"; }
            label { "strategy " input name="strategy" value=(v(&q.strategy)) size="12"; }
            label { "rule " input name="rule" value=(v(&q.rule)) size="12"; }
            label { "state " input name="state" value=(v(&q.state)) placeholder="open, bought, accepted" size="10"; }
            label { "min " input name="min" value=(v(&q.min)) size="6"; }
            label { "max " input name="max" value=(v(&q.max)) size="6"; }
            input type="hidden" name="sort" value=(sort);
            input type="hidden" name="dir" value=(if q.descending() { "desc" } else { "asc" });
            button type="submit" { "Filter" }
            " "
            a data-target="purchases" href="/frag/purchases" { "clear" }
        }
        @if let Err(e) = &filter { p.error { (e) } }
        p #purchase-count data-count=(matched.len()) data-total=(rows.len()) {
            (matched.len()) " of " (rows.len()) " purchases · page " (page) " of " (pages) " · prices in USD"
        }
        table #purchase-table {
            thead { tr {
                (head("time", "created (UTC)")) th { "custom id" } (head("strategy", "strategy / rule")) (head("item", "item"))
                (head("price", "price seen")) (head("max", "max price")) (head("debited", "debited")) (head("state", "state")) th { "recipient" }
            } }
            tbody {
                @for r in shown {
                    tr data-href=(format!("/frag/purchase/{}", r.id)) {
                        td { (r.created_at.format("%Y-%m-%d %H:%M:%S")) }
                        td { a data-target="detail" href=(format!("/frag/purchase/{}", r.id)) { (r.id) } }
                        td { (r.strategy) " / " (r.rule) }
                        td.item { a data-target="item" href=(item_link(r.game, &r.name)) { (r.name) } }
                        td.num { (r.price_seen.amount()) }
                        td.num { (r.max_price.amount()) }
                        td.num { (r.debited().map(|d| d.amount().to_string()).unwrap_or_default()) }
                        td { span class=(format!("state {}", state_class(&r.state))) { (r.state.label()) } }
                        td { (r.recipient.clone().unwrap_or_default()) }
                    }
                }
            }
        }
        nav.pager {
            @if page > 1 { a data-target="purchases" href=(q.link(&[("page", (page - 1).to_string())])) { "← newer" } " " }
            @if page < pages { a data-target="purchases" href=(q.link(&[("page", (page + 1).to_string())])) { "older →" } }
        }
    }
}

fn item_link(game: Game, name: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("game", game.as_str())
        .append_pair("name", name)
        .finish();
    format!("/frag/item?{q}")
}

fn state_class(s: &PurchaseState) -> &'static str {
    match s {
        PurchaseState::Bought { offer: OfferStatus::Accepted, .. } => "ok",
        PurchaseState::Bought { offer, .. } if offer.is_failure() => "failed",
        PurchaseState::Bought { offer: OfferStatus::RollbackUser | OfferStatus::RollbackSupplier, .. } => "failed",
        PurchaseState::NotBought { .. } => "none",
        _ => "open",
    }
}

pub(crate) fn not_found(id: &str) -> Markup {
    html! { p.error { "no purchase " (id) " in the ledger" } }
}

/// One purchase: every field, its transitions on a time line, the rates and config hash in force.
pub(crate) fn purchase(r: &PurchaseRecord) -> Markup {
    let i = &r.intent.candidate;
    let (debited, buy_id, offer) = match &r.state {
        PurchaseState::Bought { debited, buy_id, tradeofferid, .. } => {
            (money(*debited), buy_id.to_string(), tradeofferid.clone().unwrap_or_default())
        }
        _ => Default::default(),
    };
    let steps: Vec<(DateTime<Utc>, String)> =
        r.transitions.iter().map(|t| (t.at, t.state.as_str().to_string())).collect();
    html! {
        article #purchase-detail {
            h3 { "Purchase " (r.intent.custom_id) " " a href="#purchases-section" data-close="detail" { "close" } }
            dl.facts {
                dt { "item" } dd { (i.game.as_str()) " · " (i.name) }
                dt { "strategy / rule" } dd { (i.strategy) " / " (i.rule) " (priority " (i.priority) ")" }
                dt { "price seen / max price sent" } dd { (money(i.price_seen)) " / " (money(i.max_price)) }
                dt { "state" } dd { (r.state.label()) }
                dt { "debited" } dd { (debited) }
                dt { "buy id / trade offer" } dd { (buy_id) " / " (offer) }
                dt { "recipient" } dd { (r.recipient.clone().unwrap_or_default()) }
                dt { "config hash" } dd.hash { (r.config_hash) }
            }
            (svg::timeline(&steps))
            ol.transitions {
                @for t in &r.transitions {
                    li { time { (t.at.format("%Y-%m-%d %H:%M:%S%.3f UTC")) } " " strong { (t.state.as_str()) } @if !t.detail.is_empty() { " — " (t.detail) } }
                }
            }
            h4 { "Rates in force (per 1 USD)" }
            p.rates { @for (code, rate) in r.rates.iter() { span.tag { (code.as_str()) " " (rate) } " " } }
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SpendQuery {
    days: Option<String>,
}

/// The daily budget (in USD, if it can be converted) and the timezone days begin in.
pub(crate) struct SpendContext {
    pub per_day: Option<Usd>,
    pub tz: chrono_tz::Tz,
}

/// Spend: spent, refunded and net per day stacked by strategy with the daily budget; delivery
/// outcomes per day.
pub(crate) fn spend(rows: &[Row], ctx: &SpendContext, q: &SpendQuery) -> Markup {
    let days = given(&q.days).and_then(|d| d.parse::<i64>().ok()).unwrap_or(14).clamp(1, 366);
    let today = Utc::now().with_timezone(&ctx.tz).date_naive();
    let first = today - Duration::days(days - 1);
    let labels: Vec<String> = (0..days).map(|d| (first + Duration::days(d)).format("%Y-%m-%d").to_string()).collect();
    let n = labels.len();
    let mut strategies: BTreeMap<&str, (Vec<Decimal>, Vec<Decimal>)> = BTreeMap::new();
    let mut refunded = vec![Decimal::ZERO; n];
    let mut spent = vec![Decimal::ZERO; n];
    // accepted, failed, rolled back, pending
    let mut outcomes = [vec![Decimal::ZERO; n], vec![Decimal::ZERO; n], vec![Decimal::ZERO; n], vec![Decimal::ZERO; n]];
    for r in rows {
        let day = r.created_at.with_timezone(&ctx.tz).date_naive();
        let Ok(i) = usize::try_from((day - first).num_days()) else { continue };
        if i >= n {
            continue;
        }
        let (net, _) = strategies.entry(r.strategy.as_str()).or_insert_with(|| (vec![Decimal::ZERO; n], vec![]));
        match &r.state {
            PurchaseState::Bought { debited, offer, .. } => {
                let d = debited.amount();
                // Saturating: a corrupt ledger's absurd amount must not panic the page.
                spent[i] = spent[i].saturating_add(d);
                if offer.is_failure() {
                    refunded[i] = refunded[i].saturating_add(d);
                    outcomes[1][i] += Decimal::ONE;
                } else {
                    net[i] = net[i].saturating_add(d);
                    match offer {
                        OfferStatus::Accepted => outcomes[0][i] += Decimal::ONE,
                        OfferStatus::RollbackUser | OfferStatus::RollbackSupplier => outcomes[2][i] += Decimal::ONE,
                        _ => outcomes[3][i] += Decimal::ONE,
                    }
                }
            }
            PurchaseState::NotBought { .. } => {}
            _ => outcomes[3][i] += Decimal::ONE,
        }
    }
    let mut series: Vec<Series> = strategies
        .into_iter()
        .enumerate()
        .map(|(k, (name, (net, _)))| Series {
            name: format!("{name} (net)"),
            color: PALETTE[k % PALETTE.len()],
            values: net,
        })
        .collect();
    series.push(Series { name: "refunded (failed offers)".into(), color: "#bbbbbb", values: refunded.clone() });
    let outcome_series = vec![
        Series { name: "accepted".into(), color: "#59a14f", values: outcomes[0].clone() },
        Series { name: "failed".into(), color: "#e15759", values: outcomes[1].clone() },
        Series { name: "rolled back".into(), color: "#b07aa1", values: outcomes[2].clone() },
        Series { name: "pending".into(), color: "#edc948", values: outcomes[3].clone() },
    ];
    let budget = ctx.per_day.map(|u| ("daily budget", u.amount()));
    html! {
        form.filters action="/frag/spend" method="get" data-target="spend" {
            label { "days " input name="days" value=(days) size="4"; }
            button type="submit" { "Show" }
        }
        h3 { "Spent per day by strategy (USD; a bar's full height is what was spent, its grey top the refunds)" }
        (svg::stacked_bars("spend-chart", &labels, &series, budget, "USD"))
        h3 { "Delivery outcomes per day (purchases)" }
        (svg::stacked_bars("outcome-chart", &labels, &outcome_series, None, ""))
        table #spend-table {
            thead { tr { th { "day" } th { "spent" } th { "refunded" } th { "net" } } }
            tbody {
                @for (i, day) in labels.iter().enumerate().rev() {
                    @if !spent[i].is_zero() {
                        tr { td { (day) } td.num { (money(Usd::new(spent[i]))) } td.num { (money(Usd::new(refunded[i]))) } td.num { (money(Usd::new(spent[i].saturating_sub(refunded[i])))) } }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ItemQuery {
    game: Option<String>,
    name: Option<String>,
    hours: Option<String>,
}

/// The strategies whose limits the Item chart draws.
pub(crate) enum Rules {
    /// The strategies in force, and where they come from (said under the chart).
    InForce(Arc<Vec<Strategy>>, String),
    /// None known, and why.
    Unknown(String),
}

/// Item: the recorded price history as a line, the bot's purchases as points, the limit of each
/// rule in force that selects the item as a dashed line ([`limit::rule_limits`]), and the max price
/// each purchase sent as rings.
pub(crate) fn item(
    ledger: &Ledger,
    rows: &[Row],
    rules: &Rules,
    q: &ItemQuery,
    now: DateTime<Utc>,
) -> Result<Markup, LedgerError> {
    let latest = rows.iter().rev().find(|r| matches!(r.state, PurchaseState::Bought { .. })).or(rows.last());
    let name = given(&q.name).map(str::to_string).or_else(|| latest.map(|r| r.name.clone()));
    let game = given(&q.game)
        .and_then(|g| g.parse::<Game>().ok())
        .or_else(|| latest.filter(|r| Some(&r.name) == name.as_ref()).map(|r| r.game))
        .unwrap_or(Game::Cs2);
    let hours = given(&q.hours).and_then(|h| h.parse::<i64>().ok()).unwrap_or(24).clamp(1, 24 * 90);
    let mut seen: HashMap<&str, ()> = HashMap::new();
    let names: Vec<&str> =
        rows.iter().rev().map(|r| r.name.as_str()).filter(|n| seen.insert(n, ()).is_none()).take(500).collect();
    let form = html! {
        form #item-form.filters action="/frag/item" method="get" data-target="item" {
            label { "item " input #item-name name="name" list="item-names" value=(name.clone().unwrap_or_default()) size="40"; }
            datalist #item-names { @for n in &names { option value=(n) {} } }
            label { "game " input name="game" value=(game.as_str()) size="5"; }
            label { "hours " input name="hours" value=(hours) size="4"; }
            button type="submit" { "Show" }
        }
    };
    let Some(name) = name else {
        return Ok(html! { (form) p { "no purchases yet" } });
    };
    let window = now - Duration::hours(hours);
    let history = ledger.price_history(game, &name, window)?;
    let mine: Vec<&Row> = rows.iter().filter(|r| r.name == name && r.game == game && r.created_at >= window).collect();
    let start = history
        .iter()
        .map(|(t, _)| (*t).max(window))
        .chain(mine.iter().map(|r| r.created_at))
        .min()
        .unwrap_or(window)
        .min(now - Duration::minutes(1));
    let prices: Vec<(DateTime<Utc>, Decimal)> = history.iter().map(|(t, p)| ((*t).max(start), p.amount())).collect();
    let sent: Vec<(DateTime<Utc>, Decimal)> = mine.iter().map(|r| (r.created_at, r.max_price.amount())).collect();
    let (limits, notes) = match rules {
        Rules::Unknown(why) => (Vec::new(), vec![why.clone()]),
        Rules::InForce(strategies, from) => {
            let back = limit::longest_window(strategies, game, &name);
            let longer;
            let steps = if back > Duration::zero() {
                longer = ledger.price_history(game, &name, start - back)?;
                &longer
            } else {
                &history
            };
            let rates = ledger.last_rates()?;
            let found = limit::rule_limits(strategies, game, &name, steps, rates.as_ref(), start, now);
            let mut notes = vec![from.clone()];
            if found.is_empty() {
                notes.push("no rule in force selects this item".to_string());
            }
            notes.extend(found.iter().filter_map(|l| l.note.as_ref().map(|n| format!("{}: {n}", l.rule))));
            let lines = found
                .into_iter()
                .enumerate()
                .map(|(i, l)| LimitLine {
                    label: format!("limit of {}: {}", l.rule, l.what),
                    rule: l.rule,
                    steps: l.steps,
                    color: LIMIT_COLORS[i % LIMIT_COLORS.len()],
                })
                .collect();
            (lines, notes)
        }
    };
    let points: Vec<Point> = mine
        .iter()
        .map(|r| {
            let (value, what) = match r.debited() {
                Some(d) => (d.amount(), "bought for"),
                None => (r.price_seen.amount(), "seen at"),
            };
            Point {
                at: r.created_at,
                value,
                label: format!("{} {} {} USD ({})", r.id, what, value, r.state.label()),
                color: match state_class(&r.state) {
                    "ok" => "#59a14f",
                    "failed" => "#e15759",
                    "none" => "#999999",
                    _ => "#edc948",
                },
            }
        })
        .collect();
    Ok(html! {
        (form)
        h3 #item-title { (game.as_str()) " · " (name) }
        p #item-summary data-prices=(prices.len()) data-purchases=(points.len()) {
            (prices.len()) " recorded price changes and " (points.len()) " purchases in the last " (hours) " h"
        }
        (svg::price_chart("item-chart", start, now, &prices, &limits, &sent, &points, &notes, "USD"))
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
