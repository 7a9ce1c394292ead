//! The strategy set compiled once per load (and per reload) into one matcher, so a tick costs
//! listings + matches rather than listings × rules.
//!
//! Each distinct name of a snapshot is looked at once, against every rule together:
//! - exact `names` of all rules in one hash map, name → rules;
//! - every rule's `globs` in one `GlobSet`, every `regexes` in one `RegexSet`, pattern → rules;
//! - rules without patterns indexed by the parsed name: by `base` when they filter on it, else by
//!   `kind`, else they are tried on every name.
//!
//! That gives, per name, the few rules that can match; each of those then checks its remaining
//! filters and excludes ([`Selector::matches_besides_patterns`]). The result per rule is the list of
//! matching names in snapshot (byte) order, exactly what evaluating each rule over every name gave.
//!
//! Hashing: the keys are names from strategy files, but the lookups are names from the exchange's
//! price list, and the map is not in a hot loop an attacker could steer. foldhash with a random
//! per-process seed is fast on short strings and leaves no fixed collision set to aim at.
//!
//! [`Selector::matches_besides_patterns`]: super::selector::Selector::matches_besides_patterns

use std::collections::HashMap;
use std::sync::Arc;

use globset::GlobSet;
use regex::RegexSet;

use super::file::{Reference, Rule, Strategy};
use super::selector::{fold_case, glob, Selector};
use super::snapshot::Snapshot;
use crate::domain::{Game, ItemKind};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A strategy set compiled for decisions. Holds the strategies it was built from, so the engine can
/// tell (by pointer) whether a reload replaced them.
#[derive(Debug)]
pub struct Matcher {
    strategies: Arc<Vec<Strategy>>,
    games: Vec<(Game, GameRules)>,
}

/// Position of a rule in [`GameRules::order`].
type RulePos = u32;

#[derive(Debug, Default)]
struct GameRules {
    /// This game's rules, highest priority first, file order among equals: (strategy, rule) indices.
    order: Vec<(usize, usize)>,
    exact: FastMap<String, Vec<RulePos>>,
    /// Every glob, in sets of at most [`PATTERNS_PER_SET`]; `glob_rules[k]` owns the k-th glob overall.
    globs: Vec<GlobSet>,
    glob_rules: Vec<Vec<RulePos>>,
    /// The same for regexes.
    regexes: Vec<RegexSet>,
    regex_rules: Vec<Vec<RulePos>>,
    /// Rules without patterns that filter on `base`, by each base folded to lower case.
    by_base: FastMap<String, Vec<RulePos>>,
    /// Rules without patterns or `base` that filter on `kind`, by kind (index in `ItemKind::ALL`).
    by_kind: Vec<Vec<RulePos>>,
    /// Rules tried on every name: no pattern and no base or kind filter, or patterns that could not
    /// be combined into one set (they check their own).
    every_name: Vec<RulePos>,
    /// Rules in `every_name` whose own patterns must still be checked.
    own_patterns: Vec<bool>,
    /// Whether a rule prices from the recorded history (a decision that changes with time alone).
    uses_history: bool,
}

/// Patterns per combined set. One set of hundreds of case-insensitive patterns keeps its lazy DFA
/// rebuilding (the states of so many patterns outgrow its cache: most of the time went there);
/// sets of this size stay cached, and a name is read once per set.
const PATTERNS_PER_SET: usize = 64;

fn kind_slot(kind: ItemKind) -> usize {
    ItemKind::ALL.iter().position(|k| *k == kind).unwrap_or(ItemKind::ALL.len() - 1)
}

impl Matcher {
    /// Compiles `strategies` (already validated: every pattern in them compiles on its own).
    pub fn compile(strategies: Arc<Vec<Strategy>>) -> Matcher {
        let mut all: Vec<(usize, usize, &Rule)> = strategies
            .iter()
            .enumerate()
            .flat_map(|(si, s)| s.rules.iter().enumerate().map(move |(ri, r)| (si, ri, r)))
            .collect();
        // Highest priority first, so that a listing and a count go to the rule that matters most;
        // equal priorities keep file order (a stable sort).
        all.sort_by_key(|(_, _, r)| std::cmp::Reverse(r.priority));
        let mut games: Vec<(Game, GameRules)> = Vec::new();
        for (si, ri, rule) in all {
            let at = match games.iter().position(|(g, _)| *g == rule.game) {
                Some(at) => at,
                None => {
                    games.push((rule.game, GameRules::default()));
                    games.len() - 1
                }
            };
            games[at].1.order.push((si, ri));
        }
        let games = games
            .into_iter()
            .map(|(game, mut g)| {
                g.index(&strategies);
                (game, g)
            })
            .collect();
        Matcher { strategies, games }
    }

    pub fn strategies(&self) -> &Arc<Vec<Strategy>> {
        &self.strategies
    }

    /// Whether a decision for `game` depends on the time as well as on its inputs (history prices).
    pub(crate) fn uses_history(&self, game: Game) -> bool {
        self.rules_of(game).is_some_and(|g| g.uses_history)
    }

    fn rules_of(&self, game: Game) -> Option<&GameRules> {
        self.games.iter().find(|(g, _)| *g == game).map(|(_, r)| r)
    }

    /// The rules of `snapshot.game` in decision order, each with the indices (into the snapshot) of
    /// the names it selects, in snapshot order.
    pub(crate) fn matches<'a>(&'a self, snapshot: &Snapshot) -> Vec<(&'a Strategy, &'a Rule, Vec<u32>)> {
        let Some(g) = self.rules_of(snapshot.game) else { return Vec::new() };
        let rule = |p: RulePos| {
            let (si, ri) = g.order[p as usize];
            let s = &self.strategies[si];
            (s, &s.rules[ri])
        };
        let mut found: Vec<Vec<u32>> = vec![Vec::new(); g.order.len()];
        let mut hits: Vec<RulePos> = Vec::new();
        let mut glob_hits: Vec<usize> = Vec::new();
        for i in 0..snapshot.name_count() {
            let Some(parsed) = snapshot.name(i).parsed() else { continue };
            let name = parsed.as_str();
            hits.clear();
            if let Some(r) = g.exact.get(name) {
                hits.extend_from_slice(r);
            }
            if !g.globs.is_empty() {
                let candidate = globset::Candidate::new(name);
                for (chunk, set) in g.globs.iter().enumerate() {
                    if set.is_match_candidate(&candidate) {
                        set.matches_candidate_into(&candidate, &mut glob_hits);
                        for &k in &glob_hits {
                            hits.extend_from_slice(&g.glob_rules[chunk * PATTERNS_PER_SET + k]);
                        }
                    }
                }
            }
            for (chunk, set) in g.regexes.iter().enumerate() {
                if set.is_match(name) {
                    for k in set.matches(name).iter() {
                        hits.extend_from_slice(&g.regex_rules[chunk * PATTERNS_PER_SET + k]);
                    }
                }
            }
            if !g.by_base.is_empty() {
                if let Some(r) = g.by_base.get(&fold_case(parsed.base())) {
                    hits.extend_from_slice(r);
                }
            }
            hits.extend_from_slice(&g.by_kind[kind_slot(parsed.kind())]);
            hits.extend_from_slice(&g.every_name);
            hits.sort_unstable();
            hits.dedup();
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            for &p in &hits {
                let selector: &Selector = &rule(p).1.selector;
                let selected = if g.own_patterns[p as usize] {
                    selector.matches(snapshot.game, name, parsed)
                } else {
                    selector.matches_besides_patterns(snapshot.game, name, parsed)
                };
                if selected {
                    found[p as usize].push(index);
                }
            }
        }
        found.into_iter().enumerate().map(|(p, names)| (rule(p as RulePos).0, rule(p as RulePos).1, names)).collect()
    }
}

impl GameRules {
    fn index(&mut self, strategies: &[Strategy]) {
        self.by_kind = vec![Vec::new(); ItemKind::ALL.len()];
        self.own_patterns = vec![false; self.order.len()];
        // Each distinct pattern once, with the rules that wrote it.
        let mut glob_ids: FastMap<&str, usize> = FastMap::default();
        let mut globs: Vec<&str> = Vec::new();
        let mut regex_ids: FastMap<&str, usize> = FastMap::default();
        let mut regexes: Vec<&str> = Vec::new();
        for (p, &(si, ri)) in self.order.iter().enumerate() {
            let rule = &strategies[si].rules[ri];
            let pos = u32::try_from(p).unwrap_or(u32::MAX);
            let selector = &rule.selector;
            self.uses_history |=
                matches!(rule.discount.as_ref().map(|d| &d.reference), Some(Reference::History { .. }));
            if selector.has_patterns() {
                let (names, gl, re) = selector.patterns();
                for n in names {
                    self.exact.entry(n.to_string()).or_default().push(pos);
                }
                for pat in gl {
                    let k = *glob_ids.entry(pat).or_insert_with(|| {
                        globs.push(pat);
                        self.glob_rules.push(Vec::new());
                        globs.len() - 1
                    });
                    self.glob_rules[k].push(pos);
                }
                for pat in re {
                    let k = *regex_ids.entry(pat).or_insert_with(|| {
                        regexes.push(pat);
                        self.regex_rules.push(Vec::new());
                        regexes.len() - 1
                    });
                    self.regex_rules[k].push(pos);
                }
            } else if let Some(bases) = selector.bases() {
                for b in bases {
                    let list = self.by_base.entry(fold_case(b)).or_default();
                    if list.last() != Some(&pos) {
                        list.push(pos);
                    }
                }
            } else if let Some(kinds) = selector.kinds() {
                for k in kinds {
                    let list = &mut self.by_kind[kind_slot(*k)];
                    if list.last() != Some(&pos) {
                        list.push(pos);
                    }
                }
            } else {
                self.every_name.push(pos);
            }
        }
        let glob_sets = combined(&globs, |pats| {
            let mut b = globset::GlobSetBuilder::new();
            for p in pats {
                b.add(glob(p).ok()?);
            }
            b.build().ok()
        });
        let regex_sets = combined(&regexes, |pats| RegexSet::new(pats).ok());
        // A set that cannot be built (size limits): its rules check their own patterns on every name.
        let mut orphaned = Vec::new();
        match glob_sets {
            Some(sets) => self.globs = sets,
            None => orphaned.extend(self.glob_rules.iter().flatten().copied()),
        }
        match regex_sets {
            Some(sets) => self.regexes = sets,
            None => orphaned.extend(self.regex_rules.iter().flatten().copied()),
        }
        for pos in orphaned {
            self.own_patterns[pos as usize] = true;
            self.every_name.push(pos);
        }
        self.every_name.sort_unstable();
        self.every_name.dedup();
    }
}

/// Builds the sets of `patterns`, [`PATTERNS_PER_SET`] at a time; `None` when one cannot be built.
fn combined<T>(patterns: &[&str], build: impl Fn(&[&str]) -> Option<T>) -> Option<Vec<T>> {
    patterns.chunks(PATTERNS_PER_SET).map(build).collect()
}
