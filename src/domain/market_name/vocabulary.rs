//! The item vocabulary of market names: the lists that change when a game update adds a knife, a glove
//! type, a gun, an agent faction, a container or a tool. The grammar and the kind classification only read
//! them, so a game update touches this file alone.

use super::ItemKind;

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
pub(super) const WEAPONS: [&str; 35] = [
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
pub(super) const AGENT_FACTIONS: [&str; 20] = [
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

/// How a ★ item type unknown to [`GLOVES`] still shows it is gloves: its last word.
pub(super) const GLOVE_ENDINGS: [&str; 2] = ["Gloves", "Wraps"];

/// Item types written before the first `|` that announce the kind, and whether a trailing `(…)` on the
/// finish is a variant (`Sticker | Titan (Holo)`) rather than part of the name
/// (`Music Kit | …, 花脸 Hua Lian (Painted Face)`).
pub(super) const TYPED_BASES: [(&str, ItemKind, bool); 8] = [
    ("Sticker", ItemKind::Sticker, true),
    ("Sticker Slab", ItemKind::Charm, true),
    ("Patch", ItemKind::Patch, true),
    ("Charm", ItemKind::Charm, false),
    ("Sealed Graffiti", ItemKind::Graffiti, true),
    ("Graffiti", ItemKind::Graffiti, true),
    ("Music Kit", ItemKind::MusicKit, false),
    ("Autograph Capsule", ItemKind::Capsule, true),
];

/// Tools, by their whole name.
pub(super) const TOOLS: [&str; 3] = ["Name Tag", "StatTrak™ Swap Tool", "Storage Unit"];

/// The last word of a name without `|` that says what the item is (`Chroma 2 Case Key`,
/// `Operation Bravo Case`, `Sticker Capsule 2`, `Aces High Pin`).
pub(super) const LAST_WORDS: [(&str, ItemKind); 7] = [
    ("Key", ItemKind::Key),
    ("Package", ItemKind::Package),
    ("Pass", ItemKind::Pass),
    ("Case", ItemKind::Case),
    ("Capsule", ItemKind::Capsule),
    ("Terminal", ItemKind::Capsule),
    ("Pin", ItemKind::Pin),
];

/// Boxes that are capsules, by how the name ends (`StatTrak™ Masterminds Music Kit Box`) …
pub(super) const CAPSULE_BOX_ENDINGS: [&str; 2] = ["Music Kit Box", "Graffiti Box"];

/// … or by the whole name.
pub(super) const CAPSULE_BOXES: [&str; 1] = ["Radicals Box"];

/// Packs that are capsules, by how the name ends (`Half-Life: Alyx Patch Pack`).
pub(super) const CAPSULE_PACK_ENDINGS: [&str; 1] = ["Patch Pack"];

/// The stages a tournament sticker capsule is named after (`2020 RMR Legends`, `EMS Katowice 2014 Challengers`).
pub(super) const TOURNAMENT_STAGES: [&str; 3] = ["Legends", "Challengers", "Contenders"];

/// Variants a tournament capsule's name may end with (`Atlanta 2017 Legends (Holo-Foil)`).
pub(super) const CAPSULE_VARIANTS: [&str; 2] = ["(Foil)", "(Holo-Foil)"];
