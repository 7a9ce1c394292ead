//! The "which items" part of a strategy rule: names, globs, regexes, excludes and parsed attributes.
//!
//! ```toml
//! game     = "cs2"                           # or a list; cs2 (alias csgo), dota2, rust
//! names    = ["AK-47 | Redline (Field-Tested)"]      # exact market hash names (case-sensitive)
//! globs    = ["★ * | Doppler (*)", "AWP | Asiimov*"] # whole-name globs, case-insensitive
//! regexes  = ['^M4A(4|1-S) \| ']                     # whole-name regexes, as written (add (?i) if wanted)
//! exclude  = ["*Souvenir*", "★ Karambit | Doppler (Factory New)"]
//! exclude_regexes = ['\(Battle-Scarred\)$']
//! kind     = ["knife", "gloves"]     # weapon knife gloves sticker patch charm graffiti music_kit case
//!                                    # capsule package key pass agent pin tool other
//! base     = ["Karambit", "M9 Bayonet"]   # alias `weapon`; the item type before `|`, case-insensitive
//! finish   = ["Doppler", "Fade"]          # the skin after `|`, whole and case-insensitive
//! wear     = ["FN", "MW"]                 # or "Factory New", "minimal wear", …
//! stattrak = false                        # true: only StatTrak™; false: no StatTrak™; absent: either
//! souvenir = false                        # the same for Souvenir
//! ```
//!
//! Every list also takes a single string (`kind = "knife"`). An item matches when
//! - no `names`/`globs`/`regexes` are given, or any one of them matches its name; and
//! - every attribute filter given (`game`, `kind`, `base`, `finish`, `wear`, `stattrak`, `souvenir`) matches
//!   (an item without wear never matches a `wear` filter); and
//! - no `exclude` / `exclude_regexes` entry matches its name.
//!
//! Each `exclude` entry is a case-insensitive glob, so a plain name excludes exactly that name; it also
//! excludes that exact text, so a name with glob characters (`Music Kit | Sean Murray, A*D*8`) can be
//! listed as it is — at worst its glob reading excludes more, which is the safe direction for a buyer.
//!
//! A list given but empty is an error rather than "anything" or "nothing": `names = []` reads like a
//! placeholder, and guessing either way could buy what the user did not mean. A selector with no filters
//! at all matches every item.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{Regex, RegexSet};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::domain::{Game, ItemKind, MarketName, Wear};

/// A selector as written in a strategy file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorSpec {
    #[serde(default, deserialize_with = "one_or_many")]
    pub game: Option<Vec<Game>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub names: Option<Vec<String>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub globs: Option<Vec<String>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub regexes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub exclude: Option<Vec<String>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub exclude_regexes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub kind: Option<Vec<ItemKind>>,
    #[serde(default, alias = "weapon", deserialize_with = "one_or_many")]
    pub base: Option<Vec<String>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub finish: Option<Vec<String>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub wear: Option<Vec<Wear>>,
    pub stattrak: Option<bool>,
    pub souvenir: Option<bool>,
}

/// A [`SelectorSpec`] compiled once: patterns built, lists checked. `None` means "not filtered on".
#[derive(Debug, Clone)]
pub struct Selector {
    games: Option<Vec<Game>>,
    names: HashSet<String>,
    globs: Option<GlobSet>,
    regexes: Option<RegexSet>,
    /// The patterns as given (trimmed), for the matcher that combines every rule's patterns in one set.
    glob_patterns: Vec<String>,
    regex_patterns: Vec<String>,
    /// Whether any of `names`/`globs`/`regexes` was given: if so, one of them must match.
    has_positive: bool,
    kinds: Option<Vec<ItemKind>>,
    bases: Option<Vec<String>>,
    finishes: Option<Vec<String>>,
    wears: Option<Vec<Wear>>,
    stattrak: Option<bool>,
    souvenir: Option<bool>,
    exclude_names: HashSet<String>,
    exclude_globs: Option<GlobSet>,
    exclude_regexes: Option<RegexSet>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("`{field}` is an empty list: remove it, or list at least one value")]
    EmptyList { field: &'static str },
    #[error("`{field}` contains an empty string")]
    EmptyEntry { field: &'static str },
    #[error("bad glob `{pattern}` in `{field}`: {reason}")]
    BadGlob { field: &'static str, pattern: String, reason: String },
    #[error("bad regex `{pattern}` in `{field}`: {reason}")]
    BadRegex { field: &'static str, pattern: String, reason: String },
}

impl Selector {
    pub fn compile(spec: &SelectorSpec) -> Result<Selector, SelectorError> {
        let games = checked("game", &spec.game)?.map(<[Game]>::to_vec);
        let kinds = checked("kind", &spec.kind)?.map(<[ItemKind]>::to_vec);
        let wears = checked("wear", &spec.wear)?.map(<[Wear]>::to_vec);
        let bases = texts("base", &spec.base)?;
        let finishes = texts("finish", &spec.finish)?;

        let names: HashSet<String> = texts("names", &spec.names)?.unwrap_or_default().into_iter().collect();
        let glob_patterns = texts("globs", &spec.globs)?;
        let globs = glob_patterns.as_ref().map(|g| glob_set("globs", g)).transpose()?;
        let regex_patterns = texts("regexes", &spec.regexes)?;
        let regexes = regex_patterns.as_ref().map(|r| regex_set("regexes", r)).transpose()?;
        let has_positive = !names.is_empty() || globs.is_some() || regexes.is_some();

        // Excludes may be empty lists: excluding nothing is harmless.
        let listed = |l: &Option<Vec<String>>| l.clone().filter(|v| !v.is_empty());
        let exclude = texts("exclude", &listed(&spec.exclude))?.unwrap_or_default();
        let exclude_globs = if exclude.is_empty() { None } else { Some(glob_set("exclude", &exclude)?) };
        let exclude_regexes = texts("exclude_regexes", &listed(&spec.exclude_regexes))?.unwrap_or_default();
        let exclude_regexes =
            if exclude_regexes.is_empty() { None } else { Some(regex_set("exclude_regexes", &exclude_regexes)?) };

        Ok(Selector {
            games,
            names,
            globs,
            regexes,
            glob_patterns: glob_patterns.unwrap_or_default(),
            regex_patterns: regex_patterns.unwrap_or_default(),
            has_positive,
            kinds,
            bases,
            finishes,
            wears,
            stattrak: spec.stattrak,
            souvenir: spec.souvenir,
            exclude_names: exclude.into_iter().collect(),
            exclude_globs,
            exclude_regexes,
        })
    }

    /// Whether the item (`name` as listed in `game`, parsed as `parsed`) is selected.
    pub fn matches(&self, game: Game, name: &str, parsed: &MarketName) -> bool {
        (!self.has_positive || self.positive_match(name)) && self.matches_besides_patterns(game, name, parsed)
    }

    /// [`Selector::matches`] for an item already known to match one of `names`/`globs`/`regexes`
    /// (or a selector without them): the attribute filters and the excludes.
    pub(crate) fn matches_besides_patterns(&self, game: Game, name: &str, parsed: &MarketName) -> bool {
        // Cheapest first: flags and enums, then text, then patterns.
        self.games.as_ref().is_none_or(|g| g.contains(&game))
            && self.kinds.as_ref().is_none_or(|k| k.contains(&parsed.kind()))
            && self.wears.as_ref().is_none_or(|w| parsed.wear().is_some_and(|x| w.contains(&x)))
            && self.stattrak.is_none_or(|s| s == parsed.stattrak())
            && self.souvenir.is_none_or(|s| s == parsed.souvenir())
            && self.bases.as_ref().is_none_or(|b| b.iter().any(|b| eq_ignore_case(b, parsed.base())))
            && self
                .finishes
                .as_ref()
                .is_none_or(|f| parsed.finish().is_some_and(|x| f.iter().any(|f| eq_ignore_case(f, x))))
            && !self.excluded(name)
    }

    /// Whether any of `names`/`globs`/`regexes` was given (then one of them must match).
    pub(crate) fn has_patterns(&self) -> bool {
        self.has_positive
    }

    /// The exact names, globs and regexes, as given.
    pub(crate) fn patterns(&self) -> (impl Iterator<Item = &str>, &[String], &[String]) {
        (self.names.iter().map(String::as_str), &self.glob_patterns, &self.regex_patterns)
    }

    /// The `base` filter, if any.
    pub(crate) fn bases(&self) -> Option<&[String]> {
        self.bases.as_deref()
    }

    /// The `kind` filter, if any.
    pub(crate) fn kinds(&self) -> Option<&[ItemKind]> {
        self.kinds.as_deref()
    }

    fn positive_match(&self, name: &str) -> bool {
        self.names.contains(name)
            || self.globs.as_ref().is_some_and(|g| g.is_match(name))
            || self.regexes.as_ref().is_some_and(|r| r.is_match(name))
    }

    fn excluded(&self, name: &str) -> bool {
        self.exclude_names.contains(name)
            || self.exclude_globs.as_ref().is_some_and(|g| g.is_match(name))
            || self.exclude_regexes.as_ref().is_some_and(|r| r.is_match(name))
    }
}

/// Unicode case-insensitive equality without allocating.
fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

/// The text [`eq_ignore_case`] compares: equal folds ⇔ equal ignoring case. (Not `str::to_lowercase`,
/// which lowers a final Σ differently.)
pub(crate) fn fold_case(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

fn checked<'a, T>(field: &'static str, list: &'a Option<Vec<T>>) -> Result<Option<&'a [T]>, SelectorError> {
    match list {
        Some(v) if v.is_empty() => Err(SelectorError::EmptyList { field }),
        Some(v) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// A list of strings, trimmed; empty lists and empty strings are errors.
fn texts(field: &'static str, list: &Option<Vec<String>>) -> Result<Option<Vec<String>>, SelectorError> {
    let Some(list) = checked(field, list)? else { return Ok(None) };
    list.iter()
        .map(|s| match s.trim() {
            "" => Err(SelectorError::EmptyEntry { field }),
            t => Ok(t.to_string()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// One whole-name glob as strategies mean it: case-insensitive, `/` an ordinary character.
pub(crate) fn glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    // Names contain `/` (`Holo/Foil`): it is an ordinary character here, not a path separator.
    GlobBuilder::new(pattern).case_insensitive(true).literal_separator(false).backslash_escape(true).build()
}

pub(crate) fn glob_set(field: &'static str, patterns: &[String]) -> Result<GlobSet, SelectorError> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob =
            glob(p).map_err(|e| SelectorError::BadGlob { field, pattern: p.clone(), reason: e.kind().to_string() })?;
        set.add(glob);
    }
    set.build().map_err(|e| SelectorError::BadGlob { field, pattern: patterns.join(", "), reason: e.to_string() })
}

pub(crate) fn regex_set(field: &'static str, patterns: &[String]) -> Result<RegexSet, SelectorError> {
    // Compiled one by one first, because a set's error does not say which pattern is wrong.
    for p in patterns {
        Regex::new(p).map_err(|e| SelectorError::BadRegex { field, pattern: p.clone(), reason: e.to_string() })?;
    }
    RegexSet::new(patterns).map_err(|e| SelectorError::BadRegex {
        field,
        pattern: patterns.join(", "),
        reason: e.to_string(),
    })
}

/// `x = "a"` or `x = ["a", "b"]`.
fn one_or_many<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct OneOrMany<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrMany<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| vec![t])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
    }

    d.deserialize_any(OneOrMany(PhantomData)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> SelectorSpec {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{toml_text}\n{e}"))
    }

    fn sel(toml_text: &str) -> Selector {
        Selector::compile(&spec(toml_text)).unwrap_or_else(|e| panic!("{toml_text}\n{e}"))
    }

    fn hit(s: &Selector, name: &str) -> bool {
        hit_in(s, Game::Cs2, name)
    }

    fn hit_in(s: &Selector, game: Game, name: &str) -> bool {
        let parsed = MarketName::parse(name).unwrap();
        s.matches(game, name, &parsed)
    }

    const REDLINE_FT: &str = "AK-47 | Redline (Field-Tested)";
    const ST_REDLINE_FT: &str = "StatTrak™ AK-47 | Redline (Field-Tested)";
    const SOUV_KNIGHT: &str = "Souvenir M4A1-S | Knight (Factory New)";
    const KARAMBIT_DOPPLER: &str = "★ Karambit | Doppler (Factory New)";
    const ST_M9_FADE: &str = "★ StatTrak™ M9 Bayonet | Fade (Minimal Wear)";
    const VICE: &str = "★ Sport Gloves | Vice (Minimal Wear)";
    const TITAN: &str = "Sticker | Titan (Holo) | Katowice 2014";
    const CASE: &str = "Operation Bravo Case";

    #[test]
    fn an_empty_selector_matches_everything() {
        let s = sel("");
        for n in [REDLINE_FT, KARAMBIT_DOPPLER, TITAN, CASE] {
            assert!(hit(&s, n), "{n}");
        }
        assert!(hit_in(&s, Game::Dota2, "Inscribed Arcana of the Eldwurm"));
    }

    #[test]
    fn names_match_exactly() {
        let s = sel(r#"names = ["AK-47 | Redline (Field-Tested)"]"#);
        assert!(hit(&s, REDLINE_FT));
        assert!(!hit(&s, "ak-47 | redline (field-tested)"));
        assert!(!hit(&s, ST_REDLINE_FT));
        assert!(!hit(&s, "AK-47 | Redline (Minimal Wear)"));
    }

    #[test]
    fn globs_match_the_whole_name_ignoring_case() {
        let s = sel(r#"globs = ["★ * | doppler (*)"]"#);
        assert!(hit(&s, KARAMBIT_DOPPLER));
        assert!(hit(&s, "★ StatTrak™ Bayonet | Doppler (Minimal Wear)"));
        assert!(!hit(&s, "★ Karambit | Gamma Doppler (Factory New)"));
        assert!(!hit(&s, "Glock-18 | Doppler (Factory New)"));
        let s = sel(r#"globs = "*Holo/Foil*""#);
        assert!(hit(&s, "Sticker | X (Holo/Foil) | Y"), "`/` is an ordinary character");
    }

    #[test]
    fn regexes_match_as_written() {
        let s = sel(r#"regexes = ['^M4A(4|1-S) \| ', '(?i)asiimov']"#);
        assert!(!hit(&s, SOUV_KNIGHT), "Souvenir prefix: ^ anchors to the whole name");
        assert!(hit(&s, "M4A4 | Howl (Field-Tested)"));
        assert!(hit(&s, "StatTrak™ AWP | ASIIMOV (Battle-Scarred)"));
        assert!(!hit(&s, REDLINE_FT));
    }

    #[test]
    fn any_positive_pattern_is_enough() {
        let s = sel(r#"names = ["Operation Bravo Case"]
globs = ["sticker | *"]
regexes = ["Redline"]"#);
        for n in [CASE, TITAN, REDLINE_FT] {
            assert!(hit(&s, n), "{n}");
        }
        assert!(!hit(&s, VICE));
    }

    #[test]
    fn excludes_remove_matches_by_glob_exact_name_or_regex() {
        let s = sel(r#"exclude = ["*souvenir*", "★ Karambit | Doppler (Factory New)"]"#);
        assert!(!hit(&s, SOUV_KNIGHT));
        assert!(!hit(&s, KARAMBIT_DOPPLER));
        assert!(hit(&s, REDLINE_FT));
        assert!(hit(&s, "★ Karambit | Doppler (Minimal Wear)"));

        // A name with glob characters, excluded as written; `[o]` as a glob would only match "Noone".
        let s = sel(r#"exclude = ["Glitter No[o]ne- Player Sticker - TI 2022"]"#);
        assert!(!hit_in(&s, Game::Dota2, "Glitter No[o]ne- Player Sticker - TI 2022"));
        assert!(hit_in(&s, Game::Dota2, "Glitter Other- Player Sticker - TI 2022"));

        let s = sel(r#"globs = ["AK-47 | *"]
exclude_regexes = ['\((Battle-Scarred|Well-Worn)\)$']"#);
        assert!(hit(&s, REDLINE_FT));
        assert!(!hit(&s, "AK-47 | Redline (Well-Worn)"));
        assert!(!hit(&s, "AK-47 | Redline (Battle-Scarred)"));

        // An exclude wins over an exact name.
        let s = sel(&format!("names = [{REDLINE_FT:?}]\nexclude = [\"*redline*\"]"));
        assert!(!hit(&s, REDLINE_FT));
    }

    #[test]
    fn game_filter() {
        let s = sel(r#"game = "dota2""#);
        assert!(hit_in(&s, Game::Dota2, "Treasure Key"));
        assert!(!hit_in(&s, Game::Cs2, "Treasure Key"));
        let s = sel(r#"game = ["csgo", "rust"]"#);
        assert!(hit_in(&s, Game::Cs2, CASE));
        assert!(hit_in(&s, Game::Rust, "Tempered AK47"));
        assert!(!hit_in(&s, Game::Dota2, CASE));
    }

    #[test]
    fn kind_filter() {
        let s = sel(r#"kind = ["knife", "gloves"]"#);
        assert!(hit(&s, KARAMBIT_DOPPLER));
        assert!(hit(&s, VICE));
        assert!(hit(&s, "★ Karambit"));
        assert!(!hit(&s, REDLINE_FT));
        assert!(!hit(&s, TITAN));
        let s = sel(r#"kind = "music kit""#);
        assert!(hit(&s, "StatTrak™ Music Kit | Sam Marshall, Clutch"));
    }

    #[test]
    fn base_and_weapon_filter_ignore_case() {
        let s = sel(r#"base = ["karambit", "AK-47"]"#);
        assert!(hit(&s, KARAMBIT_DOPPLER));
        assert!(hit(&s, ST_REDLINE_FT));
        assert!(!hit(&s, "★ M9 Bayonet | Doppler (Factory New)"));
        let s = sel(r#"weapon = "Sport Gloves""#);
        assert!(hit(&s, VICE));
        assert!(!hit(&s, REDLINE_FT));
    }

    #[test]
    fn finish_filter_is_whole_and_ignores_case() {
        let s = sel(r#"finish = ["doppler", "Fade"]"#);
        assert!(hit(&s, KARAMBIT_DOPPLER));
        assert!(hit(&s, ST_M9_FADE));
        assert!(!hit(&s, "★ Karambit | Gamma Doppler (Factory New)"));
        assert!(!hit(&s, "★ Karambit"), "no finish never matches a finish filter");
        let s = sel(r#"finish = "Titan""#);
        assert!(hit(&s, TITAN), "the sticker's variant is not part of its finish");
    }

    #[test]
    fn wear_filter_takes_short_and_long_names() {
        let s = sel(r#"wear = ["FN", "minimal wear"]"#);
        assert!(hit(&s, KARAMBIT_DOPPLER));
        assert!(hit(&s, ST_M9_FADE));
        assert!(!hit(&s, REDLINE_FT));
        assert!(!hit(&s, TITAN), "an item without wear never matches a wear filter");
    }

    #[test]
    fn stattrak_and_souvenir_are_three_way() {
        let only = sel("stattrak = true");
        let none = sel("stattrak = false");
        let either = sel("");
        assert!(hit(&only, ST_REDLINE_FT) && !hit(&only, REDLINE_FT));
        assert!(!hit(&none, ST_REDLINE_FT) && hit(&none, REDLINE_FT));
        assert!(hit(&either, ST_REDLINE_FT) && hit(&either, REDLINE_FT));
        assert!(hit(&only, ST_M9_FADE));

        let only = sel("souvenir = true");
        let none = sel("souvenir = false");
        assert!(hit(&only, SOUV_KNIGHT) && !hit(&only, REDLINE_FT));
        assert!(!hit(&none, SOUV_KNIGHT) && hit(&none, REDLINE_FT));
    }

    #[test]
    fn every_given_filter_must_match() {
        let s = sel(r#"game = "cs2"
globs = ["★ *"]
kind = ["knife"]
base = ["Karambit", "M9 Bayonet"]
finish = ["Doppler", "Fade"]
wear = ["FN", "MW"]
stattrak = false
exclude = ["*| Fade (Minimal Wear)"]"#);
        assert!(hit(&s, KARAMBIT_DOPPLER));
        assert!(hit(&s, "★ M9 Bayonet | Fade (Factory New)"));
        assert!(!hit_in(&s, Game::Dota2, KARAMBIT_DOPPLER), "game");
        assert!(!hit(&s, "★ Karambit | Doppler (Field-Tested)"), "wear");
        assert!(!hit(&s, "★ StatTrak™ Karambit | Doppler (Factory New)"), "stattrak");
        assert!(!hit(&s, "★ Bayonet | Doppler (Factory New)"), "base");
        assert!(!hit(&s, "★ Karambit | Marble Fade (Factory New)"), "finish");
        assert!(!hit(&s, "★ M9 Bayonet | Fade (Minimal Wear)"), "exclude");
        assert!(!hit(&s, "★ Sport Gloves | Vice (Factory New)"), "kind");
    }

    #[test]
    fn an_unknown_field_is_an_error_that_names_it() {
        let err = toml::from_str::<SelectorSpec>(r#"wears = ["FN"]"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `wears`"), "{err}");
        assert!(err.contains("`wear`"), "the message lists the fields: {err}");
    }

    #[test]
    fn a_bad_value_is_an_error_that_says_what_is_wrong() {
        let err = toml::from_str::<SelectorSpec>(r#"wear = ["FN", "XX"]"#).unwrap_err().to_string();
        assert!(err.contains("`XX` is not a wear"), "{err}");
        let err = toml::from_str::<SelectorSpec>(r#"kind = "knive""#).unwrap_err().to_string();
        assert!(err.contains("`knive` is not an item kind"), "{err}");
        let err = toml::from_str::<SelectorSpec>(r#"game = "csgo2""#).unwrap_err().to_string();
        assert!(err.contains("`csgo2` is not a game"), "{err}");
        let err = toml::from_str::<SelectorSpec>("names = 5").unwrap_err().to_string();
        assert!(err.contains("a string or a list of strings"), "{err}");
        let err = toml::from_str::<SelectorSpec>("stattrak = \"yes\"").unwrap_err().to_string();
        assert!(err.contains("stattrak"), "{err}");
    }

    #[test]
    fn a_bad_regex_names_the_pattern_and_the_reason() {
        let err = Selector::compile(&spec(r#"regexes = ["Redline", "AK-47 (Redline"]"#)).unwrap_err();
        assert!(
            matches!(&err, SelectorError::BadRegex { field: "regexes", pattern, .. } if pattern == "AK-47 (Redline")
        );
        let msg = err.to_string();
        assert!(msg.starts_with("bad regex `AK-47 (Redline` in `regexes`: "), "{msg}");
        assert!(msg.contains("unclosed group"), "{msg}");
        let err = Selector::compile(&spec(r#"exclude_regexes = "[z-a]""#)).unwrap_err();
        assert!(err.to_string().contains("in `exclude_regexes`"), "{err}");
    }

    #[test]
    fn a_bad_glob_names_the_pattern_and_the_reason() {
        let err = Selector::compile(&spec(r#"globs = ["AK-47 | [Redline"]"#)).unwrap_err().to_string();
        assert!(err.starts_with("bad glob `AK-47 | [Redline` in `globs`: "), "{err}");
        assert!(err.contains("unclosed character class"), "{err}");
    }

    #[test]
    fn empty_lists_and_entries_are_errors() {
        for (text, field) in [
            ("names = []", "names"),
            ("globs = []", "globs"),
            ("regexes = []", "regexes"),
            ("kind = []", "kind"),
            ("wear = []", "wear"),
            ("weapon = []", "base"),
            ("finish = []", "finish"),
            ("game = []", "game"),
        ] {
            let err = Selector::compile(&spec(text)).unwrap_err();
            assert_eq!(err, SelectorError::EmptyList { field }, "{text}");
        }
        assert_eq!(
            Selector::compile(&spec(r#"globs = ["  "]"#)).unwrap_err(),
            SelectorError::EmptyEntry { field: "globs" }
        );
        // Excluding nothing is harmless.
        assert!(Selector::compile(&spec("exclude = []\nexclude_regexes = []")).is_ok());
    }

    #[test]
    fn a_selector_deserializes_inside_a_rule_table() {
        #[derive(Deserialize)]
        struct Rule {
            #[allow(dead_code)]
            name: String,
            select: SelectorSpec,
        }
        let rule: Rule = toml::from_str(
            r#"name = "cheap doppler knives"
[select]
kind = "knife"
finish = "Doppler"
"#,
        )
        .unwrap();
        assert_eq!(rule.select.kind, Some(vec![ItemKind::Knife]));
        assert_eq!(rule.select.finish, Some(vec!["Doppler".to_string()]));
        assert_eq!(rule.select.wear, None);
    }
}
