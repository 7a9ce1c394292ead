//! Property: whatever sequence of prices, balances and decisions, the guard's approvals never cross
//! the per-order cap, the per-item cap, the hourly or daily budget, or the balance floor — checked
//! against a plain model that recomputes every window from scratch.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use skinbot::domain::{Candidate, Game, Usd};
use skinbot::engine::window_starts;
use skinbot::guard::{check, Committed, Limits};

#[derive(Debug, Clone)]
enum Step {
    /// Strategies want these (item index, price in cents, priority).
    Decide(Vec<(u8, u32, i8)>),
    /// Time passes (minutes).
    Wait(u16),
    /// The balance is refetched; `deposit` cents were added to the project meanwhile.
    Refresh { deposit: u32 },
    /// Some open orders settle: the first `n` pending approvals are debited (or released when `release`).
    Settle { n: u8, release: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec((0u8..4, 1u32..6000, -2i8..3), 1..8).prop_map(Step::Decide),
        2 => (1u16..400).prop_map(Step::Wait),
        1 => (0u32..5000).prop_map(|deposit| Step::Refresh { deposit }),
        2 => (1u8..5, any::<bool>()).prop_map(|(n, release)| Step::Settle { n, release }),
    ]
}

fn cents(c: u32) -> Usd {
    Usd::new(Decimal::new(i64::from(c), 2))
}

struct Order {
    at: DateTime<Utc>,
    item: String,
    amount: Usd,
    open: bool,
    released: bool,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn approvals_never_cross_a_limit(
        steps in prop::collection::vec(step(), 1..60),
        start_balance in 0u32..60_000,
        per_order in 100u32..5000,
        per_item in 500u32..9000,
        per_hour in 1000u32..20_000,
        per_day in 2000u32..40_000,
        floor in 0u32..20_000,
    ) {
        let limits = Limits {
            per_order: Some(cents(per_order)),
            per_item_per_day: Some(cents(per_item)),
            per_hour: Some(cents(per_hour)),
            per_day: Some(cents(per_day)),
            balance_floor: cents(floor),
        };
        let tz = chrono_tz::Tz::UTC;
        let mut now = Utc.with_ymd_and_hms(2026, 11, 26, 22, 30, 0).unwrap();
        let mut exchange_balance = cents(start_balance); // what the project really has
        let mut fetched = exchange_balance;             // what the bot last fetched
        let mut debited_since_fetch = Usd::ZERO;
        let mut orders: Vec<Order> = Vec::new();

        for s in steps {
            match s {
                Step::Wait(m) => now += Duration::minutes(i64::from(m)),
                Step::Refresh { deposit } => {
                    exchange_balance = exchange_balance.checked_add(cents(deposit)).unwrap();
                    fetched = exchange_balance;
                    debited_since_fetch = Usd::ZERO;
                }
                Step::Settle { n, release } => {
                    for o in orders.iter_mut().filter(|o| o.open).take(n as usize) {
                        o.open = false;
                        if release {
                            o.released = true;
                        } else {
                            exchange_balance = exchange_balance.checked_sub(o.amount).unwrap();
                            debited_since_fetch = debited_since_fetch.checked_add(o.amount).unwrap();
                        }
                    }
                }
                Step::Decide(wants) => {
                    let skinbot::guard::Windows { hour_start, day_start } = window_starts(now, tz);
                    // What the engine derives from the ledger.
                    let live = |o: &&Order| !o.released;
                    let mut committed = Committed {
                        balance: Some(fetched.saturating_sub(debited_since_fetch)),
                        ..Default::default()
                    };
                    for o in orders.iter().filter(live) {
                        if o.at >= hour_start { committed.hour = committed.hour.checked_add(o.amount).unwrap(); }
                        if o.at >= day_start {
                            committed.day = committed.day.checked_add(o.amount).unwrap();
                            let e = committed.item_day.entry((Game::Cs2, o.item.clone())).or_default();
                            *e = e.checked_add(o.amount).unwrap();
                        }
                        if o.open { committed.open_reservations = committed.open_reservations.checked_add(o.amount).unwrap(); }
                    }
                    let candidates = wants.iter().map(|(item, price, prio)| Candidate {
                        strategy: "p".into(), rule: "r".into(), priority: i32::from(*prio), game: Game::Cs2,
                        name: format!("item-{item}"), item_id: None, price_seen: cents(*price), max_price: cents(*price),
                    }).collect();
                    let verdicts = check(candidates, &limits, &committed, None);
                    for a in verdicts.approved {
                        let c = a.into_candidate();
                        prop_assert!(c.max_price <= cents(per_order));
                        orders.push(Order { at: now, item: c.name, amount: c.max_price, open: true, released: false });
                    }

                    // The model: recompute every window from the orders alone.
                    let sum = |f: &dyn Fn(&Order) -> bool| -> Usd {
                        orders.iter().filter(|o| !o.released && f(o)).map(|o| o.amount).sum()
                    };
                    prop_assert!(sum(&|o| o.at >= hour_start) <= cents(per_hour), "hourly budget crossed");
                    prop_assert!(sum(&|o| o.at >= day_start) <= cents(per_day), "daily budget crossed");
                    let mut per_item_today: HashMap<&str, Usd> = HashMap::new();
                    for o in orders.iter().filter(|o| !o.released && o.at >= day_start) {
                        let e = per_item_today.entry(o.item.as_str()).or_default();
                        *e = e.checked_add(o.amount).unwrap();
                    }
                    prop_assert!(per_item_today.values().all(|v| *v <= cents(per_item)), "per-item cap crossed");
                    // If every open order were debited now, the real balance would still be at or above the floor
                    // (unless it started below it, in which case nothing may have been approved since).
                    let open: Usd = orders.iter().filter(|o| o.open).map(|o| o.amount).sum();
                    let worst = exchange_balance.checked_sub(open);
                    prop_assert!(open == Usd::ZERO || worst.is_some_and(|w| w >= cents(floor)), "floor crossed: balance {exchange_balance}, open {open}");
                }
            }
        }
    }
}
