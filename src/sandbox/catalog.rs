//! What the sandbox market sells at start: a list of names with a reference price and a number of
//! units. Three text formats, told apart by extension or content:
//!
//! * JSON lines: `{"name":"…","price":"12.34","count":5,"game":"cs2"}` (`game` defaults to cs2,
//!   `price` may be a string or a number, `classid` optional);
//! * CSV with a header naming at least `name` and `price` (`count`, `game`, `classid` optional);
//!   fields may be quoted (`"Sticker | Team, Holo"`), `""` is a quote;
//! * plain names, one per line: price and count are derived from the name, so a list of real market
//!   names (tens of thousands) becomes a plausible market without any numbers in the file.

use std::path::Path;

use rust_decimal::Decimal;
use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::domain::money::parse_decimal;
use crate::domain::{Game, Usd};

/// The catalog shipped with the binary, so the sandbox runs with no files around.
pub(crate) const SHIPPED: &str = include_str!("../../data/catalog.jsonl");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub name: String,
    pub game: Game,
    /// The price of the cheapest unit at start; the other units spread above it.
    pub price: Usd,
    pub count: u32,
    pub classid: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub entries: Vec<CatalogEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("failed to read catalog {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Csv,
    Names,
}

impl Catalog {
    pub fn shipped() -> Catalog {
        // The shipped file is tested below; an error here would be a build defect, not user input.
        Catalog::parse(SHIPPED, Format::JsonLines).unwrap_or_default()
    }

    /// Reads a file, choosing the format by extension (`.jsonl`/`.json`, `.csv`, `.txt`) or content.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| CatalogError::Io { path: path.display().to_string(), source })?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let format = match ext.as_str() {
            "jsonl" | "ndjson" | "json" => Format::JsonLines,
            "csv" => Format::Csv,
            _ => sniff(&text),
        };
        Catalog::parse(&text, format)
    }

    pub fn parse(text: &str, format: Format) -> Result<Catalog, CatalogError> {
        match format {
            Format::JsonLines => parse_json_lines(text),
            Format::Csv => parse_csv(text),
            Format::Names => Ok(Catalog::from_names(text.lines(), Game::Cs2)),
        }
    }

    /// A market from bare names: price and count derived from a hash of the name.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>, game: Game) -> Catalog {
        let entries = names
            .into_iter()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|name| {
                let (price, count) = derived_price_and_count(name);
                CatalogEntry { name: name.to_string(), game, price, count, classid: None }
            })
            .collect();
        Catalog { entries }
    }

    pub fn units(&self) -> u64 {
        self.entries.iter().map(|e| u64::from(e.count)).sum()
    }
}

/// Guesses the format of text without a telling extension.
pub(crate) fn sniff(text: &str) -> Format {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if first.starts_with('{') {
        return Format::JsonLines;
    }
    let header: Vec<String> = split_csv_line(first).into_iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    if header.iter().any(|h| h == "name") && header.iter().any(|h| h == "price") {
        Format::Csv
    } else {
        Format::Names
    }
}

fn parse_json_lines(text: &str) -> Result<Catalog, CatalogError> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let err = |problem: String| CatalogError::Line { line: line_no, problem };
        let v: Value = serde_json::from_str(line).map_err(|e| err(format!("not JSON: {e}")))?;
        let field = |k: &str| -> Option<String> {
            match v.get(k)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let name = field("name").ok_or_else(|| err("missing \"name\"".into()))?;
        let price = field("price").ok_or_else(|| err("missing \"price\"".into()))?;
        entries.push(
            entry(&name, &price, field("count").as_deref(), field("game").as_deref(), field("classid")).map_err(err)?,
        );
    }
    Ok(Catalog { entries })
}

fn parse_csv(text: &str) -> Result<Catalog, CatalogError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Catalog::default());
    };
    let header: Vec<String> = split_csv_line(header).into_iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(name_col), Some(price_col)) = (col("name"), col("price")) else {
        return Err(CatalogError::Line {
            line: 1,
            problem: "CSV header must name the columns `name` and `price`".into(),
        });
    };
    let (count_col, game_col, classid_col) = (col("count"), col("game"), col("classid"));
    let mut entries = Vec::new();
    for (i, line) in lines {
        let err = |problem: String| CatalogError::Line { line: i + 1, problem };
        let fields = split_csv_line(line);
        let get =
            |c: Option<usize>| c.and_then(|c| fields.get(c)).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let name = get(Some(name_col)).ok_or_else(|| err("empty name".into()))?;
        let price = get(Some(price_col)).ok_or_else(|| err("empty price".into()))?;
        entries.push(
            entry(&name, &price, get(count_col).as_deref(), get(game_col).as_deref(), get(classid_col)).map_err(err)?,
        );
    }
    Ok(Catalog { entries })
}

fn entry(
    name: &str,
    price: &str,
    count: Option<&str>,
    game: Option<&str>,
    classid: Option<String>,
) -> Result<CatalogEntry, String> {
    let price = parse_decimal(price).map_err(|e| e.to_string())?;
    if price <= Decimal::ZERO || price > Decimal::from(100_000_000u64) {
        return Err(format!("price {price} must be more than zero and at most 100000000"));
    }
    let count = match count {
        Some(c) => c.trim().parse::<u32>().map_err(|_| format!("count `{c}` is not a non-negative integer"))?,
        None => 1,
    };
    let game = match game {
        Some(g) => g.parse::<Game>().map_err(|e| e.to_string())?,
        None => Game::Cs2,
    };
    Ok(CatalogEntry { name: name.to_string(), game, price: Usd::new(price).round_cents(), count, classid })
}

/// One CSV record on one line (names never contain newlines): commas split, double quotes group,
/// `""` inside quotes is a quote.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// A stable pseudo-random price and count for a name: most items are cheap, a few are expensive,
/// knives and gloves (★) are expensive, cases and stickers cheap-ish.
fn derived_price_and_count(name: &str) -> (Usd, u32) {
    let digest = Sha1::digest(name.as_bytes());
    let mut h = [0u8; 8];
    h.copy_from_slice(&digest[..8]);
    let h = u64::from_le_bytes(h);
    let pick = |lo: u64, hi: u64, salt: u32| lo + (h.rotate_left(salt) % (hi - lo + 1));
    let cents = if name.starts_with('★') {
        pick(8_000, 300_000, 7)
    } else {
        match h % 100 {
            0..=49 => pick(3, 200, 11),
            50..=79 => pick(200, 3_000, 13),
            80..=94 => pick(3_000, 30_000, 17),
            _ => pick(30_000, 300_000, 19),
        }
    };
    let count = u32::try_from(1 + (h >> 40) % 11).unwrap_or(1);
    (Usd::new(Decimal::new(i64::try_from(cents).unwrap_or(100), 2)), count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalog_parses_and_covers_three_games() {
        let c = Catalog::parse(SHIPPED, Format::JsonLines).expect("shipped catalog parses");
        assert!(c.entries.len() >= 60, "{} entries", c.entries.len());
        for g in Game::ALL {
            assert!(c.entries.iter().any(|e| e.game == g), "no {g} items");
        }
    }

    #[test]
    fn csv_with_quoted_commas_parses() {
        let text = "name,price,count\n\"Sticker | Team, Holo (Foil)\",1.5,3\nAK-47 | Redline (Field-Tested),12.34,2\n\"A \"\"quoted\"\" name\",0.10,1\n";
        assert_eq!(sniff(text), Format::Csv);
        let c = Catalog::parse(text, Format::Csv).expect("parses");
        assert_eq!(c.entries[0].name, "Sticker | Team, Holo (Foil)");
        assert_eq!(c.entries[0].price.wire(), "1.50");
        assert_eq!(c.entries[2].name, "A \"quoted\" name");
        assert_eq!(c.units(), 6);
    }

    #[test]
    fn json_lines_accept_numbers_and_report_bad_lines() {
        let c = Catalog::parse(
            "{\"name\":\"X Case\",\"price\":2.5,\"count\":\"4\",\"game\":\"rust\"}\n",
            Format::JsonLines,
        )
        .expect("parses");
        assert_eq!(c.entries[0].game, Game::Rust);
        assert_eq!(c.entries[0].count, 4);
        let e = Catalog::parse("{\"name\":\"X\",\"price\":\"abc\"}", Format::JsonLines).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn plain_names_get_stable_prices() {
        assert_eq!(sniff("AK-47 | Redline (Field-Tested)\nOperation Breakout Weapon Case\n"), Format::Names);
        let a = Catalog::from_names(["AK-47 | Redline (Field-Tested)", ""], Game::Cs2);
        let b = Catalog::from_names(["AK-47 | Redline (Field-Tested)"], Game::Cs2);
        assert_eq!(a, b);
        assert!(a.entries[0].price > Usd::ZERO);
        assert!((1..=11).contains(&a.entries[0].count));
    }
}
