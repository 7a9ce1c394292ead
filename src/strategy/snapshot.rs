//! The market of one game at one instant: each name once (sorted, parsed), its listings cheapest first.

use chrono::{DateTime, Utc};

use crate::domain::listings::Row;
use crate::domain::{Game, ItemId, Listing, ListingTable, MarketName, Usd};

/// A name of the snapshot: parsed, or kept as text when the parser refuses it (an empty name or a
/// control character). Only parsed names can match a rule; the parser reads every real market name.
#[derive(Debug, Clone)]
pub(crate) enum Name {
    Parsed(MarketName),
    Unparsed(String),
}

impl Name {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Name::Parsed(p) => p.as_str(),
            Name::Unparsed(s) => s,
        }
    }

    pub(crate) fn parsed(&self) -> Option<&MarketName> {
        match self {
            Name::Parsed(p) => Some(p),
            Name::Unparsed(_) => None,
        }
    }
}

/// Every listing of one game at one instant, grouped by name.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub game: Game,
    pub taken_at: DateTime<Utc>,
    /// Sorted by text (byte order), each name once.
    names: Vec<Name>,
    /// The listings of `names[i]` are `rows[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    /// Per name, cheapest first (ties by listing id).
    rows: Vec<(ItemId, Usd)>,
}

impl Snapshot {
    pub fn new(game: Game, taken_at: DateTime<Utc>, listings: impl IntoIterator<Item = Listing>) -> Snapshot {
        match ListingTable::from_listings(listings) {
            Ok(table) => Snapshot::from_table(game, taken_at, table),
            // Past u32::MAX names nothing fits in memory anyway; an empty market decides nothing.
            Err(_) => Snapshot::from_table(game, taken_at, ListingTable::default()),
        }
    }

    /// Takes over a decoded table: names are moved, not copied.
    pub fn from_table(game: Game, taken_at: DateTime<Utc>, table: ListingTable) -> Snapshot {
        let (mut table_names, table_rows) = table.into_parts();
        let n = table_names.len();
        // Sorted order of the names, and each table index's place in it.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by(|&a, &b| table_names[a].cmp(&table_names[b]));
        let mut rank = vec![0usize; n];
        for (pos, &i) in order.iter().enumerate() {
            rank[i] = pos;
        }
        // Counting sort of the rows by name, then each name's few rows by price and id.
        let mut starts = vec![0usize; n + 1];
        for r in &table_rows {
            starts[rank[r.name as usize] + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut next: Vec<usize> = starts[..n].to_vec();
        let mut rows = vec![(ItemId::new(0), Usd::ZERO); table_rows.len()];
        for Row { name, id, price } in table_rows {
            let slot = &mut next[rank[name as usize]];
            rows[*slot] = (id, price);
            *slot += 1;
        }
        for w in starts.windows(2) {
            rows[w[0]..w[1]].sort_unstable_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        }
        let names = order
            .iter()
            .map(|&i| match MarketName::parse_owned(std::mem::take(&mut table_names[i])) {
                Ok(p) => Name::Parsed(p),
                Err((raw, _)) => Name::Unparsed(raw),
            })
            .collect();
        Snapshot { game, taken_at, names, starts, rows }
    }

    /// How many distinct names are listed.
    pub fn name_count(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn name(&self, i: usize) -> &Name {
        &self.names[i]
    }

    /// The listings of the `i`-th name, cheapest first.
    pub(crate) fn listings_at(&self, i: usize) -> &[(ItemId, Usd)] {
        &self.rows[self.starts[i]..self.starts[i + 1]]
    }

    /// Every name in byte order, with its listings cheapest first.
    pub fn by_name(&self) -> impl Iterator<Item = (&str, &[(ItemId, Usd)])> {
        (0..self.names.len()).map(|i| (self.names[i].as_str(), self.listings_at(i)))
    }

    /// The listings of `name`, cheapest first (empty when it is not listed).
    #[cfg(test)]
    pub(crate) fn listings_of(&self, name: &str) -> &[(ItemId, Usd)] {
        match self.names.binary_search_by(|n| n.as_str().cmp(name)) {
            Ok(i) => self.listings_at(i),
            Err(_) => &[],
        }
    }

    /// The lowest price of each name.
    pub(crate) fn lowest_prices(&self) -> impl Iterator<Item = (&str, Usd)> {
        self.by_name().filter_map(|(n, l)| l.first().map(|(_, p)| (n, *p)))
    }

    pub fn listing_count(&self) -> usize {
        self.rows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_once_and_listings_cheapest_first() {
        let l = |id: u64, name: &str, price: &str| Listing {
            id: ItemId::new(id),
            name: name.into(),
            price: Usd::parse(price).unwrap(),
        };
        let s = Snapshot::new(
            Game::Cs2,
            Utc::now(),
            [l(5, "B", "2"), l(1, "A", "3"), l(3, "B", "1"), l(2, "B", "2"), l(9, "", "1")],
        );
        let names: Vec<&str> = s.by_name().map(|(n, _)| n).collect();
        assert_eq!(names, ["", "A", "B"]);
        let ids: Vec<u64> = s.listings_of("B").iter().map(|(id, _)| id.get()).collect();
        assert_eq!(ids, [3, 2, 5], "by price, then id");
        assert!(s.name(0).parsed().is_none(), "an empty name is kept but never parsed");
        assert_eq!(s.listing_count(), 5);
        assert_eq!(s.lowest_prices().count(), 3);
        assert!(s.listings_of("C").is_empty());
    }
}
