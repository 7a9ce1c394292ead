//! Decisions: a pure function of (market snapshot, reference prices, what was already bought,
//! strategies, rates) → candidates for the guard. It does no I/O itself; reference prices come in
//! through [`References`], so a test replays any decision with its own references.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::file::{Reference, Rule, Strategy};
use super::matcher::Matcher;
use crate::domain::{Candidate, Game, Intent, ItemId, PurchaseRecord, Rates, Usd, Weight};

pub use super::snapshot::Snapshot;

/// All-time counts of purchases, the ways strategies limit themselves. Kept up to date
/// incrementally by the engine (see [`Totals::apply`]) rather than recounted from the whole ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    strategy: HashMap<String, u32>,
    rule: HashMap<(String, String), u32>,
    item: HashMap<(String, String, String), u32>,
    held: HashMap<(String, Game, String), u32>,
}

impl Totals {
    /// Moves one purchase from weight `before` to weight `after` (see [`PurchaseState::weight`]).
    ///
    /// [`PurchaseState::weight`]: crate::domain::PurchaseState::weight
    pub fn apply(&mut self, intent: &Intent, before: Weight, after: Weight) {
        self.apply_key(&intent.strategy, &intent.rule, intent.game, &intent.name, before, after);
    }

    fn apply_key(&mut self, s: &str, r: &str, game: Game, n: &str, before: Weight, after: Weight) {
        fn step<K: std::hash::Hash + Eq>(m: &mut HashMap<K, u32>, k: K, was: bool, is: bool) {
            match (was, is) {
                (false, true) => *m.entry(k).or_default() += 1,
                (true, false) => {
                    // A count that drops to zero goes, so equal counts compare equal.
                    if let Some(n) = m.get_mut(&k) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            m.remove(&k);
                        }
                    }
                }
                _ => {}
            }
        }
        let (s, r, n) = (s.to_string(), r.to_string(), n.to_string());
        step(&mut self.strategy, s.clone(), before.counted, after.counted);
        step(&mut self.rule, (s.clone(), r.clone()), before.counted, after.counted);
        step(&mut self.item, (s.clone(), r, n.clone()), before.counted, after.counted);
        step(&mut self.held, (s, game, n), before.held, after.held);
    }

    /// Every count as a flat list, for a checkpoint.
    pub(crate) fn to_parts(&self) -> TotalsParts {
        let mut p = TotalsParts {
            strategy: self.strategy.iter().map(|(s, n)| (s.clone(), *n)).collect(),
            rule: self.rule.iter().map(|((s, r), n)| (s.clone(), r.clone(), *n)).collect(),
            item: self.item.iter().map(|((s, r, i), n)| (s.clone(), r.clone(), i.clone(), *n)).collect(),
            held: self.held.iter().map(|((s, g, i), n)| (s.clone(), *g, i.clone(), *n)).collect(),
        };
        // A stable order, so equal totals make equal bytes.
        p.strategy.sort();
        p.rule.sort();
        p.item.sort();
        p.held.sort();
        p
    }

    pub(crate) fn from_parts(p: TotalsParts) -> Totals {
        Totals {
            strategy: p.strategy.into_iter().collect(),
            rule: p.rule.into_iter().map(|(s, r, n)| ((s, r), n)).collect(),
            item: p.item.into_iter().map(|(s, r, i, n)| ((s, r, i), n)).collect(),
            held: p.held.into_iter().map(|(s, g, i, n)| ((s, g, i), n)).collect(),
        }
    }

    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a PurchaseRecord>) -> Totals {
        let mut t = Totals::default();
        for r in records {
            t.apply(&r.intent, Weight::default(), r.state.weight());
        }
        t
    }
}

/// [`Totals`] as plain lists (JSON has no tuple keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TotalsParts {
    strategy: Vec<(String, u32)>,
    rule: Vec<(String, String, u32)>,
    item: Vec<(String, String, String, u32)>,
    held: Vec<(String, Game, String, u32)>,
}

/// What was already bought: all-time [`Totals`], today's counts, and the listings whose order is
/// still open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    totals: Totals,
    strategy_day: HashMap<String, u32>,
    rule_day: HashMap<(String, String), u32>,
    item_day: HashMap<(String, String, String), u32>,
    /// Listings of orders whose outcome is still open: never asked for twice.
    open_listings: HashSet<ItemId>,
}

impl Tally {
    /// From every record (tests, small ledgers). `day_start` begins "today" in the configured timezone.
    pub fn from_records<'a>(
        records: impl IntoIterator<Item = &'a PurchaseRecord> + Clone,
        day_start: DateTime<Utc>,
    ) -> Tally {
        let totals = Totals::from_records(records.clone());
        Tally::from_parts(totals, records, day_start)
    }

    /// From the all-time `totals` and the records that can matter today: those created since
    /// `day_start` and those still open (others are ignored).
    pub(crate) fn from_parts<'a>(
        totals: Totals,
        recent: impl IntoIterator<Item = &'a PurchaseRecord>,
        day_start: DateTime<Utc>,
    ) -> Tally {
        let mut t = Tally { totals, ..Tally::default() };
        for r in recent {
            if r.state.is_unresolved() {
                if let Some(id) = r.intent.item_id {
                    t.open_listings.insert(id);
                }
            }
            if r.created_at >= day_start && r.state.weight().counted {
                let i = &r.intent;
                *t.strategy_day.entry(i.strategy.clone()).or_default() += 1;
                *t.rule_day.entry((i.strategy.clone(), i.rule.clone())).or_default() += 1;
                *t.item_day.entry((i.strategy.clone(), i.rule.clone(), i.name.clone())).or_default() += 1;
            }
        }
        t
    }

    /// Listings that count as taken besides those of open orders (a dry run's simulated fills).
    pub(crate) fn take_listings(&mut self, ids: impl IntoIterator<Item = ItemId>) {
        self.open_listings.extend(ids);
    }

    /// Listings of orders whose outcome is still open.
    #[cfg(test)]
    pub(super) fn open_listings(&self) -> &HashSet<ItemId> {
        &self.open_listings
    }

    /// Counts a new candidate of this tick (today, held).
    #[cfg(test)]
    pub(super) fn add(&mut self, s: &str, r: &str, game: Game, n: &str) {
        self.totals.apply_key(s, r, game, n, Weight::default(), Weight { counted: true, held: true });
        *self.strategy_day.entry(s.to_string()).or_default() += 1;
        *self.rule_day.entry((s.to_string(), r.to_string())).or_default() += 1;
        *self.item_day.entry((s.to_string(), r.to_string(), n.to_string())).or_default() += 1;
    }

    /// A strategy's purchases today and ever (what its `[limits]` count).
    pub fn strategy_counts(&self, strategy: &str) -> (u32, u32) {
        (
            self.strategy_day.get(strategy).copied().unwrap_or(0),
            self.totals.strategy.get(strategy).copied().unwrap_or(0),
        )
    }

    pub fn held(&self, strategy: &str, game: Game, name: &str) -> u32 {
        self.totals.held.get(&(strategy.to_string(), game, name.to_string())).copied().unwrap_or(0)
    }
}

/// Reference prices for discounts: the recorded-history median or the strategy's file.
pub trait References {
    /// Median price of `name` over the last `window_hours`, from the bot's own recorded history.
    fn history_median(&self, game: Game, name: &str, window_hours: u32) -> Option<Usd>;
}

/// No recorded history (e.g. a plan made without a ledger).
pub struct NoHistory;

impl References for NoHistory {
    fn history_median(&self, _: Game, _: &str, _: u32) -> Option<Usd> {
        None
    }
}

#[derive(Debug, Clone, Default)]
pub struct Decision {
    pub candidates: Vec<Candidate>,
    /// Rules that could not be evaluated this time, and why (a missing rate, say).
    pub notes: Vec<String>,
    /// Every rule of the snapshot's game, in decision order, with how many names it selected.
    pub matched: Vec<RuleMatch>,
}

/// How many names of a snapshot one rule selected (whatever their price).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    pub strategy: String,
    pub rule: String,
    pub names: usize,
}

/// Turns one snapshot into candidates. Each listing is wanted at most once; counts are applied as
/// candidates are produced, so one tick never asks for more than a limit allows.
///
/// Compiles the strategies first; the engine keeps a compiled [`Matcher`] and calls
/// [`Matcher::decide`] instead.
pub fn decide(
    strategies: &[Strategy],
    snapshot: &Snapshot,
    rates: &Rates,
    tally: &Tally,
    refs: &dyn References,
) -> Decision {
    Matcher::compile(Arc::new(strategies.to_vec())).decide(snapshot, rates, tally, refs)
}

impl Matcher {
    /// See [`decide`]. Rules go highest priority first, so that a listing and a count go to the rule
    /// that matters most; each rule takes its names deepest discount first.
    pub fn decide(&self, snapshot: &Snapshot, rates: &Rates, tally: &Tally, refs: &dyn References) -> Decision {
        let mut out = Decision::default();
        let mut taken: HashSet<ItemId> = tally.open_listings.clone();
        let mut added = Added::default();
        let game = snapshot.game;
        for (s, rule, names) in self.matches(snapshot) {
            out.matched.push(RuleMatch { strategy: s.name.clone(), rule: rule.name.clone(), names: names.len() });
            let Some(ceiling) = ceiling(s, rule, rates, &mut out.notes) else { continue };
            // Matching names with the price each may be bought at, deepest discount first.
            let mut wanted: Vec<(usize, &str, Usd, Usd)> = Vec::new();
            for i in names {
                let i = i as usize;
                let Some(&(_, lowest)) = snapshot.listings_at(i).first() else { continue };
                let name = snapshot.name(i).as_str();
                let Some(limit) = price_limit(s, rule, game, name, ceiling, refs) else { continue };
                if lowest <= limit {
                    wanted.push((i, name, limit, lowest));
                }
            }
            // The ratio once per name, not once per comparison: a rule may want thousands of names.
            let mut keyed: Vec<_> = wanted.into_iter().map(|w| (discount_key(w.2, w.3), w)).collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1 .1.cmp(b.1 .1)));
            let wanted = keyed.into_iter().map(|(_, w)| w);
            // The counts [`room`] reads, looked up once per rule and once per name rather than per
            // listing, plus what this decision added (keyed by names, as the tally is).
            let (sn, rn) = (s.name.as_str(), rule.name.as_str());
            let strategy_day = tally.strategy_day.get(sn).copied().unwrap_or(0);
            let strategy_total = tally.totals.strategy.get(sn).copied().unwrap_or(0);
            let rule_key = (sn.to_string(), rn.to_string());
            let rule_day = tally.rule_day.get(&rule_key).copied().unwrap_or(0);
            let rule_total = tally.totals.rule.get(&rule_key).copied().unwrap_or(0);
            let full = |limit: Option<u32>, n: u32| limit.is_some_and(|l| n >= l);
            'names: for (i, name, limit, _) in wanted {
                let mut item: Option<(u32, u32, u32)> = None;
                for &(id, price) in snapshot.listings_at(i) {
                    if price > limit {
                        break;
                    }
                    if taken.contains(&id) {
                        continue;
                    }
                    let by_strategy = added.strategy.get(sn).copied().unwrap_or(0);
                    let by_rule = added.rule.get(&(sn, rn)).copied().unwrap_or(0);
                    if full(s.limits.per_day, strategy_day.saturating_add(by_strategy))
                        || full(s.limits.total, strategy_total.saturating_add(by_strategy))
                        || full(rule.counts.per_day, rule_day.saturating_add(by_rule))
                        || full(rule.counts.total, rule_total.saturating_add(by_rule))
                    {
                        break 'names;
                    }
                    let (item_day, item_total, held) = *item.get_or_insert_with(|| {
                        let key = (sn.to_string(), rn.to_string(), name.to_string());
                        (
                            tally.item_day.get(&key).copied().unwrap_or(0),
                            tally.totals.item.get(&key).copied().unwrap_or(0),
                            tally.held(sn, game, name),
                        )
                    });
                    let by_item = added.item.get(&(sn, rn, name)).copied().unwrap_or(0);
                    let by_held = added.held.get(&(sn, name)).copied().unwrap_or(0);
                    if full(rule.counts.per_item_per_day, item_day.saturating_add(by_item))
                        || full(rule.counts.per_item_total, item_total.saturating_add(by_item))
                        || full(rule.counts.keep, held.saturating_add(by_held))
                    {
                        continue 'names;
                    }
                    taken.insert(id);
                    added.count(sn, rn, name);
                    out.candidates.push(candidate(s, rule, game, name, id, price));
                }
            }
        }
        out
    }
}

/// Counts added by the decision in progress, keyed by borrowed names (no allocation per listing):
/// the same increments [`Tally::add`] makes, kept beside the tally instead of in a copy of it.
#[derive(Default)]
struct Added<'a> {
    strategy: FastMap<&'a str, u32>,
    rule: FastMap<(&'a str, &'a str), u32>,
    item: FastMap<(&'a str, &'a str, &'a str), u32>,
    /// By strategy and name (one game per decision).
    held: FastMap<(&'a str, &'a str), u32>,
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl<'a> Added<'a> {
    fn count(&mut self, s: &'a str, r: &'a str, name: &'a str) {
        for n in [
            self.strategy.entry(s).or_default(),
            self.rule.entry((s, r)).or_default(),
            self.item.entry((s, r, name)).or_default(),
            self.held.entry((s, name)).or_default(),
        ] {
            *n = n.saturating_add(1);
        }
    }
}

/// The rule's absolute ceiling in USD (`Some(None)` when it has none); `None`, with a note, when it
/// cannot be converted and the rule is skipped this time.
pub(crate) fn ceiling(s: &Strategy, rule: &Rule, rates: &Rates, notes: &mut Vec<String>) -> Option<Option<Usd>> {
    match rule.max_price.as_ref().map(|m| m.to_usd(rates)).transpose() {
        Ok(c) => Some(c),
        Err(e) => {
            notes.push(format!(
                "{}/{}: max_price {} skipped: {e}",
                s.name,
                rule.name,
                rule.max_price.as_ref().map(|m| m.to_string()).unwrap_or_default()
            ));
            None
        }
    }
}

/// Deepest discount first (lowest price / limit), then by name: `(name, limit, lowest)`.
#[cfg(test)]
pub(super) fn by_discount(a: (&str, Usd, Usd), b: (&str, Usd, Usd)) -> std::cmp::Ordering {
    discount_key(a.1, a.2).cmp(&discount_key(b.1, b.2)).then(a.0.cmp(b.0))
}

/// What deepest-discount-first sorts on: lowest price over the limit (a limit under a cent counts
/// as a cent).
fn discount_key(limit: Usd, lowest: Usd) -> rust_decimal::Decimal {
    lowest.amount() / limit.amount().max(rust_decimal::Decimal::new(1, 2))
}

pub(super) fn candidate(s: &Strategy, rule: &Rule, game: Game, name: &str, id: ItemId, price: Usd) -> Candidate {
    Candidate {
        strategy: s.name.clone(),
        rule: rule.name.clone(),
        priority: rule.priority,
        game,
        name: name.to_string(),
        item_id: Some(id),
        price_seen: price,
        // Bought by id, a listing has one price: the ceiling is what was seen (in whole cents, as it
        // travels on the wire).
        max_price: price.ceil_cents(),
    }
}

/// The most this rule pays for `name` now: the lower of its absolute ceiling and its discount
/// price. `None` when a discount has no reference price to work from.
pub(crate) fn price_limit(
    s: &Strategy,
    rule: &Rule,
    game: Game,
    name: &str,
    ceiling: Option<Usd>,
    refs: &dyn References,
) -> Option<Usd> {
    let discounted = match &rule.discount {
        None => None,
        Some(d) => {
            let reference = match d.reference {
                Reference::History { window_hours } => refs.history_median(game, name, window_hours),
                Reference::File => s.references.get(name).copied(),
            }?;
            Some(Usd::new(reference.amount() * d.pay_fraction).floor_cents())
        }
    };
    match (ceiling, discounted) {
        (Some(c), Some(d)) => Some(c.min(d)),
        (Some(c), None) => Some(c),
        (None, Some(d)) => Some(d),
        (None, None) => None,
    }
}

#[cfg(test)]
pub(super) enum Room {
    Yes,
    NotThisItem,
    NotThisRule,
}

#[cfg(test)]
pub(super) fn room(s: &Strategy, rule: &Rule, game: Game, name: &str, t: &Tally) -> Room {
    let get = |m: &HashMap<(String, String), u32>| m.get(&(s.name.clone(), rule.name.clone())).copied().unwrap_or(0);
    let item = |m: &HashMap<(String, String, String), u32>| {
        m.get(&(s.name.clone(), rule.name.clone(), name.to_string())).copied().unwrap_or(0)
    };
    let full = |limit: Option<u32>, n: u32| limit.is_some_and(|l| n >= l);
    if full(s.limits.per_day, t.strategy_day.get(&s.name).copied().unwrap_or(0))
        || full(s.limits.total, t.totals.strategy.get(&s.name).copied().unwrap_or(0))
        || full(rule.counts.per_day, get(&t.rule_day))
        || full(rule.counts.total, get(&t.totals.rule))
    {
        return Room::NotThisRule;
    }
    if full(rule.counts.per_item_per_day, item(&t.item_day))
        || full(rule.counts.per_item_total, item(&t.totals.item))
        || full(rule.counts.keep, t.held(&s.name, game, name))
    {
        return Room::NotThisItem;
    }
    Room::Yes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Listing;
    use std::path::Path;

    fn strategy(name: &str, text: &str) -> Strategy {
        Strategy::parse(Path::new(&format!("{name}.toml")), text).unwrap().unwrap()
    }

    fn snapshot(listings: &[(u64, &str, &str)]) -> Snapshot {
        let l = listings.iter().map(|(id, name, price)| Listing {
            id: ItemId::new(*id),
            name: name.to_string(),
            price: Usd::parse(price).unwrap(),
        });
        Snapshot::new(Game::Cs2, Utc::now(), l)
    }

    const RULE: &str = "[[rules]]\nselect = { names = \"Recoil Case\" }\nmax_price = \"1\"\n";

    #[test]
    fn the_higher_priority_rule_gets_a_contested_listing() {
        let low = strategy("low", &format!("priority = 1\n{RULE}"));
        let high = strategy("high", &format!("priority = 9\n{RULE}"));
        let d = decide(
            &[low, high],
            &snapshot(&[(1, "Recoil Case", "0.31")]),
            &Rates::new(),
            &Tally::default(),
            &NoHistory,
        );
        assert_eq!(d.candidates.len(), 1);
        assert_eq!(d.candidates[0].strategy, "high");
    }

    #[test]
    fn counts_limit_a_tick_and_open_orders_are_not_asked_for_again() {
        let s = strategy("s", &format!("{RULE}per_item_per_day = 2\n"));
        let snap = snapshot(&[(1, "Recoil Case", "0.31"), (2, "Recoil Case", "0.32"), (3, "Recoil Case", "0.33")]);
        let d = decide(std::slice::from_ref(&s), &snap, &Rates::new(), &Tally::default(), &NoHistory);
        let ids: Vec<u64> = d.candidates.iter().filter_map(|c| c.item_id).map(ItemId::get).collect();
        assert_eq!(ids, vec![1, 2], "cheapest first, two a day");

        // Listing 1 has an order whose outcome is open: it is not asked for again, and it counts.
        let intent = crate::domain::Intent {
            custom_id: "sb-1".parse().unwrap(),
            candidate: Candidate {
                strategy: "s".into(),
                rule: "rule-1".into(),
                priority: 0,
                game: Game::Cs2,
                name: "Recoil Case".into(),
                item_id: Some(ItemId::new(1)),
                price_seen: Usd::parse("0.31").unwrap(),
                max_price: Usd::parse("0.31").unwrap(),
            },
        };
        let rec = PurchaseRecord::new(intent, Utc::now(), Rates::new(), "h".into());
        let tally = Tally::from_records([&rec], Utc::now() - chrono::Duration::hours(1));
        let d = decide(&[s], &snap, &Rates::new(), &tally, &NoHistory);
        let ids: Vec<u64> = d.candidates.iter().filter_map(|c| c.item_id).map(ItemId::get).collect();
        assert_eq!(ids, vec![2]);
    }

    #[test]
    fn a_sub_cent_price_reserves_the_next_whole_cent() {
        let s = strategy("s", RULE);
        let d = decide(&[s], &snapshot(&[(1, "Recoil Case", "0.315")]), &Rates::new(), &Tally::default(), &NoHistory);
        assert_eq!(d.candidates[0].max_price, Usd::parse("0.32").unwrap());
    }

    #[test]
    fn a_price_in_a_currency_without_a_rate_is_skipped_with_a_note() {
        let s = strategy("s", "[[rules]]\nselect = {}\nmax_price = \"5 eur\"\n");
        let d = decide(&[s], &snapshot(&[(1, "Recoil Case", "0.31")]), &Rates::new(), &Tally::default(), &NoHistory);
        assert!(d.candidates.is_empty());
        assert!(d.notes[0].contains("no exchange rate known for EUR"), "{:?}", d.notes);
    }
}
