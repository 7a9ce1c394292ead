//! Reading a market name into its parts: the ★ / StatTrak™ / Souvenir prefixes, the `|` segments and the
//! trailing `(…)` that is a wear or a variant. Which kind the parts make is decided in `kinds`.

use super::kinds::{kind_of_base, kind_of_whole_name, settle_kind};
use super::{ItemKind, MarketNameError, Wear};

const STAR: &str = "★";
const STATTRAK: &str = "StatTrak™";
const SOUVENIR: &str = "Souvenir";

/// Byte offsets into `MarketName::name`, always on char boundaries of the trimmed name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Everything but the name itself, so the same analysis serves `&str` and `String` inputs.
pub(super) struct Parts {
    pub(super) kind: ItemKind,
    pub(super) wear: Option<Wear>,
    pub(super) stattrak: bool,
    pub(super) souvenir: bool,
    pub(super) star: bool,
    pub(super) base: Span,
    pub(super) finish: Option<Span>,
    pub(super) variant: Option<Span>,
    pub(super) extra: Option<Span>,
}

/// If `s[at..]` starts with `prefix` followed by whitespace and more text, the offset after the whitespace.
fn after_prefix(s: &str, at: usize, prefix: &str, need_space: bool) -> Option<usize> {
    let rest = s.get(at..)?.strip_prefix(prefix)?;
    let trimmed = rest.trim_start();
    if trimmed.is_empty() || (need_space && trimmed.len() == rest.len()) {
        return None;
    }
    Some(s.len() - trimmed.len())
}

/// `start..end` of `s` with surrounding whitespace removed.
fn trim_span(s: &str, start: usize, end: usize) -> Span {
    let Some(part) = s.get(start..end) else {
        return Span { start, end: start };
    };
    let lead = part.len() - part.trim_start().len();
    let body = part.trim();
    Span { start: start + lead, end: start + lead + body.len() }
}

/// Reads a name into its parts; fails only on an empty name or a control character.
pub(super) fn analyse(s: &str) -> Result<Parts, MarketNameError> {
    if let Some((position, _)) = s.char_indices().find(|(_, c)| c.is_control()) {
        return Err(MarketNameError::ControlCharacter { name: s.to_string(), position });
    }
    let end = s.trim_end().len();
    let mut at = s.len() - s.trim_start().len();
    if at >= end {
        return Err(MarketNameError::Empty);
    }
    let s = &s[..end];

    // Prefixes, in the order the market writes them: `★ StatTrak™ Karambit`.
    let star = match after_prefix(s, at, STAR, false) {
        Some(next) => {
            at = next;
            true
        }
        None => false,
    };
    let mut stattrak = false;
    // The StatTrak™ Swap Tool is a tool named so, not a StatTrak™ item.
    if s.get(at..) != Some("StatTrak™ Swap Tool") {
        if let Some(next) = after_prefix(s, at, STATTRAK, true) {
            at = next;
            stattrak = true;
        }
    }
    let mut souvenir = false;
    if !stattrak {
        if let Some(next) = after_prefix(s, at, SOUVENIR, true) {
            at = next;
            souvenir = true;
        }
    }

    // Segments: `base | finish | extra…` (extra keeps any further `|`).
    let (base, finish, extra) = match s[at..].find('|') {
        None => (trim_span(s, at, end), None, None),
        Some(i) => {
            let bar = at + i;
            let (fin_end, extra) = match s[bar + 1..].find('|') {
                None => (end, None),
                Some(j) => (bar + 1 + j, Some(trim_span(s, bar + 2 + j, end))),
            };
            (trim_span(s, at, bar), Some(trim_span(s, bar + 1, fin_end)), extra)
        }
    };
    let base_str = s.get(base.start..base.end).unwrap_or("");

    let (announced, has_variant) = match (finish, kind_of_base(base_str)) {
        (_, Some(found)) => (Some(found.0), found.1),
        (None, None) => (kind_of_whole_name(s.get(at..end).unwrap_or("")), false),
        (Some(_), None) => (None, false),
    };

    // A trailing `(…)` on the finish: the wear, or a variant for sticker-like items.
    let mut finish = finish;
    let mut wear = None;
    let mut variant = None;
    if let Some(f) = finish {
        let text = s.get(f.start..f.end).unwrap_or("");
        if let Some(open) = text.strip_suffix(')').and_then(|t| t.rfind('(')) {
            let inner = trim_span(s, f.start + open + 1, f.end - 1);
            let inner_text = s.get(inner.start..inner.end).unwrap_or("");
            let stripped = trim_span(s, f.start, f.start + open);
            if let Some(w) = Wear::from_market_text(inner_text) {
                wear = Some(w);
                finish = Some(stripped);
            } else if has_variant && !inner_text.is_empty() {
                variant = Some(inner);
                finish = Some(stripped);
            }
        }
    }
    // `Music Kit |` exists on the market: an empty finish is no finish.
    let finish = finish.filter(|f| f.start < f.end);

    let finish_text = finish.and_then(|f| s.get(f.start..f.end));
    let kind = settle_kind(announced, wear.is_some(), finish_text, star, base_str);

    Ok(Parts { kind, wear, stattrak, souvenir, star, base, finish, variant, extra })
}

#[cfg(test)]
mod tests {
    use crate::domain::market_name::{parse, MarketName, MarketNameError, Wear};

    fn p(s: &str) -> MarketName {
        parse(s).unwrap_or_else(|e| panic!("{s:?} failed: {e}"))
    }

    #[test]
    fn variants_and_extras_are_split_from_sticker_like_finishes() {
        let n = p("Sticker | Titan (Holo) | Katowice 2014");
        assert_eq!((n.finish(), n.variant(), n.extra()), (Some("Titan"), Some("Holo"), Some("Katowice 2014")));
        let n = p("Sticker | FaZe Clan (Holo, Champion) | Paris 2023");
        assert_eq!((n.finish(), n.variant()), (Some("FaZe Clan"), Some("Holo, Champion")));
        let n = p("Sealed Graffiti | Recoil MP7 (Cash Green)");
        assert_eq!(n.variant(), Some("Cash Green"));
        let n = p("Souvenir Charm | Austin 2025 Highlight | frozen Double Headshot");
        assert_eq!(n.extra(), Some("frozen Double Headshot"));
        // A music kit's parentheses belong to its title.
        assert_eq!(p("Music Kit | Perfect World, 花脸 Hua Lian (Painted Face)").variant(), None);
        // A weapon's non-wear parentheses stay in the finish.
        assert_eq!(p("M4A4 | 龍王 (Dragon King) (Factory New)").variant(), None);
    }

    #[test]
    fn only_empty_names_and_control_characters_fail() {
        assert_eq!(parse(""), Err(MarketNameError::Empty));
        assert_eq!(parse("   "), Err(MarketNameError::Empty));
        assert!(matches!(parse("AK-47\n| Redline"), Err(MarketNameError::ControlCharacter { position: 5, .. })));
        assert!(matches!(parse("a\u{7f}"), Err(MarketNameError::ControlCharacter { .. })));
        for odd in [
            "|",
            "||",
            " | | ",
            "★",
            "★ ",
            "StatTrak™",
            "StatTrak™ ",
            "(",
            ")",
            "()",
            "x ()",
            "| (Factory New)",
            "★|(",
            "a | (",
        ] {
            assert!(parse(odd).is_ok(), "{odd:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_parses_or_fails_only_for_emptiness_or_control_characters(
            name in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                // Shaped like market names, so the separators and suffixes are exercised hard.
                "(★ ?)?(StatTrak™ ?|Souvenir ?)?[a-zA-Z0-9 |()★™,.-]{0,40}( ?\\((Factory New|Holo|)\\)?)?",
            ]
        ) {
            match parse(&name) {
                Ok(n) => {
                    proptest::prop_assert_eq!(n.as_str(), name.as_str());
                    for part in [Some(n.base()), n.finish(), n.variant(), n.extra()].into_iter().flatten() {
                        proptest::prop_assert!(name.contains(part));
                    }
                }
                Err(MarketNameError::Empty) => proptest::prop_assert!(name.trim().is_empty()),
                Err(MarketNameError::ControlCharacter { .. }) => {
                    proptest::prop_assert!(name.chars().any(char::is_control))
                }
            }
        }
    }

    #[test]
    fn surrounding_whitespace_is_ignored_but_the_name_kept() {
        let n = p("  AK-47 | Redline (Field-Tested) ");
        assert_eq!((n.base(), n.finish(), n.wear()), ("AK-47", Some("Redline"), Some(Wear::FieldTested)));
        assert_eq!(n.as_str(), "  AK-47 | Redline (Field-Tested) ");
    }
}
