//! The compiled matcher decides exactly what evaluating every rule over every name decided: the
//! straightforward version is kept here as the oracle, and random strategy sets over random markets
//! must give the same candidates and notes, in the same order.

use std::collections::HashSet;
use std::path::Path;

use chrono::Utc;
use proptest::prelude::{any, prop_assert_eq, proptest, Just, ProptestConfig};
use proptest::strategy::Strategy as Gen;

use super::decide::{by_discount, candidate, ceiling, decide, price_limit, room, Decision, References, Room, Tally};
use super::file::{Rule, Strategy};
use super::snapshot::Snapshot;
use crate::domain::{Candidate, Game, Intent, ItemId, Listing, PurchaseRecord, Rates, Usd};

/// The decision as it was before the matcher: every rule (in priority order) over every name.
fn decide_naive(
    strategies: &[Strategy],
    snapshot: &Snapshot,
    rates: &Rates,
    tally: &Tally,
    refs: &dyn References,
) -> Decision {
    let mut out = Decision::default();
    let mut taken: HashSet<ItemId> = tally.open_listings().clone();
    let mut t = tally.clone();
    let mut rules: Vec<(&Strategy, &Rule)> = strategies
        .iter()
        .flat_map(|s| s.rules.iter().map(move |r| (s, r)))
        .filter(|(_, r)| r.game == snapshot.game)
        .collect();
    rules.sort_by_key(|(_, r)| std::cmp::Reverse(r.priority));
    for (s, rule) in rules {
        let Some(ceiling) = ceiling(s, rule, rates, &mut out.notes) else { continue };
        let mut wanted: Vec<(&str, Usd, Usd)> = Vec::new();
        for (name, listings) in snapshot.by_name() {
            let Some(&(_, lowest)) = listings.first() else { continue };
            let matched = match crate::domain::market_name::parse(name) {
                Ok(p) => rule.selector.matches(snapshot.game, name, &p),
                Err(_) => false,
            };
            if !matched {
                continue;
            }
            let Some(limit) = price_limit(s, rule, snapshot.game, name, ceiling, refs) else { continue };
            if lowest <= limit {
                wanted.push((name, limit, lowest));
            }
        }
        wanted.sort_by(|a, b| by_discount(*a, *b));
        'names: for (name, limit, _) in wanted {
            for &(id, price) in snapshot.listings_of(name) {
                if price > limit {
                    break;
                }
                if taken.contains(&id) {
                    continue;
                }
                match room(s, rule, snapshot.game, name, &t) {
                    Room::Yes => {}
                    Room::NotThisItem => continue 'names,
                    Room::NotThisRule => break 'names,
                }
                taken.insert(id);
                t.add(&s.name, &rule.name, snapshot.game, name);
                out.candidates.push(candidate(s, rule, snapshot.game, name, id, price));
            }
        }
    }
    out
}

const NAMES: &[&str] = &[
    "AK-47 | Redline (Field-Tested)",
    "AK-47 | Redline (Minimal Wear)",
    "StatTrak™ AK-47 | Redline (Field-Tested)",
    "AWP | Asiimov (Battle-Scarred)",
    "StatTrak™ AWP | Asiimov (Field-Tested)",
    "M4A4 | Howl (Field-Tested)",
    "M4A1-S | Knight (Factory New)",
    "Souvenir M4A1-S | Knight (Factory New)",
    "★ Karambit | Doppler (Factory New)",
    "★ Karambit | Gamma Doppler (Minimal Wear)",
    "★ StatTrak™ M9 Bayonet | Fade (Minimal Wear)",
    "★ M9 Bayonet | Fade (Factory New)",
    "★ Karambit",
    "★ Sport Gloves | Vice (Minimal Wear)",
    "Sticker | Titan (Holo) | Katowice 2014",
    "Sticker | X (Holo/Foil) | Y",
    "Operation Bravo Case",
    "Recoil Case",
    "Kilowatt Case",
    "StatTrak™ Music Kit | Sam Marshall, Clutch",
    "Music Kit | Sean Murray, A*D*8",
    "Sir Bloody Miami Darryl | The Professionals",
    "Treasure Key",
    "ΣΑΣ | Σ (Field-Tested)",
];

/// Listed names the parser refuses (never matched), and that no strategy can name.
const ODD_NAMES: &[&str] = &["", "bad\u{1}name"];

fn market_name(i: usize) -> &'static str {
    NAMES.get(i).copied().unwrap_or_else(|| ODD_NAMES[(i - NAMES.len()) % ODD_NAMES.len()])
}

const GLOBS: &[&str] = &["★ * | doppler (*)", "ak-47 | *", "*case", "*Holo/Foil*", "sticker | *", "*Σ*", "[ab]*"];
const REGEXES: &[&str] = &["^M4A(4|1-S) \\| ", "(?i)asiimov", "Redline", "Case$", "^★", "σ"];
const BASES: &[&str] = &["ak-47", "Karambit", "M9 BAYONET", "Sport Gloves", "sticker", "ςας", "Operation Bravo Case"];
const FINISHES: &[&str] = &["doppler", "Fade", "Redline", "Titan", "Vice"];
const KINDS: &[&str] = &["weapon", "knife", "gloves", "sticker", "case", "music_kit", "agent", "other"];
const WEARS: &[&str] = &["FN", "MW", "FT", "BS"];

fn pick(pool: &'static [&'static str]) -> impl Gen<Value = Vec<&'static str>> {
    proptest::sample::subsequence(pool, 1..=pool.len().min(3))
}

fn toml_list(v: &[&str]) -> String {
    let quoted: Vec<String> = v.iter().map(|s| format!("{s:?}").replace("\\u{1}", "\\u0001")).collect();
    format!("[{}]", quoted.join(", "))
}

/// One rule's TOML: a random selector, price and counts.
fn rule_toml() -> impl Gen<Value = String> {
    let select = (
        proptest::option::weighted(0.4, pick(NAMES)),
        proptest::option::weighted(0.3, pick(GLOBS)),
        proptest::option::weighted(0.2, pick(REGEXES)),
        proptest::option::weighted(0.2, pick(BASES)),
        proptest::option::weighted(0.3, pick(KINDS)),
        proptest::option::weighted(0.15, pick(FINISHES)),
        proptest::option::weighted(0.2, pick(WEARS)),
        proptest::option::of(any::<bool>()),
        proptest::option::weighted(0.15, pick(GLOBS)),
        proptest::option::weighted(0.1, pick(&["dota2", "cs2"])),
    );
    let price = (proptest::option::of(1u32..3000), proptest::option::weighted(0.3, (1u32..60, any::<bool>())));
    let counts = (
        -1i32..3,
        proptest::option::weighted(0.3, 0u32..4),
        proptest::option::weighted(0.3, 0u32..4),
        proptest::option::weighted(0.3, 0u32..6),
        proptest::option::weighted(0.2, 0u32..4),
        proptest::option::weighted(0.1, Just("dota2")),
    );
    (select, price, counts).prop_map(|(sel, (max, discount), (prio, ppd, pit, pd, keep, game))| {
        let (names, globs, regexes, bases, kinds, finishes, wears, flag, exclude, sel_game) = sel;
        let mut parts = Vec::new();
        let fields = [
            ("names", names),
            ("globs", globs),
            ("regexes", regexes),
            ("base", bases),
            ("kind", kinds),
            ("finish", finishes),
            ("wear", wears),
            ("exclude", exclude),
            ("game", sel_game.clone()),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                parts.push(format!("{k} = {}", toml_list(&v)));
            }
        }
        match flag {
            Some(true) => parts.push("stattrak = true".into()),
            Some(false) => parts.push("souvenir = false".into()),
            None => {}
        }
        let mut out = format!("[[rules]]\nselect = {{ {} }}\npriority = {prio}\n", parts.join(", "));
        if game.is_some() {
            out.push_str("game = \"dota2\"\n");
        } else if sel_game.as_ref().is_some_and(|g| g.len() > 1) {
            out.push_str("game = \"cs2\"\n");
        }
        let max = match (max, discount) {
            (None, None) => Some(500),
            (m, _) => m,
        };
        if let Some(m) = max {
            out.push_str(&format!("max_price = \"{}.{:02} usd\"\n", m / 100, m % 100));
        }
        if let Some((percent, file)) = discount {
            let reference = if file { "file" } else { "history" };
            out.push_str(&format!("discount = {{ percent = \"{percent}\", reference = \"{reference}\" }}\n"));
        }
        for (k, v) in [("per_item_per_day", ppd), ("per_item_total", pit), ("per_day", pd), ("keep", keep)] {
            if let Some(v) = v {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        out
    })
}

/// Strategies as TOML files: a reference file for `reference = "file"`, random limits.
fn strategies() -> impl Gen<Value = Vec<(String, Option<u32>)>> {
    proptest::collection::vec(
        (proptest::collection::vec(rule_toml(), 1..5), proptest::option::weighted(0.3, 0u32..5)),
        1..4,
    )
    .prop_map(|v| v.into_iter().map(|(rules, per_day)| (rules.concat(), per_day)).collect())
}

fn market() -> impl Gen<Value = Vec<(usize, u32)>> {
    proptest::collection::vec((0..NAMES.len() + ODD_NAMES.len(), 1u32..2000), 0..60)
}

/// History medians that depend on the name and window only.
struct FakeHistory;

impl References for FakeHistory {
    fn history_median(&self, _: Game, name: &str, window_hours: u32) -> Option<Usd> {
        let h = name.bytes().fold(window_hours, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
        (h % 5 != 0).then(|| Usd::new(rust_decimal::Decimal::new(i64::from(h % 1500) + 1, 2)))
    }
}

fn load(dir: &Path, files: &[(String, Option<u32>)]) -> Vec<Strategy> {
    let refs: String = NAMES.iter().enumerate().map(|(i, n)| format!("{n:?},{}.{:02}\n", i % 9, i * 7 % 100)).collect();
    std::fs::write(dir.join("refs.csv"), refs).unwrap();
    let mut out = Vec::new();
    for (i, (rules, per_day)) in files.iter().enumerate() {
        let limits = per_day.map(|d| format!("[limits]\nper_day = {d}\n")).unwrap_or_default();
        let text = format!("name = \"s{i}\"\nreference_file = \"refs.csv\"\n{limits}{rules}");
        let path = dir.join(format!("s{i}.toml"));
        match Strategy::parse(&path, &text) {
            Ok(Some(s)) => out.push(s),
            other => panic!("{text}\n{other:?}"),
        }
    }
    out
}

fn tally(open: &[(usize, u64)], game: Game) -> Tally {
    let now = Utc::now();
    let records: Vec<PurchaseRecord> = open
        .iter()
        .enumerate()
        .map(|(k, &(n, id))| {
            let intent = Intent {
                custom_id: format!("sb-{k}").parse().unwrap(),
                candidate: Candidate {
                    strategy: format!("s{}", k % 2),
                    rule: "rule-1".into(),
                    priority: 0,
                    game,
                    name: NAMES[n].into(),
                    item_id: Some(ItemId::new(id)),
                    price_seen: Usd::parse("1").unwrap(),
                    max_price: Usd::parse("1").unwrap(),
                },
            };
            PurchaseRecord::new(intent, now, Rates::new(), "h".into())
        })
        .collect();
    Tally::from_records(&records, now - chrono::Duration::hours(1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_compiled_matcher_decides_exactly_as_every_rule_over_every_name(
        files in strategies(),
        listings in market(),
        open in proptest::collection::vec((0..NAMES.len(), 0u64..60), 0..4),
        dota in proptest::bool::weighted(0.15),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let strategies = load(dir.path(), &files);
        let game = if dota { Game::Dota2 } else { Game::Cs2 };
        let snapshot = Snapshot::new(
            game,
            Utc::now(),
            listings.iter().enumerate().map(|(id, &(n, cents))| Listing {
                id: ItemId::new(id as u64),
                name: market_name(n).into(),
                price: Usd::new(rust_decimal::Decimal::new(i64::from(cents), 2)),
            }),
        );
        let tally = tally(&open, game);
        let rates = Rates::new();
        let fast = decide(&strategies, &snapshot, &rates, &tally, &FakeHistory);
        let naive = decide_naive(&strategies, &snapshot, &rates, &tally, &FakeHistory);
        prop_assert_eq!(&fast.candidates, &naive.candidates);
        prop_assert_eq!(&fast.notes, &naive.notes);
    }
}

#[test]
fn the_matcher_finds_what_every_kind_of_selector_selects() {
    let dir = tempfile::tempdir().unwrap();
    let rules = [
        "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"5\"\n",
        "[[rules]]\nselect = { globs = [\"★ * | doppler (*)\"] }\nmax_price = \"5\"\n",
        "[[rules]]\nselect = { regexes = [\"(?i)asiimov\"] }\nmax_price = \"5\"\n",
        "[[rules]]\nselect = { base = \"ak-47\", stattrak = false }\nmax_price = \"5\"\n",
        "[[rules]]\nselect = { kind = \"gloves\" }\nmax_price = \"5\"\n",
        "[[rules]]\nselect = { souvenir = true }\nmax_price = \"5\"\n",
    ];
    let strategies = load(dir.path(), &[(rules.concat(), None)]);
    let snapshot = Snapshot::new(
        Game::Cs2,
        Utc::now(),
        NAMES.iter().chain(ODD_NAMES).enumerate().map(|(i, n)| Listing {
            id: ItemId::new(i as u64),
            name: (*n).into(),
            price: Usd::parse("1").unwrap(),
        }),
    );
    let fast = decide(&strategies, &snapshot, &Rates::new(), &Tally::default(), &FakeHistory);
    let naive = decide_naive(&strategies, &snapshot, &Rates::new(), &Tally::default(), &FakeHistory);
    assert_eq!(fast.candidates, naive.candidates);
    let names: Vec<(&str, &str)> = fast.candidates.iter().map(|c| (c.rule.as_str(), c.name.as_str())).collect();
    assert!(names.contains(&("rule-1", "Recoil Case")));
    assert!(names.contains(&("rule-2", "★ Karambit | Doppler (Factory New)")));
    assert!(names.contains(&("rule-3", "StatTrak™ AWP | Asiimov (Field-Tested)")));
    assert!(names.contains(&("rule-4", "AK-47 | Redline (Minimal Wear)")));
    assert!(!names.contains(&("rule-4", "StatTrak™ AK-47 | Redline (Field-Tested)")));
    assert!(names.contains(&("rule-5", "★ Sport Gloves | Vice (Minimal Wear)")));
    assert!(names.contains(&("rule-6", "Souvenir M4A1-S | Knight (Factory New)")));
}
