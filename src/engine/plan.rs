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
use crate::config::{Config, Endpoint};
use crate::domain::{Candidate, Game, PurchaseRecord, Rates, Usd};
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

/// Reads the market and decides as a tick would at `now`. Never sends a buy, never writes.
pub async fn plan(
    config: &Config,
    strategies: &[Strategy],
    client: &Client,
    view: &LedgerView<'_>,
    now: DateTime<Utc>,
) -> Plan {
    let mut notes = Vec::new();
    let mode = if config.dry_run {
        "dry-run"
    } else if config.exchange.endpoint == Endpoint::Sandbox {
        "sandbox"
    } else {
        "live"
    };
    // What stops every order (the tick's hold_back): a halt, then a pause.
    let halted = view.halt.as_ref().map(|h| {
        format!("buying halted: {} ({}, by {} at {})", h.reason, h.kind, h.by, h.at.format("%Y-%m-%d %H:%M:%S UTC"))
    });
    let paused = match client.status().await {
        Ok(st) if st.available => None,
        Ok(st) => Some(format!(
            "buying paused: the exchange says it is unavailable ({})",
            st.reason.as_deref().unwrap_or("no reason given")
        )),
        Err(e) => Some(format!("buying paused: the exchange's status cannot be read: {e}")),
    };
    let stopped = halted.or(paused);
    let rates = match client.currencies().await.map_err(|e| e.to_string()).and_then(|c| wire::rates_from(&c)) {
        Ok(r) => r,
        Err(e) => {
            notes
                .push(format!("no currency rates ({e}): limits and prices in other currencies than USD refuse orders"));
            Rates::new()
        }
    };
    let balance = match client.balance().await {
        Ok(b) => Some(LastBalance { amount: b.balance, fetched_at: now, debited_since: Usd::ZERO }),
        Err(e) => {
            notes.push(format!("the balance cannot be read ({e}): every order is refused"));
            None
        }
    };
    let windows = window_starts(now, config.schedule.timezone);
    // What a tick reads of the ledger: today's purchases and the open ones; all-time counts.
    let recent: Vec<PurchaseRecord> =
        view.records.iter().filter(|r| r.created_at >= windows.day_start || r.state.is_unresolved()).cloned().collect();
    let totals = Totals::from_records(&view.records);
    let matcher = Matcher::compile(Arc::new(strategies.to_vec()));
    let limits = config.budget.limits(&rates);
    let mut rules = Vec::new();
    let mut committed = None;
    let mut total = Usd::ZERO;
    let (mut would_buy, mut refused) = (0, 0);
    for game in config.orders.games.clone() {
        let (table, last_update) = match client.pricelist_table(game, None).await {
            Ok(FullList::Fresh { table, last_update, .. }) => (table, last_update),
            Ok(FullList::Unchanged) => continue,
            Err(e) => {
                notes.push(format!("the {game} price list cannot be read: {e}"));
                continue;
            }
        };
        if let Some(why) = list_too_old(game, last_update.as_deref(), config.sanity.pricelist_max_age, now) {
            notes.push(format!("no order from this list: {why}"));
            continue;
        }
        let snapshot = Snapshot::from_table(game, now, table);
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
        let decision = matcher.decide(&snapshot, &rates, &tally, refs);
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
                let Round { committed: c, verdicts: v } = guard_round(
                    config,
                    decision.candidates.clone(),
                    limits,
                    &recent,
                    windows,
                    balance,
                    now,
                    &median,
                    stopped.as_deref(),
                );
                // The velocity brake looks at the approved orders together: over it, the tick halts
                // instead of sending any.
                let wanted: Usd = v.approved.iter().map(|a| a.candidate().max_price).sum();
                let too_fast = config.halt.velocity.as_ref().and_then(|(limit, within)| {
                    let limit = limit.to_usd(&rates).ok()?;
                    let since = now - chrono::Duration::from_std(*within).unwrap_or(chrono::Duration::MAX);
                    let spent: Usd =
                        view.records.iter().filter(|r| r.created_at >= since).map(PurchaseRecord::committed).sum();
                    (!v.approved.is_empty()).then(|| velocity_over(spent, wanted, limit, *within)).flatten()
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
                        }
                    }
                }
                for r in &v.refused {
                    refused += 1;
                    put(&r.candidate, REFUSED, Some(r.reason.kind()), Some(r.reason.to_string()));
                }
                committed.get_or_insert(c);
            }
        }
        for (s, rule, names) in matcher.matches(&snapshot) {
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
                let Some(cap) = ceiling(s, rule, &rates, &mut Vec::new()) else {
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
                limit: describe_limit(rule, &rates),
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
        windows: budget_windows(&committed, &limits.clone().unwrap_or_default()),
        rules,
        notes,
        would_buy,
        refused,
        total: total.to_string(),
    }
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
