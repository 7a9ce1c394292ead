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
//!
//! The code follows the parts of that job: `grammar` reads a name into its parts, `kinds` decides the
//! kind, and `vocabulary` holds the item lists that change with game updates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use grammar::{Parts, Span};
pub use vocabulary::{GLOVES, KNIVES};

mod grammar;
mod kinds;
mod vocabulary;

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
        let parts = grammar::analyse(name)?;
        Ok(Self::assemble(name.to_string(), parts))
    }

    /// Parses a name it takes ownership of (no copy); on failure the name comes back with the error.
    pub(crate) fn parse_owned(name: String) -> Result<Self, (String, MarketNameError)> {
        match grammar::analyse(&name) {
            Ok(parts) => Ok(Self::assemble(name, parts)),
            Err(e) => Err((name, e)),
        }
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
        let parts = grammar::analyse(&name)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> MarketName {
        parse(s).unwrap_or_else(|e| panic!("{s:?} failed: {e}"))
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
