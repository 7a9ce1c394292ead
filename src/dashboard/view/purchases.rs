//! The Purchases section: the `ledger list` filters, sorted and paged on the server, and one
//! purchase's history.

use super::*;

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

pub(super) fn given(v: &Option<String>) -> Option<&str> {
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

pub(super) fn money(u: Usd) -> String {
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

pub(super) fn item_link(game: Game, name: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("game", game.as_str())
        .append_pair("name", name)
        .finish();
    format!("/frag/item?{q}")
}

pub(super) fn state_class(s: &PurchaseState) -> &'static str {
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
