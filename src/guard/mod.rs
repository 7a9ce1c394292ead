//! The guard: every order passes here before it may be recorded and sent. Pure — it takes the
//! candidates, the limits and what is already committed, and returns approvals and refusals.
//!
//! Approvals are taken in the order given (the strategies' priority order); each one is added to
//! the running totals before the next is checked, so a set of approvals together stays inside
//! every limit. A refusal says the input and the limit: "order 41.20 USD > per-order cap 40.00 USD".

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};

#[cfg(test)]
use crate::domain::PurchaseState;
use crate::domain::{Candidate, Game, PurchaseRecord, Usd};

/// A candidate the guard approved. Only the guard makes these, so the executor cannot be handed
/// an order that skipped the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved(Candidate);

impl Approved {
    pub fn candidate(&self) -> &Candidate {
        &self.0
    }

    pub fn into_candidate(self) -> Candidate {
        self.0
    }
}

/// Limits in USD, converted from the configured currencies with the rates in force (the config
/// builds them: `BudgetSettings::limits`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    pub per_order: Option<Usd>,
    pub per_item_per_day: Option<Usd>,
    pub per_hour: Option<Usd>,
    pub per_day: Option<Usd>,
    pub balance_floor: Usd,
}

/// What is already committed, from the ledger, and the project balance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Committed {
    /// Spent or reserved since the start of the current hour (configured timezone).
    pub hour: Usd,
    /// Spent or reserved since the start of the current day (configured timezone).
    pub day: Usd,
    /// Per item, since the start of the current day.
    pub item_day: HashMap<(Game, String), Usd>,
    /// The project balance as last fetched; `None` if unknown or too old to trust.
    pub balance: Option<Usd>,
    /// Reserved for orders whose debit the fetched balance may not show yet (pending, unknown).
    pub open_reservations: Usd,
}

/// The project balance as last fetched, and what purchases debited since (the fetched amount does
/// not show them yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastBalance {
    pub amount: Usd,
    pub fetched_at: DateTime<Utc>,
    pub debited_since: Usd,
}

/// When the current hour and day began (configured timezone), as UTC instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub hour_start: DateTime<Utc>,
    pub day_start: DateTime<Utc>,
}

/// The one place "what is already committed" is built: from the ledger's records (today's and the
/// open ones; others are ignored), the window starts and the last balance. Each record counts what
/// its state holds (the reservation while the outcome is open, the debit once bought). A balance
/// older than `max_age` (at `now`) is no balance, so the guard refuses every order. Sums saturate:
/// an absurd total refuses orders rather than drop a term.
pub fn committed<'a>(
    records: impl IntoIterator<Item = &'a PurchaseRecord>,
    windows: Windows,
    balance: Option<LastBalance>,
    now: DateTime<Utc>,
    max_age: chrono::Duration,
) -> Committed {
    let mut c = Committed::default();
    for r in records {
        let amount = r.committed();
        if amount == Usd::ZERO {
            continue;
        }
        if r.created_at >= windows.hour_start {
            c.hour = c.hour.saturating_add(amount);
        }
        if r.created_at >= windows.day_start {
            c.day = c.day.saturating_add(amount);
            let e = c.item_day.entry((r.intent.game, r.intent.name.clone())).or_default();
            *e = e.saturating_add(amount);
        }
        if r.state.is_unresolved() {
            c.open_reservations = c.open_reservations.saturating_add(amount);
        }
    }
    c.balance = balance.filter(|b| now - b.fetched_at <= max_age).map(|b| b.amount.saturating_sub(b.debited_since));
    c
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Halted(String),
    NoBalance,
    ZeroPrice,
    PerOrder { order: Usd, cap: Usd },
    PerItem { order: Usd, committed: Usd, cap: Usd },
    Hourly { order: Usd, committed: Usd, cap: Usd },
    Daily { order: Usd, committed: Usd, cap: Usd },
    Floor { order: Usd, available: Usd, floor: Usd },
    PriceJump { price: Usd, median: Usd, factor: rust_decimal::Decimal },
}

impl Reason {
    /// A short stable name, for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Halted(_) => "halted",
            Reason::NoBalance => "no_balance",
            Reason::ZeroPrice => "zero_price",
            Reason::PerOrder { .. } => "per_order_cap",
            Reason::PerItem { .. } => "per_item_cap",
            Reason::Hourly { .. } => "hourly_budget",
            Reason::Daily { .. } => "daily_budget",
            Reason::Floor { .. } => "balance_floor",
            Reason::PriceJump { .. } => "price_jump",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Halted(why) => write!(f, "trading is halted: {why}"),
            Reason::NoBalance => write!(f, "the project balance is unknown or stale; no order until it is fetched"),
            Reason::ZeroPrice => write!(f, "order price is zero; refusing a price that is likely wrong"),
            Reason::PerOrder { order, cap } => write!(f, "order {order} > per-order cap {cap}"),
            Reason::PerItem { order, committed, cap } => {
                write!(f, "order {order} + {committed} already today for this item > per-item cap {cap}")
            }
            Reason::Hourly { order, committed, cap } => {
                write!(f, "order {order} + {committed} already this hour > hourly budget {cap}")
            }
            Reason::Daily { order, committed, cap } => {
                write!(f, "order {order} + {committed} already today > daily budget {cap}")
            }
            Reason::Floor { order, available, floor } => {
                write!(f, "order {order} would take the balance {available} below the floor {floor}")
            }
            Reason::PriceJump { price, median, factor } => {
                write!(f, "price {price} is more than {factor}× away from the item's recorded median {median}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub candidate: Candidate,
    pub reason: Reason,
}

#[derive(Debug, Default)]
pub struct Verdicts {
    pub approved: Vec<Approved>,
    pub refused: Vec<Refusal>,
}

/// Price sanity: a candidate priced more than `factor` times above or below its item's recorded
/// median (in `medians`; items without one pass) is refused — a mispriced bait or a corrupted list.
pub(crate) fn sane_prices(
    candidates: Vec<Candidate>,
    medians: &HashMap<(Game, String), Usd>,
    factor: rust_decimal::Decimal,
) -> (Vec<Candidate>, Vec<Refusal>) {
    let mut sane = Vec::with_capacity(candidates.len());
    let mut refused = Vec::new();
    for c in candidates {
        let median = medians.get(&(c.game, c.name.clone())).copied();
        let jumped = median.is_some_and(|m| {
            let (p, m) = (c.price_seen.amount(), m.amount());
            m.checked_mul(factor).is_some_and(|hi| p > hi) || p.checked_mul(factor).is_some_and(|scaled| scaled < m)
        });
        match (jumped, median) {
            (true, Some(median)) => {
                let reason = Reason::PriceJump { price: c.price_seen, median, factor };
                refused.push(Refusal { candidate: c, reason });
            }
            _ => sane.push(c),
        }
    }
    (sane, refused)
}

/// Checks `candidates` (sorted here by priority, highest first; stable for equal priorities)
/// against `limits` and `committed`. `halt` refuses everything with its reason.
pub fn check(mut candidates: Vec<Candidate>, limits: &Limits, committed: &Committed, halt: Option<&str>) -> Verdicts {
    candidates.sort_by_key(|c| std::cmp::Reverse(c.priority));
    let mut out = Verdicts::default();
    let mut hour = committed.hour;
    let mut day = committed.day;
    let mut item_day = committed.item_day.clone();
    let mut open = committed.open_reservations;
    for c in candidates {
        let verdict = check_one(
            &c,
            limits,
            committed.balance,
            hour,
            day,
            item_day.get(&(c.game, c.name.clone())).copied().unwrap_or_default(),
            open,
            halt,
        );
        match verdict {
            Ok(()) => {
                hour = hour.saturating_add(c.max_price);
                day = day.saturating_add(c.max_price);
                open = open.saturating_add(c.max_price);
                let e = item_day.entry((c.game, c.name.clone())).or_default();
                *e = e.saturating_add(c.max_price);
                out.approved.push(Approved(c));
            }
            Err(reason) => out.refused.push(Refusal { candidate: c, reason }),
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn check_one(
    c: &Candidate,
    limits: &Limits,
    balance: Option<Usd>,
    hour: Usd,
    day: Usd,
    item: Usd,
    open: Usd,
    halt: Option<&str>,
) -> Result<(), Reason> {
    if let Some(why) = halt {
        return Err(Reason::Halted(why.to_string()));
    }
    let order = c.max_price;
    if order <= Usd::ZERO {
        return Err(Reason::ZeroPrice);
    }
    if let Some(cap) = limits.per_order {
        if order > cap {
            return Err(Reason::PerOrder { order, cap });
        }
    }
    let over = |committed: Usd, cap: Usd| committed.checked_add(order).is_none_or(|sum| sum > cap);
    if let Some(cap) = limits.per_item_per_day {
        if over(item, cap) {
            return Err(Reason::PerItem { order, committed: item, cap });
        }
    }
    if let Some(cap) = limits.per_hour {
        if over(hour, cap) {
            return Err(Reason::Hourly { order, committed: hour, cap });
        }
    }
    if let Some(cap) = limits.per_day {
        if over(day, cap) {
            return Err(Reason::Daily { order, committed: day, cap });
        }
    }
    let balance = balance.ok_or(Reason::NoBalance)?;
    // The fetched balance may not show open reservations yet: count them as spent.
    let available = balance.saturating_sub(open);
    let after = available.checked_sub(order);
    if after.is_none_or(|a| a < limits.balance_floor) {
        return Err(Reason::Floor { order, available, floor: limits.balance_floor });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn usd(d: rust_decimal::Decimal) -> Usd {
        Usd::new(d)
    }

    fn cand(name: &str, price: rust_decimal::Decimal, priority: i32) -> Candidate {
        Candidate {
            strategy: "s".into(),
            rule: "r".into(),
            priority,
            game: Game::Cs2,
            name: name.into(),
            item_id: None,
            price_seen: usd(price),
            max_price: usd(price),
        }
    }

    fn limits() -> Limits {
        Limits {
            per_order: Some(usd(dec!(40))),
            per_item_per_day: Some(usd(dec!(60))),
            per_hour: Some(usd(dec!(100))),
            per_day: Some(usd(dec!(150))),
            balance_floor: usd(dec!(100)),
        }
    }

    fn funds(balance: rust_decimal::Decimal) -> Committed {
        Committed { balance: Some(usd(balance)), ..Default::default() }
    }

    #[test]
    fn a_refusal_says_input_and_limit() {
        let v = check(vec![cand("A", dec!(41.2), 0)], &limits(), &funds(dec!(1000)), None);
        assert_eq!(v.refused[0].reason.to_string(), "order 41.20 USD > per-order cap 40.00 USD");
    }

    #[test]
    fn approvals_together_stay_inside_the_hourly_budget() {
        let cands = (0..5).map(|i| cand(&format!("I{i}"), dec!(30), 0)).collect();
        let v = check(cands, &limits(), &funds(dec!(1000)), None);
        assert_eq!(v.approved.len(), 3);
        assert_eq!(
            v.refused[0].reason.to_string(),
            "order 30.00 USD + 90.00 USD already this hour > hourly budget 100.00 USD"
        );
    }

    #[test]
    fn higher_priority_goes_first_when_the_budget_is_short() {
        let v = check(vec![cand("low", dec!(30), 1), cand("high", dec!(30), 9)], &limits(), &funds(dec!(150)), None);
        assert_eq!(v.approved.len(), 1);
        assert_eq!(v.approved[0].candidate().name, "high");
        assert_eq!(v.refused[0].reason.kind(), "balance_floor");
    }

    #[test]
    fn the_floor_counts_open_reservations() {
        let mut c = funds(dec!(150));
        c.open_reservations = usd(dec!(30));
        let v = check(vec![cand("A", dec!(25), 0)], &limits(), &c, None);
        assert_eq!(
            v.refused[0].reason.to_string(),
            "order 25.00 USD would take the balance 120.00 USD below the floor 100.00 USD"
        );
    }

    #[test]
    fn the_per_item_cap_counts_today() {
        let mut c = funds(dec!(1000));
        c.item_day.insert((Game::Cs2, "A".into()), usd(dec!(40)));
        let v = check(vec![cand("A", dec!(25), 0), cand("B", dec!(25), 0)], &limits(), &c, None);
        assert_eq!(v.approved.len(), 1);
        assert_eq!(v.refused[0].reason.kind(), "per_item_cap");
    }

    #[test]
    fn a_price_far_from_the_recorded_median_is_refused_with_its_reason() {
        let medians = HashMap::from([
            ((Game::Cs2, "A".to_string()), usd(dec!(10))),
            ((Game::Cs2, "B".to_string()), usd(dec!(10))),
        ]);
        let cands =
            vec![cand("A", dec!(3), 0), cand("A", dec!(3.40), 0), cand("B", dec!(31), 0), cand("C", dec!(0.01), 0)];
        let (sane, refused) = sane_prices(cands, &medians, dec!(3));
        let names: Vec<_> = sane.iter().map(|c| (c.name.as_str(), c.price_seen)).collect();
        assert_eq!(names, vec![("A", usd(dec!(3.40))), ("C", usd(dec!(0.01)))], "no median, no check");
        assert_eq!(refused.len(), 2);
        assert_eq!(
            refused[0].reason.to_string(),
            "price 3.00 USD is more than 3× away from the item's recorded median 10.00 USD"
        );
        assert_eq!(refused[1].reason.kind(), "price_jump");
    }

    #[test]
    fn unknown_balance_and_halt_refuse_everything() {
        let v = check(vec![cand("A", dec!(5), 0)], &limits(), &Committed::default(), None);
        assert_eq!(v.refused[0].reason, Reason::NoBalance);
        let v = check(vec![cand("A", dec!(5), 0)], &limits(), &funds(dec!(1000)), Some("fatal exchange error"));
        assert_eq!(v.refused[0].reason.kind(), "halted");
    }

    fn record(at: DateTime<Utc>, name: &str, max: rust_decimal::Decimal, state: PurchaseState) -> PurchaseRecord {
        let intent = crate::domain::Intent {
            custom_id: format!("sb-{name}-{}", at.timestamp()).parse().unwrap(),
            candidate: cand(name, max, 0),
        };
        let mut r = PurchaseRecord::new(intent, at, crate::domain::Rates::new(), "h".into());
        r.state = state;
        r
    }

    fn bought(debited: rust_decimal::Decimal) -> PurchaseState {
        PurchaseState::Bought {
            buy_id: crate::domain::BuyId::new(1),
            item_id: crate::domain::ItemId::new(1),
            debited: usd(debited),
            offer: crate::domain::OfferStatus::CreatingTrade,
            tradeofferid: None,
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
    }

    #[test]
    fn committed_counts_reservations_and_debits_in_their_windows() {
        let records = [
            record(at(-120), "A", dec!(100), PurchaseState::Pending), // yesterday's hour, today
            record(at(10), "A", dec!(10), PurchaseState::Unknown { reason: "timeout".into() }),
            record(at(11), "B", dec!(20), bought(dec!(18.25))),
            record(at(12), "B", dec!(30), PurchaseState::NotBought { code: 5, reason: "gone".into() }),
        ];
        let windows = Windows { hour_start: at(0), day_start: at(-600) };
        let last = LastBalance { amount: usd(dec!(500)), fetched_at: at(5), debited_since: usd(dec!(18.25)) };
        let c = committed(&records, windows, Some(last), at(13), chrono::Duration::minutes(30));
        assert_eq!(c.hour, usd(dec!(28.25)));
        assert_eq!(c.day, usd(dec!(128.25)));
        assert_eq!(c.item_day[&(Game::Cs2, "A".to_string())], usd(dec!(110)));
        assert_eq!(c.item_day[&(Game::Cs2, "B".to_string())], usd(dec!(18.25)));
        assert_eq!(c.open_reservations, usd(dec!(110)));
        assert_eq!(c.balance, Some(usd(dec!(481.75))));
        // A balance older than its maximum age is no balance.
        let c = committed(&records, windows, Some(last), at(36), chrono::Duration::minutes(30));
        assert_eq!(c.balance, None);
    }

    #[test]
    fn an_overflowing_sum_is_refused_not_dropped() {
        // Two reservations whose sum exceeds what a Decimal holds: the total saturates instead of
        // silently keeping only one of them, and the next order is refused.
        // Each is more than half of what a Decimal holds: their sum does not fit. Dropping a term
        // would leave room for more; saturating refuses.
        let half_and_more = dec!(39614081257132168796771975177);
        let records = [
            record(at(1), "A", half_and_more, PurchaseState::Pending),
            record(at(2), "B", half_and_more, PurchaseState::Pending),
        ];
        let windows = Windows { hour_start: at(0), day_start: at(0) };
        let last = LastBalance { amount: usd(rust_decimal::Decimal::MAX), fetched_at: at(2), debited_since: Usd::ZERO };
        let c = committed(&records, windows, Some(last), at(3), chrono::Duration::minutes(30));
        assert_eq!(c.day, usd(rust_decimal::Decimal::MAX), "saturated, not the first term alone");
        let open = Limits { per_day: Some(usd(rust_decimal::Decimal::MAX)), ..Limits::default() };
        let v = check(vec![cand("C", dec!(5), 0)], &open, &c, None);
        assert_eq!(v.refused.len(), 1, "{v:?}");
        assert_eq!(v.refused[0].reason.kind(), "daily_budget");
    }
}
