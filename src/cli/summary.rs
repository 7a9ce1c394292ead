//! The end-of-run summary printed by `skinbot run`.

use std::sync::atomic::Ordering;

use crate::domain::Usd;
use crate::engine::Engine;

/// A one-screen account of a run.
pub fn summary(engine: &Engine) -> String {
    let st = &engine.stats;
    let records = engine.ledger().list().unwrap_or_default();
    // Spent, refunded and net named as `skinbot ledger summary` names them.
    let (totals, _) = crate::ledger::query::summarize(
        &records,
        crate::ledger::query::GroupBy::Strategy,
        chrono_tz::Tz::UTC,
        &crate::domain::CurrencyCode::usd(),
    );
    let sum = |f: fn(&crate::ledger::query::Totals) -> rust_decimal::Decimal| {
        Usd::new(totals.iter().map(f).fold(rust_decimal::Decimal::ZERO, |a, b| a.saturating_add(b)))
    };
    let (spent, refunded, net) = (sum(|t| t.spent), sum(|t| t.refunded), sum(|t| t.net));
    let open = records.iter().filter(|r| !r.state.is_final()).count();
    let mut by_state: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &records {
        *by_state.entry(r.state.label().to_string()).or_default() += 1;
    }
    let mut refusals: Vec<_> = st.refusals().into_iter().collect();
    refusals.sort();
    let balance = engine.last_balance().map(|b| b.to_string()).unwrap_or_else(|| "unknown".into());
    let mut out = String::new();
    out.push_str("── skinbot summary ──────────────────────────────\n");
    out.push_str(&format!(
        "ticks {} (missed {})   polls {}   api errors {}\n",
        st.ticks.runs.load(Ordering::Relaxed),
        st.ticks.missed.load(Ordering::Relaxed),
        st.polls.runs.load(Ordering::Relaxed),
        st.api_errors.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "this run: candidates {}   approved {}   refused {}   bought {}   not bought {}   unknown {}\n",
        st.candidates.load(Ordering::Relaxed),
        st.approved.load(Ordering::Relaxed),
        st.refused.load(Ordering::Relaxed),
        st.bought.load(Ordering::Relaxed),
        st.not_bought.load(Ordering::Relaxed),
        st.unknown.load(Ordering::Relaxed)
    ));
    if !refusals.is_empty() {
        let list: Vec<String> = refusals.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!("refusals: {}\n", list.join(", ")));
    }
    out.push_str(&format!(
        "ledger: {} purchases, {} still open; spent {spent}, refunded {refunded} (failed offers), net {net}\n",
        records.len(),
        open
    ));
    if !by_state.is_empty() {
        let list: Vec<String> = by_state.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!("states: {}\n", list.join(", ")));
    }
    out.push_str(&format!("balance (last fetched): {balance}\n"));
    if let Some(h) = engine.halted() {
        out.push_str(&format!("HALTED: {h}\n"));
    }
    out
}
