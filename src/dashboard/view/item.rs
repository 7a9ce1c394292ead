//! The Item section: one item's recorded prices, the bot's purchases and the rules' limits.

use super::*;

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
