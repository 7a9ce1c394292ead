//! "A rule has matched nothing for an hour": a rule whose selector finds no listing is otherwise
//! silent (no candidate, no refusal). One warning per rule when it has been quiet for
//! [`QUIET_AFTER`], and not again until it matched something and then went quiet again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::Game;
use crate::strategy::decide::RuleMatch;

/// How long a rule may match nothing before the log says so.
pub(crate) const QUIET_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// The rules that match nothing now, since when, and whether that was said.
#[derive(Debug, Default)]
pub(crate) struct QuietRules {
    spells: HashMap<(Game, String, String), Spell>,
}

#[derive(Debug, Clone, Copy)]
struct Spell {
    since: DateTime<Utc>,
    warned: bool,
}

/// A rule that has just been quiet for long enough to be worth a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quiet {
    pub strategy: String,
    pub rule: String,
    pub since: DateTime<Utc>,
}

impl QuietRules {
    /// Notes what one decision on `game`'s list matched at `now` (`matched` lists every rule of the
    /// game) and returns the rules quiet for `after` that were not reported in this quiet spell.
    pub(crate) fn observe(
        &mut self,
        game: Game,
        matched: &[RuleMatch],
        now: DateTime<Utc>,
        after: chrono::Duration,
    ) -> Vec<Quiet> {
        // Rules removed by a reload are forgotten.
        self.spells.retain(|(g, s, r), _| *g != game || matched.iter().any(|m| &m.strategy == s && &m.rule == r));
        let mut out = Vec::new();
        for m in matched {
            let key = (game, m.strategy.clone(), m.rule.clone());
            if m.names > 0 {
                self.spells.remove(&key);
                continue;
            }
            let spell = self.spells.entry(key).or_insert(Spell { since: now, warned: false });
            if !spell.warned && now - spell.since >= after {
                spell.warned = true;
                out.push(Quiet { strategy: m.strategy.clone(), rule: m.rule.clone(), since: spell.since });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rule: &str, names: usize) -> RuleMatch {
        RuleMatch { strategy: "s".into(), rule: rule.into(), names }
    }

    #[test]
    fn one_warning_per_quiet_spell() {
        let mut q = QuietRules::default();
        let t0 = chrono::Utc::now();
        let at = |min: i64| t0 + chrono::Duration::minutes(min);
        let hour = QUIET_AFTER;
        // Quiet from the first look; nothing said before the hour is up.
        assert!(q.observe(Game::Cs2, &[m("a", 0), m("b", 3)], at(0), hour).is_empty());
        assert!(q.observe(Game::Cs2, &[m("a", 0), m("b", 3)], at(59), hour).is_empty());
        let said = q.observe(Game::Cs2, &[m("a", 0), m("b", 3)], at(60), hour);
        assert_eq!(said, vec![Quiet { strategy: "s".into(), rule: "a".into(), since: at(0) }]);
        // Said once: not again while it stays quiet.
        assert!(q.observe(Game::Cs2, &[m("a", 0), m("b", 3)], at(61), hour).is_empty());
        assert!(q.observe(Game::Cs2, &[m("a", 0), m("b", 3)], at(300), hour).is_empty());
        // It matches again, then goes quiet again: a new spell, a new warning an hour later.
        assert!(q.observe(Game::Cs2, &[m("a", 1), m("b", 3)], at(301), hour).is_empty());
        assert!(q.observe(Game::Cs2, &[m("a", 0), m("b", 3)], at(302), hour).is_empty());
        assert!(q.observe(Game::Cs2, &[m("a", 0), m("b", 3)], at(361), hour).is_empty());
        let said = q.observe(Game::Cs2, &[m("a", 0), m("b", 3)], at(362), hour);
        assert_eq!(said.len(), 1);
        assert_eq!(said[0].since, at(302));
        // Another game's decision does not touch this game's rules.
        assert!(q.observe(Game::Dota2, &[], at(400), hour).is_empty());
        assert!(q.spells.keys().any(|(g, _, r)| *g == Game::Cs2 && r == "a"));
        // A rule removed by a reload is forgotten.
        assert!(q.observe(Game::Cs2, &[m("b", 3)], at(401), hour).is_empty());
        assert!(q.spells.is_empty());
    }
}
