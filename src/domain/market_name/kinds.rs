//! The kind classification: which [`ItemKind`] the parts of a name make, from the item type before the
//! first `|`, the last words of a name without one, the wear, the faction and the ★.

use super::vocabulary::{
    AGENT_FACTIONS, CAPSULE_BOXES, CAPSULE_BOX_ENDINGS, CAPSULE_PACK_ENDINGS, CAPSULE_VARIANTS, GLOVES, GLOVE_ENDINGS,
    KNIVES, LAST_WORDS, TOOLS, TOURNAMENT_STAGES, TYPED_BASES, WEAPONS,
};
use super::ItemKind;

/// The kind an item type before the first `|` announces, and whether a trailing `(…)` on the finish is a
/// variant (see [`TYPED_BASES`]).
pub(super) fn kind_of_base(base: &str) -> Option<(ItemKind, bool)> {
    if let Some(&(_, kind, has_variant)) = TYPED_BASES.iter().find(|(b, ..)| *b == base) {
        return Some((kind, has_variant));
    }
    let kind = if KNIVES.contains(&base) {
        ItemKind::Knife
    } else if GLOVES.contains(&base) {
        ItemKind::Gloves
    } else if WEAPONS.contains(&base) {
        ItemKind::Weapon
    } else {
        return None;
    };
    Some((kind, false))
}

/// Names without `|` that are not weapons: containers, keys, passes, pins, tools. Judged by the last
/// word(s), so that a Dota 2 item like `Cold Case Bow` stays [`ItemKind::Other`].
pub(super) fn kind_of_whole_name(name: &str) -> Option<ItemKind> {
    if TOOLS.contains(&name) {
        return Some(ItemKind::Tool);
    }
    // `Atlanta 2017 Legends (Holo-Foil)`, `CS:GO Weapon Case 2`, `Collectible Pins Capsule Series 1`.
    let core = strip_suffix_word(name, |w| CAPSULE_VARIANTS.contains(&w));
    let core = strip_suffix_word(core, |w| w.bytes().all(|b| b.is_ascii_digit()));
    let core = strip_suffix_word(core, |w| w == "Series");
    let last = core.rsplit(' ').next().unwrap_or(core);
    if let Some(&(_, kind)) = LAST_WORDS.iter().find(|(w, _)| *w == last) {
        return Some(kind);
    }
    let kind = match last {
        "Tokens" if core.contains(" Pass ") => ItemKind::Pass,
        "Box" if CAPSULE_BOX_ENDINGS.iter().any(|e| core.ends_with(e)) || CAPSULE_BOXES.contains(&core) => {
            ItemKind::Capsule
        }
        "Pack" if CAPSULE_PACK_ENDINGS.iter().any(|e| core.ends_with(e)) => ItemKind::Capsule,
        // Tournament sticker capsules: `2020 RMR Legends`, `EMS Katowice 2014 Challengers`.
        _ if TOURNAMENT_STAGES.contains(&last) && has_year(core) => ItemKind::Capsule,
        // `Boston 2018 Minor Challengers with Flash Gaming (Holo-Foil)`
        _ if has_year(core) && core.split(' ').any(|w| TOURNAMENT_STAGES.contains(&w)) => ItemKind::Capsule,
        _ => return None,
    };
    Some(kind)
}

/// The kind of a read name: what its item type or whole name announced; else a weapon when it has a wear,
/// an agent when its finish is a faction, other otherwise. ★ means knife or gloves, even for a type the
/// vocabulary does not know yet.
pub(super) fn settle_kind(
    announced: Option<ItemKind>,
    has_wear: bool,
    finish: Option<&str>,
    star: bool,
    base: &str,
) -> ItemKind {
    let kind = announced.unwrap_or_else(|| {
        if has_wear {
            ItemKind::Weapon
        } else if finish.is_some_and(|f| AGENT_FACTIONS.contains(&f)) {
            ItemKind::Agent
        } else {
            ItemKind::Other
        }
    });
    match kind {
        ItemKind::Knife | ItemKind::Gloves => kind,
        _ if star && GLOVE_ENDINGS.iter().any(|e| base.ends_with(e)) => ItemKind::Gloves,
        _ if star => ItemKind::Knife,
        _ => kind,
    }
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

#[cfg(test)]
mod tests {
    use crate::domain::market_name::{parse, ItemKind, MarketName, Wear};

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
}
