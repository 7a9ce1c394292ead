//! The Spend section: spent, refunded and net per day by strategy, and delivery outcomes.

use super::*;

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
