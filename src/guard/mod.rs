//! The guard: every order passes here before it may be recorded and sent. Pure — it takes the
//! candidates, the limits and what is already committed, and returns approvals and refusals.
//!
//! Approvals are taken in the order given (the strategies' priority order); each one is added to
//! the running totals before the next is checked, so a set of approvals together stays inside
//! every limit. A refusal says the input and the limit: "order 41.20 USD > per-order cap 40.00 USD".

use std::collections::HashMap;
use std::fmt;

use crate::config::BudgetSettings;
use crate::domain::{Game, Money, Rates, Usd};

/// Something a strategy wants to buy, before the guard has seen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub strategy: String,
    pub rule: String,
    /// Higher goes first when the budget cannot cover all.
    pub priority: i32,
    pub game: Game,
    pub name: String,
    pub item_id: Option<crate::domain::ItemId>,
    pub price_seen: Usd,
    /// The most this order may cost; reserved against the budget.
    pub max_price: Usd,
}

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

/// Limits in USD, converted from the configured currencies with the rates in force.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    pub per_order: Option<Usd>,
    pub per_item_per_day: Option<Usd>,
    pub per_hour: Option<Usd>,
    pub per_day: Option<Usd>,
    pub balance_floor: Usd,
}

impl Limits {
    pub fn from_settings(b: &BudgetSettings, rates: &Rates) -> Result<Limits, String> {
        let conv = |m: &Option<Money>, what: &str| -> Result<Option<Usd>, String> {
            m.as_ref().map(|m| m.to_usd(rates).map_err(|e| format!("{what} {m}: {e}"))).transpose()
        };
        Ok(Limits {
            per_order: conv(&b.per_order, "per-order cap")?,
            per_item_per_day: conv(&b.per_item_per_day, "per-item cap")?,
            per_hour: conv(&b.per_hour, "hourly budget")?,
            per_day: conv(&b.per_day, "daily budget")?,
            balance_floor: b
                .balance_floor
                .to_usd(rates)
                .map_err(|e| format!("balance floor {}: {e}", b.balance_floor))?,
        })
    }
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
                // Saturating is safe here: every sum was already checked against a cap below MAX.
                hour = hour.checked_add(c.max_price).unwrap_or(hour);
                day = day.checked_add(c.max_price).unwrap_or(day);
                open = open.checked_add(c.max_price).unwrap_or(open);
                let e = item_day.entry((c.game, c.name.clone())).or_default();
                *e = e.checked_add(c.max_price).unwrap_or(*e);
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
    fn unknown_balance_and_halt_refuse_everything() {
        let v = check(vec![cand("A", dec!(5), 0)], &limits(), &Committed::default(), None);
        assert_eq!(v.refused[0].reason, Reason::NoBalance);
        let v = check(vec![cand("A", dec!(5), 0)], &limits(), &funds(dec!(1000)), Some("fatal exchange error"));
        assert_eq!(v.refused[0].reason.kind(), "halted");
    }
}
