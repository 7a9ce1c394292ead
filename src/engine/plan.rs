//! `skinbot plan`: what the next tick would buy now, rule by rule, and why not the rest — without
//! sending anything and without writing to the ledger.
//!
//! It reads what a tick reads (exchange status, rates, balance, each game's full price list) and
//! decides through the same functions the tick does: [`Matcher::decide`] on a [`Tally`] built by
//! [`tally_for`], then [`guard_round`] (price sanity, caps, budget windows, balance floor), then the
//! spend-velocity brake. Only the outcome differs: a plan lists it; a tick sends it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::brakes::{list_too_old, velocity_over};
use super::tick::{budget_windows, guard_round, tally_for, window_starts, LedgerReferences, Round, OBSERVATION_GAP};
use crate::config::Config;
use crate::domain::{Candidate, CustomId, Game, Intent, PurchaseRecord, Rates, Usd, Weight};
use crate::exchange::{wire, Client, FullList};
use crate::guard::LastBalance;
use crate::ledger::{HaltEvent, Ledger};
use crate::strategy::decide::{ceiling, price_limit, NoHistory, References, Snapshot, Totals};
use crate::strategy::file::{Reference, Rule, Strategy};
use crate::strategy::matcher::Matcher;

/// What the ledger says, however it was read (opened here, or through the running bot).
pub struct LedgerView<'a> {
    /// Every purchase.
    pub records: Vec<PurchaseRecord>,
    /// The halt in force, if any.
    pub halt: Option<HaltEvent>,
    /// The ledger itself, for recorded prices (history discounts, price sanity); `None` when it
    /// cannot be opened here (the running bot holds it): those rules and checks go without.
    pub history: Option<&'a Ledger>,
}

/// How many matched names a plan shows by name, per rule.
pub const EXAMPLES: usize = 3;

/// A whole plan. Money is shown as text with its currency (`"1.02 USD"`).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub at: DateTime<Utc>,
    /// `live`, `sandbox` or `dry-run`.
    pub mode: String,
    pub balance: Option<String>,
    /// Why nothing would be bought at all (halted, paused), if so.
    pub stopped: Option<String>,
    /// Budget windows as the guard sees them now (used = spent or reserved).
    pub windows: Vec<super::status::Window>,
    pub rules: Vec<RulePlan>,
    /// Things the reader should know: unreadable rates or lists, recorded prices not available.
    pub notes: Vec<String>,
    pub would_buy: usize,
    pub refused: usize,
    /// What the would-buy orders add up to (their `max_price`, what the budget reserves).
    pub total: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RulePlan {
    pub strategy: String,
    pub rule: String,
    pub game: String,
    pub priority: i32,
    /// Names on the market the rule's selector matches, whatever their price.
    pub matched: usize,
    /// A few of them (cheapest first).
    pub examples: Vec<String>,
    /// The cheapest listing among them: name and price.
    pub cheapest: Option<Cheapest>,
    /// What the rule pays at most: its `max_price` and/or its discount.
    pub limit: String,
    /// Its count limits (`per_day 2, per_item_per_day 1`), if any.
    pub counts: Option<String>,
    pub candidates: Vec<CandidatePlan>,
    /// Why the rule has no candidate, when it has none.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cheapest {
    pub name: String,
    pub price: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidatePlan {
    pub item: String,
    pub listing: Option<u64>,
    pub price: String,
    /// `would buy` or `refused`.
    pub verdict: String,
    /// The refusal's short name (`daily_budget`, `per_order_cap`, …), as counted in `status`.
    pub reason_kind: Option<String>,
    /// The refusal, with its input and its limit.
    pub reason: Option<String>,
}

/// A candidate's strategy, rule and listing.
type ListingKey = (String, String, Option<u64>);
/// `would buy` or `refused`, the refusal's kind and its text.
type Verdict = (String, Option<String>, Option<String>);

const WOULD_BUY: &str = "would buy";
const REFUSED: &str = "refused";

/// What a plan reads from the exchange: everything a tick reads there, fetched before the ledger is
/// opened so that no lock on it is held across a network call.
pub struct Market {
    /// When it was read: the plan's `now`.
    pub at: DateTime<Utc>,
    /// Why the exchange does not take orders now (it says it is unavailable, or cannot be asked).
    paused: Option<String>,
    rates: Rates,
    /// Why `rates` is empty, if it is.
    no_rates: Option<String>,
    balance: Option<LastBalance>,
    /// Each configured game's price list, in the configured order, or why none can be bought from.
    lists: Vec<(Game, Result<Snapshot, String>)>,
    notes: Vec<String>,
}

/// Reads what a tick reads from the exchange at `now`: status, currency rates, balance, and each
/// configured game's full price list. Never sends a buy.
pub async fn fetch(config: &Config, client: &Client, now: DateTime<Utc>) -> Market {
    let mut notes = Vec::new();
    let paused = match client.status().await {
        Ok(st) if st.available => None,
        Ok(st) => Some(format!(
            "buying paused: the exchange says it is unavailable ({})",
            st.reason.as_deref().unwrap_or("no reason given")
        )),
        Err(e) => Some(format!("buying paused: the exchange's status cannot be read: {e}")),
    };
    let (rates, no_rates) =
        match client.currencies().await.map_err(|e| e.to_string()).and_then(|c| wire::rates_from(&c)) {
            Ok(r) => (r, None),
            Err(e) => {
                notes.push(format!(
                    "no currency rates ({e}): limits and prices in other currencies than USD refuse orders"
                ));
                (Rates::new(), Some(format!("the currency rates cannot be read: {e}")))
            }
        };
    let balance = match client.balance().await {
        Ok(b) => Some(LastBalance { amount: b.balance, fetched_at: now, debited_since: Usd::ZERO }),
        Err(e) => {
            notes.push(format!("the balance cannot be read ({e}): every order is refused"));
            None
        }
    };
    let mut lists = Vec::new();
    for game in config.orders.games.clone() {
        let list = match client.pricelist_table(game, None).await {
            Ok(FullList::Fresh { table, last_update, .. }) => {
                match list_too_old(game, last_update.as_deref(), config.sanity.pricelist_max_age, now) {
                    Some(why) => Err(format!("no order from this list: {why}")),
                    None => Ok(Snapshot::from_table(game, now, table)),
                }
            }
            // Only answered to a stamp, and none was sent.
            Ok(FullList::Unchanged) => continue,
            Err(e) => Err(format!("the {game} price list cannot be read: {e}")),
        };
        lists.push((game, list));
    }
    Market { at: now, paused, rates, no_rates, balance, lists, notes }
}

/// Reads the market and decides as a tick would at `now`. Never sends a buy, never writes.
pub async fn plan(
    config: &Config,
    strategies: &[Strategy],
    client: &Client,
    view: &LedgerView<'_>,
    now: DateTime<Utc>,
) -> Plan {
    decide(config, strategies, &fetch(config, client, now).await, view)
}

/// Decides on `market` as the next tick would, game after game: each game's would-buy orders count
/// against the next game's budget windows, caps, strategy counts and spend velocity, as the tick's
/// recorded orders do. No I/O but reading the ledger's recorded prices (`view.history`).
pub fn decide(config: &Config, strategies: &[Strategy], market: &Market, view: &LedgerView<'_>) -> Plan {
    let now = market.at;
    let mut notes = market.notes.clone();
    let mode = config.mode();
    // What stops every order (the tick's hold_back): a halt, then a pause.
    let halted = view.halt.as_ref().map(|h| {
        format!("buying halted: {} ({}, by {} at {})", h.reason, h.kind, h.by, h.at.format("%Y-%m-%d %H:%M:%S UTC"))
    });
    let stopped = halted.or(market.paused.clone());
    let rates = &market.rates;
    let balance = market.balance;
    let windows = window_starts(now, config.schedule.timezone);
    // What a tick reads of the ledger: today's purchases and the open ones; all-time counts. The
    // orders this plan would send are added as each game is decided (see below).
    let mut recent: Vec<PurchaseRecord> =
        view.records.iter().filter(|r| r.created_at >= windows.day_start || r.state.is_unresolved()).cloned().collect();
    let mut totals = Totals::from_records(&view.records);
    // What the velocity brake counts: every purchase created within its window.
    let velocity_since = config
        .halt
        .velocity
        .as_ref()
        .map(|(_, within)| now - chrono::Duration::from_std(*within).unwrap_or(chrono::Duration::MAX));
    let mut velocity_spent: Usd = velocity_since
        .map(|since| view.records.iter().filter(|r| r.created_at >= since).map(PurchaseRecord::committed).sum())
        .unwrap_or(Usd::ZERO);
    // Set when one game's orders would trip the velocity brake: the tick halts, later games buy nothing.
    let mut would_halt: Option<String> = None;
    let matcher = Matcher::compile(Arc::new(strategies.to_vec()));
    let limits = config.budget.limits(rates);
    let mut rules = Vec::new();
    let mut committed = None;
    let mut total = Usd::ZERO;
    let (mut would_buy, mut refused) = (0, 0);
    let mut planned = 0u32;
    for (game, list) in &market.lists {
        let game = *game;
        let snapshot = match list {
            Ok(s) => s,
            Err(why) => {
                notes.push(why.clone());
                continue;
            }
        };
        let tally = tally_for(config, totals.clone(), &recent, windows.day_start);
        let history_refs;
        let refs: &dyn References = match view.history {
            Some(ledger) => {
                let observed_since = ledger.observed_since(game, now, OBSERVATION_GAP).unwrap_or(now);
                history_refs = LedgerReferences { ledger, now, observed_since };
                &history_refs
            }
            None => &NoHistory,
        };
        let decision = matcher.decide(snapshot, rates, &tally, refs);
        notes.extend(decision.notes.iter().cloned());
        // Every candidate's verdict, keyed by its listing.
        let mut verdicts: HashMap<ListingKey, Verdict> = HashMap::new();
        let mut put = |c: &Candidate, verdict: &str, kind: Option<&str>, reason: Option<String>| {
            verdicts.insert(
                (c.strategy.clone(), c.rule.clone(), c.item_id.map(|i| i.get())),
                (verdict.to_string(), kind.map(String::from), reason),
            );
        };
        match &limits {
            Err(e) => {
                for c in &decision.candidates {
                    refused += 1;
                    put(c, REFUSED, Some("no_rate"), Some(format!("cannot convert a limit to USD: {e}")));
                }
            }
            Ok(limits) => {
                let median = |g: Game, name: &str, since, now| {
                    view.history.and_then(|l| l.median_price(g, name, since, now).ok().flatten())
                };
                let halt = stopped.as_deref().or(would_halt.as_deref());
                let Round { committed: c, verdicts: v } = guard_round(
                    config,
                    decision.candidates.clone(),
                    limits,
                    &recent,
                    windows,
                    balance,
                    now,
                    &median,
                    halt,
                );
                // The velocity brake looks at the approved orders together: over it, the tick halts
                // instead of sending any.
                let wanted: Usd = v.approved.iter().map(|a| a.candidate().max_price).sum();
                let too_fast = config.halt.velocity.as_ref().and_then(|(limit, within)| {
                    let limit = limit.to_usd(rates).ok()?;
                    (!v.approved.is_empty()).then(|| velocity_over(velocity_spent, wanted, limit, *within)).flatten()
                });
                for a in &v.approved {
                    match &too_fast {
                        Some(why) => {
                            refused += 1;
                            put(a.candidate(), REFUSED, Some("velocity"), Some(format!("buying would halt: {why}")));
                        }
                        None => {
                            would_buy += 1;
                            total = total.saturating_add(a.candidate().max_price);
                            put(a.candidate(), WOULD_BUY, None, None);
                            // As the tick records it before the next game is decided.
                            planned += 1;
                            let record = planned_record(a.candidate(), planned, now, rates);
                            totals.apply(&record.intent, Weight::default(), record.state.weight());
                            velocity_spent = velocity_spent.saturating_add(record.committed());
                            recent.push(record);
                        }
                    }
                }
                if let Some(why) = too_fast {
                    would_halt = Some(format!("buying would halt: {why}"));
                }
                for r in &v.refused {
                    refused += 1;
                    put(&r.candidate, REFUSED, Some(r.reason.kind()), Some(r.reason.to_string()));
                }
                committed.get_or_insert(c);
            }
        }
        for (s, rule, names) in matcher.matches(snapshot) {
            let mut priced: Vec<(&str, Usd)> = names
                .iter()
                .filter_map(|&i| {
                    let i = i as usize;
                    snapshot.listings_at(i).first().map(|&(_, p)| (snapshot.name(i).as_str(), p))
                })
                .collect();
            priced.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)));
            let candidates: Vec<CandidatePlan> = decision
                .candidates
                .iter()
                .filter(|c| c.strategy == s.name && c.rule == rule.name)
                .map(|c| {
                    let (verdict, kind, reason) = verdicts
                        .get(&(c.strategy.clone(), c.rule.clone(), c.item_id.map(|i| i.get())))
                        .cloned()
                        .unwrap_or_else(|| (REFUSED.into(), None, Some("not checked".into())));
                    CandidatePlan {
                        item: c.name.clone(),
                        listing: c.item_id.map(|i| i.get()),
                        price: c.max_price.to_string(),
                        verdict,
                        reason_kind: kind,
                        reason,
                    }
                })
                .collect();
            let note = candidates.is_empty().then(|| {
                if priced.is_empty() {
                    return "no listing on the market matches its select".to_string();
                }
                let Some(cap) = ceiling(s, rule, rates, &mut Vec::new()) else {
                    return "its max_price cannot be converted to USD (no rates)".to_string();
                };
                let under = priced
                    .iter()
                    .filter(|(name, p)| price_limit(s, rule, game, name, cap, refs).is_some_and(|l| *p <= l))
                    .count();
                if under == 0 {
                    if rule.discount.is_some() && priced.iter().all(|(n, _)| price_limit(s, rule, game, n, cap, refs).is_none()) {
                        "no reference price yet for its discount".to_string()
                    } else {
                        "no listing at or under its limit".to_string()
                    }
                } else {
                    let names = if under == 1 { "name" } else { "names" };
                    format!(
                        "{under} {names} at or under its limit, but its counts are used up (or their listings are already ordered)"
                    )
                }
            });
            rules.push(RulePlan {
                strategy: s.name.clone(),
                rule: rule.name.clone(),
                game: game.to_string(),
                priority: rule.priority,
                matched: priced.len(),
                examples: priced.iter().take(EXAMPLES).map(|(n, _)| n.to_string()).collect(),
                cheapest: priced.first().map(|(n, p)| Cheapest { name: n.to_string(), price: p.to_string() }),
                limit: describe_limit(rule, rates),
                counts: describe_counts(s, rule),
                candidates,
                note,
            });
        }
    }
    let committed = committed.unwrap_or_else(|| {
        let max_age = chrono::Duration::from_std(config.budget.balance_max_age).unwrap_or(chrono::Duration::MAX);
        crate::guard::committed(&recent, windows, balance, now, max_age)
    });
    Plan {
        at: now,
        mode: mode.into(),
        balance: balance.map(|b| b.amount.to_string()),
        stopped,
        windows: budget_windows(&committed, &config.budget, rates, market.no_rates.as_deref()),
        rules,
        notes,
        would_buy,
        refused,
        total: total.to_string(),
    }
}

/// The order a tick would record for `candidate` before deciding the next game: pending, reserving
/// its `max_price`. Never written anywhere; its custom id only has to be unique within the plan.
fn planned_record(candidate: &Candidate, n: u32, now: DateTime<Utc>, rates: &Rates) -> PurchaseRecord {
    let custom_id: CustomId = format!("plan-{n}").parse().expect("a valid custom id");
    let intent = Intent { custom_id, candidate: candidate.clone() };
    PurchaseRecord::new(intent, now, rates.clone(), String::new())
}

/// `max_price 25.00 USD`, `4.50 EUR (4.86 USD)`, `10% under the 24h median`, or both.
fn describe_limit(rule: &Rule, rates: &Rates) -> String {
    let mut parts = Vec::new();
    if let Some(m) = &rule.max_price {
        match m.to_usd(rates) {
            Ok(usd) if usd.to_string() != m.to_string() => {
                parts.push(format!("max {m} (≈{})", Usd::new(usd.amount().round_dp(2))))
            }
            Ok(_) => parts.push(format!("max {m}")),
            Err(_) => parts.push(format!("max {m} (no rate)")),
        }
    }
    if let Some(d) = &rule.discount {
        let of = match d.reference {
            Reference::History { window_hours } => format!("its {window_hours}h recorded median"),
            Reference::File => "its reference_file price".to_string(),
        };
        parts.push(format!("{}% under {of}", d.percent.normalize()));
    }
    parts.join(" and ")
}

fn describe_counts(s: &Strategy, rule: &Rule) -> Option<String> {
    let c = &rule.counts;
    let parts: Vec<String> = [
        ("per_item_per_day", c.per_item_per_day),
        ("per_item_total", c.per_item_total),
        ("per_day", c.per_day),
        ("total", c.total),
        ("keep", c.keep),
        ("strategy per_day", s.limits.per_day),
        ("strategy total", s.limits.total),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}
