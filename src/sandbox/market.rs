//! The listings on sale. One listing per unit; a per-name order book (a `BTreeSet` of price and id)
//! makes the grouped price list (lowest price, count) cheap even with hundreds of thousands of
//! listings, and a seeded random walk moves the market when the clock says so.

use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::{Decimal, RoundingStrategy};
use sha1::{Digest, Sha1};

use super::catalog::Catalog;
use super::config::MarketDynamics;
use crate::domain::{Game, ItemId, Usd};

const MIN_PRICE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

#[derive(Debug)]
struct NameEntry {
    name: String,
    game: Game,
    classid: String,
    /// Where new listings of this name are priced; moves with the random walk.
    reference: Decimal,
    book: BTreeSet<(Decimal, u64)>,
}

/// One listing as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListingView<'a> {
    pub id: ItemId,
    pub name: &'a str,
    pub game: Game,
    pub classid: &'a str,
    pub price: Usd,
}

/// A listing taken off the market by a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sold {
    pub id: ItemId,
    pub name: String,
    pub game: Game,
    pub classid: String,
    pub price: Usd,
}

/// The lowest price and count of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group<'a> {
    pub name: &'a str,
    pub classid: &'a str,
    pub price: Usd,
    pub count: usize,
}

#[derive(Debug)]
pub(crate) struct Market {
    names: Vec<NameEntry>,
    index: HashMap<(Game, String), usize>,
    by_game: HashMap<Game, Vec<usize>>,
    /// id → (name index, price)
    listings: HashMap<u64, (usize, Decimal)>,
    next_id: u64,
    last_update: u64,
    spread_bp: u32,
    rng: StdRng,
}

impl Market {
    pub fn new(catalog: &Catalog, seed: u64, spread_bp: u32, now_unix: u64) -> Market {
        let mut m = Market {
            names: Vec::new(),
            index: HashMap::new(),
            by_game: HashMap::new(),
            listings: HashMap::new(),
            next_id: 100_001,
            last_update: now_unix,
            spread_bp,
            rng: StdRng::seed_from_u64(seed ^ 0x6d61_726b_6574),
        };
        for e in &catalog.entries {
            let idx = m.name_index(&e.name, e.game, e.price.amount(), e.classid.clone());
            for unit in 0..e.count {
                // The first unit sits exactly at the catalog price, so the grouped list starts there.
                let price = if unit == 0 { e.price.amount() } else { m.spread_above(e.price.amount()) };
                m.insert(idx, price);
            }
        }
        m
    }

    fn name_index(&mut self, name: &str, game: Game, reference: Decimal, classid: Option<String>) -> usize {
        if let Some(i) = self.index.get(&(game, name.to_string())) {
            return *i;
        }
        let idx = self.names.len();
        let classid = classid.unwrap_or_else(|| derived_classid(game, name));
        self.names.push(NameEntry { name: name.to_string(), game, classid, reference, book: BTreeSet::new() });
        self.index.insert((game, name.to_string()), idx);
        self.by_game.entry(game).or_default().push(idx);
        idx
    }

    fn insert(&mut self, idx: usize, price: Decimal) -> ItemId {
        let id = self.next_id;
        self.next_id += 1;
        self.listings.insert(id, (idx, price));
        self.names[idx].book.insert((price, id));
        ItemId::new(id)
    }

    fn spread_above(&mut self, base: Decimal) -> Decimal {
        let bp = self.rng.random_range(0..=self.spread_bp);
        round_price(base * (Decimal::ONE + Decimal::new(i64::from(bp), 4)))
    }

    pub fn last_update(&self) -> u64 {
        self.last_update
    }

    pub(crate) fn touch(&mut self, now_unix: u64) {
        self.last_update = self.last_update.max(now_unix);
    }

    pub(crate) fn listing_count(&self) -> usize {
        self.listings.len()
    }

    /// Adds one listing (a new name is created on the fly).
    pub fn add_listing(&mut self, name: &str, game: Game, price: Usd, now_unix: u64) -> ItemId {
        let price = round_price(price.amount());
        let idx = self.name_index(name, game, price, None);
        self.touch(now_unix);
        self.insert(idx, price)
    }

    /// Names of `game` that have listings, in catalog order, with lowest price and count.
    pub(crate) fn groups(&self, game: Game) -> impl Iterator<Item = Group<'_>> {
        self.by_game.get(&game).into_iter().flatten().filter_map(move |&i| {
            let n = &self.names[i];
            n.book.first().map(|(p, _)| Group {
                name: &n.name,
                classid: &n.classid,
                price: Usd::new(*p),
                count: n.book.len(),
            })
        })
    }

    /// Every listing of `game`, grouped by name, cheapest first within a name.
    pub fn all(&self, game: Game) -> impl Iterator<Item = ListingView<'_>> {
        self.by_game.get(&game).into_iter().flatten().flat_map(move |&i| self.book_of(i))
    }

    fn book_of(&self, i: usize) -> impl Iterator<Item = ListingView<'_>> {
        let n = &self.names[i];
        n.book.iter().map(move |(p, id)| ListingView {
            id: ItemId::new(*id),
            name: &n.name,
            game: n.game,
            classid: &n.classid,
            price: Usd::new(*p),
        })
    }

    /// Listings of one exact name, cheapest first.
    pub(crate) fn named(&self, game: Game, name: &str) -> Vec<ListingView<'_>> {
        match self.index.get(&(game, name.to_string())) {
            Some(&i) => self.book_of(i).collect(),
            None => Vec::new(),
        }
    }

    /// Listings of that name in any game, cheapest first.
    pub(crate) fn named_any_game(&self, name: &str) -> Vec<(ItemId, Usd)> {
        let mut out: Vec<(ItemId, Usd)> =
            Game::ALL.iter().flat_map(|g| self.named(*g, name)).map(|l| (l.id, l.price)).collect();
        out.sort_by_key(|(id, p)| (*p, *id));
        out
    }

    /// Listings whose name contains `query` (ASCII case-insensitive), at most `cap` of them.
    pub fn search(&self, game: Game, query: &str, cap: usize) -> Vec<ListingView<'_>> {
        let q = query.to_lowercase();
        self.by_game
            .get(&game)
            .into_iter()
            .flatten()
            .filter(|&&i| self.names[i].name.to_lowercase().contains(&q))
            .flat_map(|&i| self.book_of(i))
            .take(cap)
            .collect()
    }

    pub fn get(&self, id: ItemId) -> Option<ListingView<'_>> {
        let (idx, price) = self.listings.get(&id.get())?;
        let n = &self.names[*idx];
        Some(ListingView { id, name: &n.name, game: n.game, classid: &n.classid, price: Usd::new(*price) })
    }

    /// Takes a listing off the market.
    pub fn remove(&mut self, id: ItemId, now_unix: u64) -> Option<Sold> {
        let (idx, price) = self.listings.remove(&id.get())?;
        let n = &mut self.names[idx];
        n.book.remove(&(price, id.get()));
        let sold = Sold { id, name: n.name.clone(), game: n.game, classid: n.classid.clone(), price: Usd::new(price) };
        self.touch(now_unix);
        Some(sold)
    }

    /// One market step: prices drift, other buyers take listings, sellers add new ones.
    pub fn step(&mut self, dynamics: &MarketDynamics, now_unix: u64) {
        if self.names.is_empty() {
            return;
        }
        let mut changed = false;
        for _ in 0..dynamics.drifts_per_step {
            let i = self.rng.random_range(0..self.names.len());
            let bp = i64::from(dynamics.max_drift_bp);
            let factor = Decimal::ONE + Decimal::new(self.rng.random_range(-bp..=bp), 4);
            let n = &mut self.names[i];
            n.reference = (n.reference * factor).round_dp(4).max(MIN_PRICE);
            let old: Vec<(Decimal, u64)> = std::mem::take(&mut n.book).into_iter().collect();
            for (p, id) in old {
                let np = round_price(p * factor);
                n.book.insert((np, id));
                self.listings.insert(id, (i, np));
            }
            changed = true;
        }
        for _ in 0..dynamics.sales_per_step {
            // A few tries to find a name that still has listings; a sold-out market just stays so.
            for _ in 0..8 {
                let i = self.rng.random_range(0..self.names.len());
                if let Some((p, id)) = self.names[i].book.pop_first() {
                    let _ = p;
                    self.listings.remove(&id);
                    changed = true;
                    break;
                }
            }
        }
        for _ in 0..dynamics.listings_per_step {
            let i = self.rng.random_range(0..self.names.len());
            let price = self.spread_above(self.names[i].reference);
            self.insert(i, price);
            changed = true;
        }
        if changed {
            self.touch(now_unix);
        }
    }
}

fn round_price(p: Decimal) -> Decimal {
    p.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero).max(MIN_PRICE)
}

/// A stable nine-digit class id per game and name (Steam's are opaque numbers too).
fn derived_classid(game: Game, name: &str) -> String {
    let mut h = Sha1::new();
    h.update(game.as_str().as_bytes());
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (100_000_000 + u64::from_le_bytes(b) % 900_000_000).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::catalog::Format;

    fn market() -> Market {
        let c = Catalog::parse(
            "{\"name\":\"A Case\",\"price\":\"1.00\",\"count\":3}\n{\"name\":\"B Knife\",\"price\":\"100\",\"count\":2,\"game\":\"dota2\"}\n",
            Format::JsonLines,
        )
        .expect("parses");
        Market::new(&c, 7, 1500, 1_700_000_000)
    }

    #[test]
    fn groups_show_lowest_price_and_count_per_game() {
        let m = market();
        let g: Vec<_> = m.groups(Game::Cs2).collect();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].price.wire(), "1.00");
        assert_eq!(g[0].count, 3);
        assert_eq!(m.all(Game::Dota2).count(), 2);
        assert!(m.all(Game::Dota2).all(|l| l.price.amount() <= Decimal::new(115, 0)));
    }

    #[test]
    fn removing_updates_the_book() {
        let mut m = market();
        let cheapest = m.named(Game::Cs2, "A Case")[0].id;
        let sold = m.remove(cheapest, 1_700_000_100).expect("listed");
        assert_eq!(sold.name, "A Case");
        assert!(m.get(cheapest).is_none());
        assert_eq!(m.groups(Game::Cs2).next().map(|g| g.count), Some(2));
        assert_eq!(m.last_update(), 1_700_000_100);
    }

    #[test]
    fn steps_are_reproducible_with_a_seed() {
        let d = MarketDynamics::default();
        let (mut a, mut b) = (market(), market());
        for t in 0..20 {
            a.step(&d, 1_700_000_000 + t);
            b.step(&d, 1_700_000_000 + t);
        }
        let pa: Vec<_> = a.all(Game::Cs2).map(|l| (l.id, l.price)).collect();
        let pb: Vec<_> = b.all(Game::Cs2).map(|l| (l.id, l.price)).collect();
        assert_eq!(pa, pb);
    }
}
