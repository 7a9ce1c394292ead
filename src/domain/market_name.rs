//! Steam market hash names, parsed into the attributes a strategy selects on.
//!
//! The CS2 grammar, as it appears on the market:
//!
//! ```text
//! [★ ][StatTrak™ |Souvenir ]<base>[ | <finish>[ (<wear>|<variant>)][ | <extra>]]
//!
//! AK-47 | Redline (Field-Tested)               weapon   base "AK-47", finish "Redline", wear FT
//! ★ StatTrak™ Karambit | Doppler (Factory New) knife    star, stattrak
//! ★ Karambit                                   knife    vanilla: no finish, no wear
//! ★ Sport Gloves | Vice (Minimal Wear)         gloves
//! Sticker | Titan (Holo) | Katowice 2014       sticker  finish "Titan", variant "Holo", extra "Katowice 2014"
//! Souvenir Charm | Austin 2025 Highlight | …   charm    souvenir, extra = the highlight
//! Sir Bloody Miami Darryl | The Professionals  agent    base = the agent, finish = the faction
//! Operation Bravo Case                         case     base = the whole name
//! ```
//!
//! Dota 2 and Rust names are free-form: they go through the same grammar, never fail, and come out as
//! [`ItemKind::Other`] (or a container/key kind when the name plainly says so), without wear or CS flags.
//! Doppler phases are not part of Steam's names; a name that carries one (`… | Gamma Doppler Emerald (…)`)
//! keeps it in the finish.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What sort of item a market name denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum ItemKind {
    /// A gun, or the Zeus x27.
    Weapon,
    /// A ★ knife (also a knife name without the star, as some price lists give vanilla knives).
    Knife,
    Gloves,
    Sticker,
    Patch,
    /// Charms, souvenir charms and sticker slabs (a sticker sealed into a charm).
    Charm,
    Graffiti,
    MusicKit,
    /// Weapon cases, opened with a key.
    Case,
    /// Every other container: sticker, autograph, patch and pin capsules, tournament sticker capsules
    /// (`… Legends (Holo-Foil)`), graffiti and music kit boxes, terminals.
    Capsule,
    /// Tournament souvenir packages.
    Package,
    Key,
    /// Operation passes and tournament viewer passes.
    Pass,
    Agent,
    Pin,
    /// Name Tag, StatTrak™ Swap Tool, Storage Unit.
    Tool,
    /// Anything else, including every Dota 2 and Rust item the grammar does not recognise.
    Other,
}

impl ItemKind {
    pub const ALL: [ItemKind; 17] = [
        ItemKind::Weapon,
        ItemKind::Knife,
        ItemKind::Gloves,
        ItemKind::Sticker,
        ItemKind::Patch,
        ItemKind::Charm,
        ItemKind::Graffiti,
        ItemKind::MusicKit,
        ItemKind::Case,
        ItemKind::Capsule,
        ItemKind::Package,
        ItemKind::Key,
        ItemKind::Pass,
        ItemKind::Agent,
        ItemKind::Pin,
        ItemKind::Tool,
        ItemKind::Other,
    ];

    /// The name used in strategy files and serialized forms (`music_kit`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Weapon => "weapon",
            ItemKind::Knife => "knife",
            ItemKind::Gloves => "gloves",
            ItemKind::Sticker => "sticker",
            ItemKind::Patch => "patch",
            ItemKind::Charm => "charm",
            ItemKind::Graffiti => "graffiti",
            ItemKind::MusicKit => "music_kit",
            ItemKind::Case => "case",
            ItemKind::Capsule => "capsule",
            ItemKind::Package => "package",
            ItemKind::Key => "key",
            ItemKind::Pass => "pass",
            ItemKind::Agent => "agent",
            ItemKind::Pin => "pin",
            ItemKind::Tool => "tool",
            ItemKind::Other => "other",
        }
    }
}

impl FromStr for ItemKind {
    type Err = UnknownItemKind;
    /// Case-insensitive; `_`, `-` and spaces are interchangeable (`music_kit`, `Music Kit`, `musickit`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ItemKind::ALL
            .into_iter()
            .find(|k| loose_eq(s, k.as_str()))
            .or_else(|| loose_eq(s, "glove").then_some(ItemKind::Gloves))
            .ok_or_else(|| UnknownItemKind(s.to_string()))
    }
}

impl TryFrom<String> for ItemKind {
    type Error = UnknownItemKind;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ItemKind> for &'static str {
    fn from(k: ItemKind) -> &'static str {
        k.as_str()
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an item kind (expected one of weapon, knife, gloves, sticker, patch, charm, graffiti, \
     music_kit, case, capsule, package, key, pass, agent, pin, tool, other)"
)]
pub struct UnknownItemKind(pub String);

/// The exterior of a weapon, knife or glove skin, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Wear {
    FactoryNew,
    MinimalWear,
    FieldTested,
    WellWorn,
    BattleScarred,
}

impl Wear {
    pub const ALL: [Wear; 5] =
        [Wear::FactoryNew, Wear::MinimalWear, Wear::FieldTested, Wear::WellWorn, Wear::BattleScarred];

    /// The text inside the parentheses of a market name (`Field-Tested`); also the serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            Wear::FactoryNew => "Factory New",
            Wear::MinimalWear => "Minimal Wear",
            Wear::FieldTested => "Field-Tested",
            Wear::WellWorn => "Well-Worn",
            Wear::BattleScarred => "Battle-Scarred",
        }
    }

    /// The usual abbreviation (`FT`).
    pub fn short(self) -> &'static str {
        match self {
            Wear::FactoryNew => "FN",
            Wear::MinimalWear => "MW",
            Wear::FieldTested => "FT",
            Wear::WellWorn => "WW",
            Wear::BattleScarred => "BS",
        }
    }

    /// Exactly the long form, ignoring ASCII case: what a market name carries. Abbreviations are not
    /// accepted here, so that a sticker variant like `(FT)` could never be read as a wear.
    fn from_market_text(s: &str) -> Option<Wear> {
        Wear::ALL.into_iter().find(|w| w.as_str().eq_ignore_ascii_case(s))
    }
}

impl FromStr for Wear {
    type Err = UnknownWear;
    /// `FN`/`MW`/`FT`/`WW`/`BS` or the long names, case-insensitive; `-`, `_` and spaces are
    /// interchangeable (`field tested`, `Field-Tested`, `field_tested`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Wear::ALL
            .into_iter()
            .find(|w| loose_eq(s, w.short()) || loose_eq(s, w.as_str()))
            .ok_or_else(|| UnknownWear(s.to_string()))
    }
}

impl TryFrom<String> for Wear {
    type Error = UnknownWear;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Wear> for &'static str {
    fn from(w: Wear) -> &'static str {
        w.as_str()
    }
}

impl fmt::Display for Wear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a wear (expected FN, MW, FT, WW, BS or Factory New, Minimal Wear, Field-Tested, Well-Worn, \
     Battle-Scarred)"
)]
pub struct UnknownWear(pub String);

/// Equal ignoring ASCII case and the separators `' '`, `'-'`, `'_'`, without allocating.
fn loose_eq(a: &str, b: &str) -> bool {
    let significant = |c: &char| !matches!(c, ' ' | '-' | '_');
    let mut a = a.trim().chars().filter(significant);
    let mut b = b.chars().filter(significant);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(&y) => {}
            _ => return false,
        }
    }
}

/// A market hash name and what it says about the item. The name is kept exactly as given (it is what a
/// purchase must quote); the parts are slices of it, so parsing allocates only the one copy of the name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MarketName {
    name: String,
    kind: ItemKind,
    wear: Option<Wear>,
    stattrak: bool,
    souvenir: bool,
    star: bool,
    base: Span,
    finish: Option<Span>,
    variant: Option<Span>,
    extra: Option<Span>,
}

/// Byte offsets into `MarketName::name`, always on char boundaries of the trimmed name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Span {
    start: usize,
    end: usize,
}

/// Everything but the name itself, so the same analysis serves `&str` and `String` inputs.
struct Parts {
    kind: ItemKind,
    wear: Option<Wear>,
    stattrak: bool,
    souvenir: bool,
    star: bool,
    base: Span,
    finish: Option<Span>,
    variant: Option<Span>,
    extra: Option<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketNameError {
    #[error("market name is empty")]
    Empty,
    #[error("market name {name:?} contains a control character at byte {position}")]
    ControlCharacter { name: String, position: usize },
}

/// Parses a market hash name. Fails only on an empty (or all-whitespace) name or one with control
/// characters; every other string, from any game, parses.
pub fn parse(name: &str) -> Result<MarketName, MarketNameError> {
    MarketName::parse(name)
}

impl MarketName {
    /// See [`parse`].
    pub fn parse(name: &str) -> Result<Self, MarketNameError> {
        let parts = analyse(name)?;
        Ok(Self::assemble(name.to_string(), parts))
    }

    fn assemble(name: String, p: Parts) -> Self {
        MarketName {
            name,
            kind: p.kind,
            wear: p.wear,
            stattrak: p.stattrak,
            souvenir: p.souvenir,
            star: p.star,
            base: p.base,
            finish: p.finish,
            variant: p.variant,
            extra: p.extra,
        }
    }

    /// The whole name, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> ItemKind {
        self.kind
    }

    /// The weapon or item type (`AK-47`, `Karambit`, `Sport Gloves`, `Sticker`, `Music Kit`), the agent
    /// (`Sir Bloody Miami Darryl`), or the whole name when it has no `|` (`Operation Bravo Case`), without
    /// the ★ / StatTrak™ / Souvenir prefixes.
    pub fn base(&self) -> &str {
        self.slice(self.base)
    }

    /// The skin, sticker, kit or faction after the first `|`, without wear or variant
    /// (`Redline`, `Titan`, `Sam Marshall, Clutch`, `The Professionals`).
    pub fn finish(&self) -> Option<&str> {
        self.finish.map(|s| self.slice(s))
    }

    /// The parenthesised variant of a sticker, patch, sticker slab, graffiti or autograph capsule:
    /// `Holo`, `Foil`, `Gold`, `Holo, Champion`, a graffiti colour like `Tracer Yellow`.
    pub fn variant(&self) -> Option<&str> {
        self.variant.map(|s| self.slice(s))
    }

    /// What follows a second `|`: a sticker's or patch's tournament (`Katowice 2014`), a souvenir charm's
    /// highlight.
    pub fn extra(&self) -> Option<&str> {
        self.extra.map(|s| self.slice(s))
    }

    pub fn wear(&self) -> Option<Wear> {
        self.wear
    }

    /// `StatTrak™` prefix (weapons, knives, music kits, music kit boxes).
    pub fn stattrak(&self) -> bool {
        self.stattrak
    }

    /// `Souvenir` prefix (souvenir weapons, souvenir charms).
    pub fn souvenir(&self) -> bool {
        self.souvenir
    }

    /// `★` prefix: knives and gloves.
    pub fn star(&self) -> bool {
        self.star
    }

    fn slice(&self, s: Span) -> &str {
        // Spans come from `analyse` over this very string, so `get` always succeeds; "" keeps it panic-free.
        self.name.get(s.start..s.end).unwrap_or("")
    }
}

impl FromStr for MarketName {
    type Err = MarketNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MarketName::parse(s)
    }
}

/// Takes ownership without copying the name.
impl TryFrom<String> for MarketName {
    type Error = MarketNameError;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        let parts = analyse(&name)?;
        Ok(Self::assemble(name, parts))
    }
}

impl From<MarketName> for String {
    fn from(n: MarketName) -> String {
        n.name
    }
}

impl fmt::Display for MarketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Serialize for MarketName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for MarketName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        MarketName::try_from(name).map_err(serde::de::Error::custom)
    }
}

const STAR: &str = "★";
const STATTRAK: &str = "StatTrak™";
const SOUVENIR: &str = "Souvenir";

/// Every CS2 knife type (the ★ items that are not gloves).
pub const KNIVES: [&str; 20] = [
    "Bayonet",
    "Bowie Knife",
    "Butterfly Knife",
    "Classic Knife",
    "Falchion Knife",
    "Flip Knife",
    "Gut Knife",
    "Huntsman Knife",
    "Karambit",
    "Kukri Knife",
    "M9 Bayonet",
    "Navaja Knife",
    "Nomad Knife",
    "Paracord Knife",
    "Shadow Daggers",
    "Skeleton Knife",
    "Stiletto Knife",
    "Survival Knife",
    "Talon Knife",
    "Ursus Knife",
];

/// Every CS2 glove type.
pub const GLOVES: [&str; 8] = [
    "Bloodhound Gloves",
    "Broken Fang Gloves",
    "Driver Gloves",
    "Hand Wraps",
    "Hydra Gloves",
    "Moto Gloves",
    "Specialist Gloves",
    "Sport Gloves",
];

/// Every CS2 gun, and the Zeus.
pub const WEAPONS: [&str; 35] = [
    "AK-47",
    "AUG",
    "AWP",
    "CZ75-Auto",
    "Desert Eagle",
    "Dual Berettas",
    "FAMAS",
    "Five-SeveN",
    "G3SG1",
    "Galil AR",
    "Glock-18",
    "M249",
    "M4A1-S",
    "M4A4",
    "MAC-10",
    "MAG-7",
    "MP5-SD",
    "MP7",
    "MP9",
    "Negev",
    "Nova",
    "P2000",
    "P250",
    "P90",
    "PP-Bizon",
    "R8 Revolver",
    "SCAR-20",
    "SG 553",
    "SSG 08",
    "Sawed-Off",
    "Tec-9",
    "UMP-45",
    "USP-S",
    "XM1014",
    "Zeus x27",
];

/// The factions agents belong to: the part after `|` of an agent's name.
const AGENT_FACTIONS: [&str; 20] = [
    "Brazilian 1st Battalion",
    "Elite Crew",
    "FBI",
    "FBI HRT",
    "FBI SWAT",
    "FBI Sniper",
    "Gendarmerie Nationale",
    "Guerrilla Warfare",
    "KSK",
    "NSWC SEAL",
    "NZSAS",
    "Phoenix",
    "SAS",
    "SEAL Frogman",
    "SWAT",
    "Sabre",
    "Sabre Footsoldier",
    "TACP Cavalry",
    "The Professionals",
    "USAF TACP",
];

/// The kind an item type before the first `|` announces, and whether a trailing `(…)` on the finish is a
/// variant (`Sticker | Titan (Holo)`) rather than part of the name (`Music Kit | …, 花脸 Hua Lian (Painted Face)`).
fn kind_of_base(base: &str) -> Option<(ItemKind, bool)> {
    let found = match base {
        "Sticker" => (ItemKind::Sticker, true),
        "Sticker Slab" => (ItemKind::Charm, true),
        "Patch" => (ItemKind::Patch, true),
        "Charm" => (ItemKind::Charm, false),
        "Sealed Graffiti" | "Graffiti" => (ItemKind::Graffiti, true),
        "Music Kit" => (ItemKind::MusicKit, false),
        "Autograph Capsule" => (ItemKind::Capsule, true),
        _ if KNIVES.contains(&base) => (ItemKind::Knife, false),
        _ if GLOVES.contains(&base) => (ItemKind::Gloves, false),
        _ if WEAPONS.contains(&base) => (ItemKind::Weapon, false),
        _ => return None,
    };
    Some(found)
}

/// Names without `|` that are not weapons: containers, keys, passes, pins, tools. Judged by the last
/// word(s), so that a Dota 2 item like `Cold Case Bow` stays [`ItemKind::Other`].
fn kind_of_whole_name(name: &str) -> Option<ItemKind> {
    match name {
        "Name Tag" | "StatTrak™ Swap Tool" | "Storage Unit" => return Some(ItemKind::Tool),
        _ => {}
    }
    // `Atlanta 2017 Legends (Holo-Foil)`, `CS:GO Weapon Case 2`, `Collectible Pins Capsule Series 1`.
    let core = strip_suffix_word(name, |w| w == "(Foil)" || w == "(Holo-Foil)");
    let core = strip_suffix_word(core, |w| w.bytes().all(|b| b.is_ascii_digit()));
    let core = strip_suffix_word(core, |w| w == "Series");
    let last = core.rsplit(' ').next().unwrap_or(core);
    let kind = match last {
        "Key" => ItemKind::Key,
        "Package" => ItemKind::Package,
        "Pass" => ItemKind::Pass,
        "Tokens" if core.contains(" Pass ") => ItemKind::Pass,
        "Case" => ItemKind::Case,
        "Capsule" | "Terminal" => ItemKind::Capsule,
        "Box" if core.ends_with("Music Kit Box") || core.ends_with("Graffiti Box") || core == "Radicals Box" => {
            ItemKind::Capsule
        }
        "Pack" if core.ends_with("Patch Pack") => ItemKind::Capsule,
        // Tournament sticker capsules: `2020 RMR Legends`, `EMS Katowice 2014 Challengers`.
        "Legends" | "Challengers" | "Contenders" if has_year(core) => ItemKind::Capsule,
        "Pin" => ItemKind::Pin,
        // `Boston 2018 Minor Challengers with Flash Gaming (Holo-Foil)`
        _ if has_year(core) && core.split(' ').any(|w| matches!(w, "Legends" | "Challengers" | "Contenders")) => {
            ItemKind::Capsule
        }
        _ => return None,
    };
    Some(kind)
}

/// `s` without its last space-separated word when `drop` says so.
fn strip_suffix_word(s: &str, drop: impl Fn(&str) -> bool) -> &str {
    match s.rsplit_once(' ') {
        Some((head, last)) if !last.is_empty() && drop(last) => head.trim_end(),
        _ => s,
    }
}

fn has_year(s: &str) -> bool {
    s.split(' ').any(|w| w.len() == 4 && w.starts_with("20") && w.bytes().all(|b| b.is_ascii_digit()))
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

fn analyse(s: &str) -> Result<Parts, MarketNameError> {
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

    let (mut kind, has_variant) = match (finish, kind_of_base(base_str)) {
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

    if kind.is_none() {
        let finish_text = finish.and_then(|f| s.get(f.start..f.end));
        kind = Some(if wear.is_some() {
            ItemKind::Weapon
        } else if finish_text.is_some_and(|f| AGENT_FACTIONS.contains(&f)) {
            ItemKind::Agent
        } else {
            ItemKind::Other
        });
    }
    // ★ means knife or gloves, even for a type this list does not know yet.
    let kind = match kind {
        Some(k @ (ItemKind::Knife | ItemKind::Gloves)) => k,
        _ if star && (base_str.ends_with("Gloves") || base_str.ends_with("Wraps")) => ItemKind::Gloves,
        _ if star => ItemKind::Knife,
        Some(k) => k,
        None => ItemKind::Other,
    };

    Ok(Parts { kind, wear, stattrak, souvenir, star, base, finish, variant, extra })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> MarketName {
        parse(s).unwrap_or_else(|e| panic!("{s:?} failed: {e}"))
    }

    /// name, kind, base, finish, wear, stattrak, souvenir, star
    type Row = (&'static str, ItemKind, &'static str, Option<&'static str>, Option<Wear>, bool, bool, bool);

    #[test]
    fn a_hand_written_sample_of_every_form_is_classified() {
        use ItemKind::*;
        use Wear::*;
        #[rustfmt::skip]
        let rows: &[Row] = &[
            ("AK-47 | Redline (Field-Tested)", Weapon, "AK-47", Some("Redline"), Some(FieldTested), false, false, false),
            ("StatTrak™ AWP | Asiimov (Battle-Scarred)", Weapon, "AWP", Some("Asiimov"), Some(BattleScarred), true, false, false),
            ("Souvenir M4A1-S | Knight (Factory New)", Weapon, "M4A1-S", Some("Knight"), Some(FactoryNew), false, true, false),
            ("M4A4 | 龍王 (Dragon King) (Well-Worn)", Weapon, "M4A4", Some("龍王 (Dragon King)"), Some(WellWorn), false, false, false),
            ("Zeus x27 | Olympus (Minimal Wear)", Weapon, "Zeus x27", Some("Olympus"), Some(MinimalWear), false, false, false),
            ("Desert Eagle", Weapon, "Desert Eagle", None, None, false, false, false),
            ("★ Karambit | Doppler (Factory New)", Knife, "Karambit", Some("Doppler"), Some(FactoryNew), false, false, true),
            ("★ StatTrak™ Butterfly Knife", Knife, "Butterfly Knife", None, None, true, false, true),
            ("★ Karambit", Knife, "Karambit", None, None, false, false, true),
            ("Karambit", Knife, "Karambit", None, None, false, false, false),
            ("★ Karambit | Gamma Doppler Emerald (Factory New)", Knife, "Karambit", Some("Gamma Doppler Emerald"), Some(FactoryNew), false, false, true),
            ("★ StatTrak™ M9 Bayonet | Tiger Tooth (Minimal Wear)", Knife, "M9 Bayonet", Some("Tiger Tooth"), Some(MinimalWear), true, false, true),
            ("★ Shadow Daggers | Slaughter (Factory New)", Knife, "Shadow Daggers", Some("Slaughter"), Some(FactoryNew), false, false, true),
            ("★ Sport Gloves | Vice (Minimal Wear)", Gloves, "Sport Gloves", Some("Vice"), Some(MinimalWear), false, false, true),
            ("★ Hand Wraps | Cobalt Skulls (Battle-Scarred)", Gloves, "Hand Wraps", Some("Cobalt Skulls"), Some(BattleScarred), false, false, true),
            ("★ Future Gloves | New (Field-Tested)", Gloves, "Future Gloves", Some("New"), Some(FieldTested), false, false, true),
            ("★ Future Blade | New (Field-Tested)", Knife, "Future Blade", Some("New"), Some(FieldTested), false, false, true),
            ("Sticker | Titan (Holo) | Katowice 2014", Sticker, "Sticker", Some("Titan"), None, false, false, false),
            ("Sticker | niko (Foil)  | London 2018", Sticker, "Sticker", Some("niko"), None, false, false, false),
            ("Sticker | Adeptus Titanicus 1", Sticker, "Sticker", Some("Adeptus Titanicus 1"), None, false, false, false),
            ("Sticker Slab | Last Vance (Gold)", Charm, "Sticker Slab", Some("Last Vance"), None, false, false, false),
            ("Patch | Metal The Global Elite ★", Patch, "Patch", Some("Metal The Global Elite ★"), None, false, false, false),
            ("Patch | Astralis (Gold) | Stockholm 2021", Patch, "Patch", Some("Astralis"), None, false, false, false),
            ("Charm | Lil' Squirt", Charm, "Charm", Some("Lil' Squirt"), None, false, false, false),
            ("Souvenir Charm | Austin 2025 Highlight | Forgot About Me?", Charm, "Charm", Some("Austin 2025 Highlight"), None, false, true, false),
            ("Sealed Graffiti | Recoil MP7 (Cash Green)", Graffiti, "Sealed Graffiti", Some("Recoil MP7"), None, false, false, false),
            ("Music Kit | Sam Marshall, Clutch", MusicKit, "Music Kit", Some("Sam Marshall, Clutch"), None, false, false, false),
            ("StatTrak™ Music Kit | Perfect World, 花脸 Hua Lian (Painted Face)", MusicKit, "Music Kit", Some("Perfect World, 花脸 Hua Lian (Painted Face)"), None, true, false, false),
            ("Music Kit |", MusicKit, "Music Kit", None, None, false, false, false),
            ("Operation Bravo Case", Case, "Operation Bravo Case", None, None, false, false, false),
            ("CS:GO Weapon Case 2", Case, "CS:GO Weapon Case 2", None, None, false, false, false),
            ("Sticker Capsule 2", Capsule, "Sticker Capsule 2", None, None, false, false, false),
            ("Collectible Pins Capsule Series 1", Capsule, "Collectible Pins Capsule Series 1", None, None, false, false, false),
            ("Atlanta 2017 Legends (Holo-Foil)", Capsule, "Atlanta 2017 Legends (Holo-Foil)", None, None, false, false, false),
            ("Autograph Capsule | Group B (Foil) | Cologne 2015", Capsule, "Autograph Capsule", Some("Group B"), None, false, false, false),
            ("StatTrak™ Masterminds Music Kit Box", Capsule, "Masterminds Music Kit Box", None, None, true, false, false),
            ("Half-Life: Alyx Patch Pack", Capsule, "Half-Life: Alyx Patch Pack", None, None, false, false, false),
            ("Antwerp 2022 Dust II Souvenir Package", Package, "Antwerp 2022 Dust II Souvenir Package", None, None, false, false, false),
            ("Chroma 2 Case Key", Key, "Chroma 2 Case Key", None, None, false, false, false),
            ("Paris 2023 Viewer Pass + 3 Souvenir Tokens", Pass, "Paris 2023 Viewer Pass + 3 Souvenir Tokens", None, None, false, false, false),
            ("Operation Broken Fang Premium Pass", Pass, "Operation Broken Fang Premium Pass", None, None, false, false, false),
            ("Sir Bloody Miami Darryl | The Professionals", Agent, "Sir Bloody Miami Darryl", Some("The Professionals"), None, false, false, false),
            ("Ground Rebel  | Elite Crew", Agent, "Ground Rebel", Some("Elite Crew"), None, false, false, false),
            ("Aces High Pin", Pin, "Aces High Pin", None, None, false, false, false),
            ("Name Tag", Tool, "Name Tag", None, None, false, false, false),
            ("StatTrak™ Swap Tool", Tool, "StatTrak™ Swap Tool", None, None, false, false, false),
            ("Pallet of Presents", Other, "Pallet of Presents", None, None, false, false, false),
            ("Inscribed Arcana of the Eldwurm", Other, "Inscribed Arcana of the Eldwurm", None, None, false, false, false),
            ("Genuine Cold Case Bow", Other, "Genuine Cold Case Bow", None, None, false, false, false),
            ("Diretide Treasure Key", Key, "Diretide Treasure Key", None, None, false, false, false),
            ("Souvenir", Other, "Souvenir", None, None, false, false, false),
        ];
        for &(name, kind, base, finish, wear, stattrak, souvenir, star) in rows {
            let n = p(name);
            assert_eq!(
                (n.kind(), n.base(), n.finish(), n.wear(), n.stattrak(), n.souvenir(), n.star()),
                (kind, base, finish, wear, stattrak, souvenir, star),
                "{name}"
            );
            assert_eq!(n.as_str(), name, "the name is kept as given");
        }
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

    #[test]
    fn wear_parses_short_and_long_forms_in_any_case() {
        for w in Wear::ALL {
            assert_eq!(w.short().parse::<Wear>(), Ok(w));
            assert_eq!(w.short().to_lowercase().parse::<Wear>(), Ok(w));
            assert_eq!(w.as_str().parse::<Wear>(), Ok(w));
            assert_eq!(w.as_str().to_uppercase().parse::<Wear>(), Ok(w));
            assert_eq!(w.to_string(), w.as_str());
        }
        assert_eq!("field tested".parse::<Wear>(), Ok(Wear::FieldTested));
        assert_eq!("battle_scarred".parse::<Wear>(), Ok(Wear::BattleScarred));
        let err = "XX".parse::<Wear>().unwrap_err().to_string();
        assert!(err.contains("`XX`") && err.contains("FN"), "{err}");
        assert!(Wear::FactoryNew < Wear::BattleScarred);
    }

    #[test]
    fn wear_and_kind_round_trip_through_serde() {
        #[derive(Debug, Deserialize, Serialize)]
        struct W {
            w: Vec<Wear>,
            k: Vec<ItemKind>,
        }
        let w: W = toml::from_str(
            r#"w = ["FN", "minimal wear", "Field-Tested"]
k = ["knife", "Music Kit", "gloves"]"#,
        )
        .unwrap();
        assert_eq!(w.w, [Wear::FactoryNew, Wear::MinimalWear, Wear::FieldTested]);
        assert_eq!(w.k, [ItemKind::Knife, ItemKind::MusicKit, ItemKind::Gloves]);
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(json, r#"{"w":["Factory New","Minimal Wear","Field-Tested"],"k":["knife","music_kit","gloves"]}"#);
        assert!(toml::from_str::<W>("w = [\"XX\"]\nk = []").unwrap_err().to_string().contains("not a wear"));
        for k in ItemKind::ALL {
            assert_eq!(k.as_str().parse::<ItemKind>(), Ok(k));
        }
        assert!("knive".parse::<ItemKind>().is_err());
    }

    #[test]
    fn market_name_serializes_as_its_text() {
        let n = p("★ Karambit | Doppler (Factory New)");
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, r#""★ Karambit | Doppler (Factory New)""#);
        let back: MarketName = serde_json::from_str(&json).unwrap();
        assert_eq!(back, n);
        assert!(serde_json::from_str::<MarketName>(r#""""#).is_err());
        assert_eq!(MarketName::try_from(String::from("Name Tag")).unwrap().kind(), ItemKind::Tool);
    }
}
