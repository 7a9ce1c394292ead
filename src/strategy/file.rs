//! Strategy files (TOML): what the user writes, and the compiled form decisions run on.
//!
//! ```toml
//! name = "discount-sniper"        # default: the file name
//! priority = 10                   # default priority of its rules (higher goes first)
//! [limits]                        # counts across all rules of this strategy
//! per_day = 5
//! total = 200
//!
//! [[rules]]
//! name = "knives 15% under their median"
//! select = { kind = ["knife"], wear = ["FN", "MW"], stattrak = false }
//! max_price = "150 usd"           # absolute ceiling, any currency the API lists
//! discount = { percent = "15", reference = "history", window_hours = 24 }
//! per_item_per_day = 1
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use super::selector::{Selector, SelectorSpec};
use crate::config::FileError;
use crate::domain::money::parse_decimal;
use crate::domain::{Game, Money, Usd};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStrategy {
    pub name: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub limits: RawCounts,
    /// A CSV file (`name,price`, prices in USD) of reference prices for `reference = "file"`.
    pub reference_file: Option<Spanned<String>>,
    /// The `[[recipients]]` (by name) its purchases go to; default: all, in rotation.
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub rules: Vec<Spanned<RawRule>>,
}

fn yes() -> bool {
    true
}

/// Count limits; absent means unlimited.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCounts {
    pub per_day: Option<u32>,
    pub total: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub name: Option<String>,
    pub priority: Option<i32>,
    #[serde(default)]
    pub game: Option<Spanned<String>>,
    pub select: Spanned<SelectorSpec>,
    pub max_price: Option<Spanned<String>>,
    pub discount: Option<Spanned<RawDiscount>>,
    /// Restock: buy until this many of each matching item are held (bought or on their way).
    pub keep: Option<u32>,
    pub per_item_per_day: Option<u32>,
    pub per_item_total: Option<u32>,
    pub per_day: Option<u32>,
    pub total: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscount {
    /// Percent below the reference price, e.g. "15" or "12.5".
    pub percent: String,
    /// `history` (the bot's own recorded prices, median over the window) or `file`.
    #[serde(default = "history")]
    pub reference: String,
    #[serde(default = "day")]
    pub window_hours: u32,
}

fn history() -> String {
    "history".into()
}

fn day() -> u32 {
    24
}

/// Where a discount's reference price comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// Median of the recorded price over the last `window_hours`.
    History { window_hours: u32 },
    /// The strategy's reference file.
    File,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    /// Fraction of the reference to pay at most: 15 % off → 0.85.
    pub pay_fraction: Decimal,
    pub percent: Decimal,
    pub reference: Reference,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleCounts {
    pub per_item_per_day: Option<u32>,
    pub per_item_total: Option<u32>,
    pub per_day: Option<u32>,
    pub total: Option<u32>,
    pub keep: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub priority: i32,
    pub game: Game,
    pub selector: Selector,
    pub max_price: Option<Money>,
    pub discount: Option<Discount>,
    pub counts: RuleCounts,
}

#[derive(Debug, Clone)]
pub struct Strategy {
    pub name: String,
    pub source: PathBuf,
    pub limits: RawCounts,
    pub references: HashMap<String, Usd>,
    pub rules: Vec<Rule>,
    /// The recipients (by name) its purchases may go to; empty: any.
    pub recipients: Vec<String>,
}

impl Strategy {
    /// Reads, parses and compiles one strategy file. Every error names the file, the line and the field.
    pub fn load(path: &Path) -> Result<Option<Strategy>, FileError> {
        let source = std::fs::read_to_string(path).map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
        Self::parse(path, &source)
    }

    /// `Ok(None)` for a strategy that is switched off (`enabled = false`).
    pub fn parse(path: &Path, source: &str) -> Result<Option<Strategy>, FileError> {
        let raw: RawStrategy = toml::from_str(source).map_err(|e| FileError::from_toml(path, source, &e))?;
        if !raw.enabled {
            return Ok(None);
        }
        let name = raw.name.clone().unwrap_or_else(|| {
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "strategy".into())
        });
        let references = match &raw.reference_file {
            None => HashMap::new(),
            Some(f) => {
                let p = path.parent().unwrap_or(Path::new(".")).join(f.get_ref());
                load_references(&p).map_err(|m| FileError::at(path, source, f.span(), "reference_file", m))?
            }
        };
        if raw.rules.is_empty() {
            return Err(FileError {
                field: Some("rules".into()),
                ..FileError::new(path, "a strategy needs at least one [[rules]] table")
            });
        }
        let mut rules = Vec::new();
        for (i, spanned) in raw.rules.iter().enumerate() {
            let r = spanned.get_ref();
            let at = |span: std::ops::Range<usize>, field: &str, msg: String| {
                FileError::at(path, source, span, &format!("rules[{i}].{field}"), msg)
            };
            let rule_name = r.name.clone().unwrap_or_else(|| format!("rule-{}", i + 1));
            // The game whose price list the rule reads: `game`, else the selector's single game, else cs2.
            let game = match (&r.game, &r.select.get_ref().game) {
                (Some(g), _) => g
                    .get_ref()
                    .parse()
                    .map_err(|e: crate::domain::game::UnknownGame| at(g.span(), "game", e.to_string()))?,
                (None, Some(games)) if games.len() == 1 => games[0],
                (None, Some(_)) => {
                    return Err(at(r.select.span(), "game", "a rule reads one game's price list: set `game`".into()))
                }
                (None, None) => Game::Cs2,
            };
            let selector =
                Selector::compile(r.select.get_ref()).map_err(|e| at(r.select.span(), "select", e.to_string()))?;
            let max_price = match &r.max_price {
                Some(m) => Some(
                    m.get_ref()
                        .parse::<Money>()
                        .and_then(Money::listed)
                        .map_err(|e| at(m.span(), "max_price", e.to_string()))?,
                ),
                None => None,
            };
            let discount = match &r.discount {
                None => None,
                Some(d) => {
                    let raw_d = d.get_ref();
                    let percent = parse_decimal(&raw_d.percent)
                        .ok()
                        .filter(|p| *p > Decimal::ZERO && *p < Decimal::ONE_HUNDRED)
                        .ok_or_else(|| {
                            at(
                                d.span(),
                                "discount.percent",
                                format!("`{}` is not a percentage between 0 and 100", raw_d.percent),
                            )
                        })?;
                    let reference = match raw_d.reference.as_str() {
                        "history" => {
                            if !(1..=8760).contains(&raw_d.window_hours) {
                                return Err(at(
                                    d.span(),
                                    "discount.window_hours",
                                    format!("{} is outside 1..=8760 (a year)", raw_d.window_hours),
                                ));
                            }
                            Reference::History { window_hours: raw_d.window_hours }
                        }
                        "file" if raw.reference_file.is_some() => Reference::File,
                        "file" => {
                            return Err(at(
                                d.span(),
                                "discount.reference",
                                "\"file\" needs `reference_file` at the top of the strategy".into(),
                            ))
                        }
                        other => {
                            return Err(at(
                                d.span(),
                                "discount.reference",
                                format!("`{other}` is not a reference (expected \"history\" or \"file\")"),
                            ))
                        }
                    };
                    Some(Discount {
                        pay_fraction: (Decimal::ONE_HUNDRED - percent) / Decimal::ONE_HUNDRED,
                        percent,
                        reference,
                    })
                }
            };
            if max_price.is_none() && discount.is_none() {
                return Err(at(
                    spanned.span(),
                    "max_price",
                    "a rule needs a price: `max_price`, `discount`, or both".into(),
                ));
            }
            rules.push(Rule {
                name: rule_name,
                priority: r.priority.unwrap_or(raw.priority),
                game,
                selector,
                max_price,
                discount,
                counts: RuleCounts {
                    per_item_per_day: r.per_item_per_day,
                    per_item_total: r.per_item_total,
                    per_day: r.per_day,
                    total: r.total,
                    keep: r.keep,
                },
            });
        }
        Ok(Some(Strategy {
            name,
            source: path.to_path_buf(),
            limits: raw.limits,
            references,
            rules,
            recipients: raw.recipients,
        }))
    }
}

/// Loads every `*.toml` in a folder (sorted by name) or one file. Fails on the first bad file, so
/// a broken strategy is never half-used.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Strategy>, FileError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| FileError::new(p, format!("cannot read the folder: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut out: Vec<Strategy> = Vec::new();
    for f in files {
        if let Some(s) = Strategy::load(&f)? {
            if out.iter().any(|o| o.name == s.name) {
                return Err(FileError {
                    field: Some("name".into()),
                    ..FileError::new(&f, format!("another strategy is already named `{}`", s.name))
                });
            }
            out.push(s);
        }
    }
    Ok(out)
}

/// `name,price` lines (header optional, names may be quoted and contain commas), prices in USD.
fn load_references(path: &Path) -> Result<HashMap<String, Usd>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, price) =
            split_last_field(line).ok_or_else(|| format!("{}:{}: expected `name,price`", path.display(), i + 1))?;
        if i == 0 && price.eq_ignore_ascii_case("price") {
            continue;
        }
        let price = Usd::parse(price).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        out.insert(name, price);
    }
    Ok(out)
}

/// Splits `"A, B",12.5` or `A,12.5` into the (unquoted) name and the last field.
fn split_last_field(line: &str) -> Option<(String, &str)> {
    let (name, price) = line.rsplit_once(',')?;
    let name = name.trim();
    let name = if name.len() >= 2 && name.starts_with('"') && name.ends_with('"') {
        name[1..name.len() - 1].replace("\"\"", "\"")
    } else {
        name.to_string()
    };
    Some((name, price.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Strategy>, FileError> {
        Strategy::parse(Path::new("strategies/test.toml"), text)
    }

    #[test]
    fn a_rule_needs_a_price_and_errors_name_file_line_and_field() {
        let e = parse("[[rules]]\nselect = { kind = \"knife\" }\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rules[0].max_price"), "{e}");
        let e = parse("[[rules]]\nselect = { kind = \"knife\" }\nmax_price = \"12 bucks\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("rules[0].max_price")), "{e}");
        let e = parse("[[rules]]\nselect = { kind = \"knife\" }\nmax_price = \"12 btc\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("rules[0].max_price")), "{e}");
        assert!(e.to_string().contains("not a currency the SkinsBack API lists"), "{e}");
        let e = parse("[[rules]]\nselect = { kind = \"knife\" }\nmax_price = \"1\"\nper_dya = 3\n").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().contains("per_dya"), "{e}");
        let e = parse("[[rules]]\nselect = { regexes = \"(\" }\nmax_price = \"1\"\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rules[0].select"), "{e}");
        let e = parse("[[rules]]\nselect = {}\ndiscount = { percent = \"120\" }\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rules[0].discount.percent"), "{e}");
    }

    #[test]
    fn a_disabled_strategy_is_skipped_and_defaults_apply() {
        assert!(parse("enabled = false\n[[rules]]\nselect = {}\nmax_price = \"1\"\n").unwrap().is_none());
        let s = parse("priority = 7\n[[rules]]\nselect = {}\nmax_price = \"1\"\n").unwrap().unwrap();
        assert_eq!(s.name, "test");
        assert_eq!((s.rules[0].name.as_str(), s.rules[0].priority, s.rules[0].game), ("rule-1", 7, Game::Cs2));
        let s = parse("[[rules]]\nselect = { game = \"dota2\" }\nmax_price = \"1\"\n").unwrap().unwrap();
        assert_eq!(s.rules[0].game, Game::Dota2);
    }

    #[test]
    fn a_reference_file_gives_discount_prices() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("refs.csv"),
            "name,price\n\"Music Kit | Sean Murray, A*D*8\",10.00\nAK-47 | Redline (Field-Tested),12.50\n",
        )
        .unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "reference_file = \"refs.csv\"\n[[rules]]\nselect = {}\ndiscount = { percent = \"20\", reference = \"file\" }\n").unwrap();
        let s = Strategy::load(&path).unwrap().unwrap();
        assert_eq!(s.references["Music Kit | Sean Murray, A*D*8"], Usd::new(rust_decimal::Decimal::new(1000, 2)));
        assert_eq!(s.references["AK-47 | Redline (Field-Tested)"], Usd::new(rust_decimal::Decimal::new(1250, 2)));
        assert_eq!(s.rules[0].discount.as_ref().unwrap().pay_fraction, rust_decimal::Decimal::new(80, 2));

        std::fs::write(dir.path().join("refs.csv"), "AK-47 | Redline (Field-Tested),twelve\n").unwrap();
        let e = Strategy::load(&path).unwrap_err();
        assert!(e.to_string().contains("refs.csv:1"), "{e}");
        assert_eq!(e.field.as_deref(), Some("reference_file"));
    }

    #[test]
    fn the_shipped_examples_load() {
        let all = load_all(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies")]).unwrap();
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["discount-sniper", "restock-cases", "shopping-list"]);
    }
}
