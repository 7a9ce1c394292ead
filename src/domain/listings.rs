//! A whole price list as one table: every listing, each market name stored once.
//!
//! A full CS2 price list has about 220k listings of 34k names; holding a `String` per listing would
//! allocate and keep six copies of each name. The exchange decodes straight into this table, and the
//! snapshot is built from it without copying a name.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::{ItemId, Listing, Usd};

/// One listing: its name as an index into [`ListingTable::names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub name: u32,
    pub id: ItemId,
    pub price: Usd,
}

/// Listings in the order received, names interned.
#[derive(Debug, Clone, Default)]
pub struct ListingTable {
    names: Vec<String>,
    rows: Vec<Row>,
}

impl ListingTable {
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The names and the rows, for a snapshot that takes them over.
    pub(crate) fn into_parts(self) -> (Vec<String>, Vec<Row>) {
        (self.names, self.rows)
    }

    /// Every listing with its own copy of its name (tests and callers that want plain listings).
    #[cfg(test)]
    pub(crate) fn to_listings(&self) -> Vec<Listing> {
        self.rows
            .iter()
            .map(|r| Listing { id: r.id, name: self.names[r.name as usize].clone(), price: r.price })
            .collect()
    }
}

/// Builds a [`ListingTable`], looking each name up in a hash table of indices into the name list.
///
/// Names come from the exchange, so the hasher has a per-process random seed (foldhash's
/// `RandomState`): a list crafted to collide cannot be prepared in advance.
pub struct TableBuilder {
    table: ListingTable,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Default for TableBuilder {
    fn default() -> Self {
        TableBuilder::new()
    }
}

impl TableBuilder {
    pub fn new() -> Self {
        TableBuilder { table: ListingTable::default(), index: HashTable::new(), hasher: Default::default() }
    }

    /// One listing; `name` is copied only the first time it is seen.
    pub fn push(&mut self, id: ItemId, name: &str, price: Usd) -> Result<(), TooManyNames> {
        let hash = self.hasher.hash_one(name);
        let idx = match self.index.find(hash, |&i| self.table.names[i as usize] == name) {
            Some(&i) => i,
            None => self.insert_new(hash, name.to_string())?,
        };
        self.table.rows.push(Row { name: idx, id, price });
        Ok(())
    }

    /// One listing whose name is already owned: kept the first time, dropped after.
    pub(crate) fn push_owned(&mut self, id: ItemId, name: String, price: Usd) -> Result<(), TooManyNames> {
        let hash = self.hasher.hash_one(name.as_str());
        let idx = match self.index.find(hash, |&i| self.table.names[i as usize] == name) {
            Some(&i) => i,
            None => self.insert_new(hash, name)?,
        };
        self.table.rows.push(Row { name: idx, id, price });
        Ok(())
    }

    fn insert_new(&mut self, hash: u64, name: String) -> Result<u32, TooManyNames> {
        let names = &mut self.table.names;
        let i = u32::try_from(names.len()).map_err(|_| TooManyNames)?;
        names.push(name);
        let hasher = &self.hasher;
        self.index.insert_unique(hash, i, |&j| hasher.hash_one(names[j as usize].as_str()));
        Ok(i)
    }

    pub fn finish(self) -> ListingTable {
        self.table
    }
}

/// Name indices are `u32`: four billion distinct names is far beyond any market (34k for CS2), so
/// a list with more is not a price list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than 4294967295 distinct market names in one price list")]
pub struct TooManyNames;

impl ListingTable {
    /// A table of plain listings (tests, callers that have them); fails only past `u32::MAX` names.
    pub(crate) fn from_listings(listings: impl IntoIterator<Item = Listing>) -> Result<Self, TooManyNames> {
        let mut b = TableBuilder::new();
        for l in listings {
            b.push_owned(l.id, l.name, l.price)?;
        }
        Ok(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_is_stored_once_and_rows_keep_their_order() {
        let p = |s| Usd::parse(s).unwrap();
        let mut b = TableBuilder::new();
        b.push(ItemId::new(1), "A", p("1")).unwrap();
        b.push_owned(ItemId::new(2), "B".into(), p("2")).unwrap();
        b.push(ItemId::new(3), "A", p("3")).unwrap();
        b.push_owned(ItemId::new(4), "A".into(), p("4")).unwrap();
        let t = b.finish();
        assert_eq!(t.names(), ["A", "B"]);
        let names: Vec<u32> = t.rows().iter().map(|r| r.name).collect();
        assert_eq!(names, [0, 1, 0, 0]);
        assert_eq!(t.to_listings()[3], Listing { id: ItemId::new(4), name: "A".into(), price: p("4") });
    }
}
