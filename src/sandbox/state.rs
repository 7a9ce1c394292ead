//! Everything the sandbox knows, behind one lock: the project's money, the market, the purchases and
//! their scheduled offer transitions, the faults and the request log. Handlers take the lock, do
//! their whole method synchronously and let go, so a buy is atomic (debit, listing gone, purchase
//! recorded, events emitted) as it is on a real exchange.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::Serialize;

use super::config::{MarketDynamics, OfferConfig, SandboxConfig};
use super::error::{self, ApiError};
use super::events::{Event, Hub};
use super::faults::{FaultKind, Faults, Probability, RateLimiter};
use super::market::Market;
use super::purchase::SandboxPurchase;
use crate::domain::{BuyId, Game, ItemId, OfferStatus, TradeLink, Usd};

/// SteamID64 of account id 0; a trade URL's `partner` is the offset from it.
const STEAMID64_BASE: u64 = 76_561_197_960_265_728;

/// Most market steps one catch-up simulates; a longer jump fast-forwards the rest.
const MAX_STEPS_PER_CATCH_UP: u32 = 10_000;

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    Success,
    ApiError {
        code: i32,
        message: String,
    },
    /// An HTTP-level answer without the JSON envelope (faults, non-API paths).
    Http {
        status: u16,
    },
    /// No answer within the hang time.
    Hung,
    /// Connection closed without an answer.
    Dropped,
}

/// One request as the sandbox saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    /// Sandbox time, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The HTTP verb.
    pub http_method: String,
    /// The `method` parameter exactly as sent (absent when the body had none).
    pub method: Option<String>,
    /// Every scalar parameter except `sign`, in the order received.
    pub params: Vec<(String, String)>,
    pub header_auth: bool,
    pub outcome: Outcome,
    pub faults: Vec<FaultKind>,
}

/// A `max_price` as sent: absent, a ceiling, or text that is not a number (nothing qualifies, as
/// PHP's `(float)"abc"` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ceiling {
    None,
    At(Decimal),
}

impl Ceiling {
    pub fn parse(text: Option<&str>) -> Ceiling {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ceiling::None,
            Some(t) => Ceiling::At(crate::domain::money::parse_decimal(t).unwrap_or(Decimal::NEGATIVE_ONE)),
        }
    }

    fn allows(self, price: Usd) -> bool {
        match self {
            Ceiling::None => true,
            Ceiling::At(max) => price.amount() <= max,
        }
    }
}

/// What every buy of one request shares: the trade link it goes to, when it is processed, and
/// what an over-debit fault adds to each debit (zero without the fault).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Terms<'a> {
    /// `partner`, `token`.
    pub link: (&'a str, &'a str),
    pub now: Duration,
    pub over_debit: Usd,
}

#[derive(Debug)]
pub(crate) struct State {
    pub shop_id: String,
    pub secret: String,
    pub batch_max: usize,
    pub history_page: usize,
    pub offers: OfferConfig,
    pub dynamics: MarketDynamics,
    pub faults: Faults,
    pub limiter: RateLimiter,
    /// Draws which request a fractional fault hits (separate stream: faults never change outcomes).
    pub fault_rng: StdRng,
    pub ws_ping_reply: Option<String>,
    pub ws_idle_timeout: Option<Duration>,
    pub market: Market,
    offer_rng: StdRng,
    balance: Decimal,
    /// Money credited to the project (start balance, top-ups); `balance = deals - withdrawals`.
    deals_sum: Decimal,
    /// Money spent on purchases, net of refunds.
    withdraw_sum: Decimal,
    purchases: Vec<SandboxPurchase>,
    by_buy_id: HashMap<u64, usize>,
    by_custom_id: HashMap<String, usize>,
    next_buy_id: u64,
    next_tradeofferid: u64,
    /// Offer transitions due, keyed by (sandbox time, insertion order) so equal times keep order.
    schedule: BTreeMap<(Duration, u64), (usize, OfferStatus)>,
    schedule_seq: u64,
    next_market_step: Option<Duration>,
    requests: VecDeque<RequestRecord>,
    request_seq: u64,
    request_log_cap: usize,
    pub hub: Hub,
}

impl State {
    pub fn new(config: &SandboxConfig, now: Duration, hub: Hub) -> State {
        let market = Market::new(&config.catalog, config.seed, config.market.spread_bp, now.as_secs());
        let next_market_step = (!config.market.step.is_zero()).then(|| now.saturating_add(config.market.step));
        State {
            shop_id: config.shop_id.clone(),
            secret: config.secret.clone(),
            batch_max: config.batch_max,
            history_page: config.history_page.max(1),
            offers: config.offers.clone(),
            dynamics: config.market.clone(),
            faults: config.faults.clone(),
            limiter: RateLimiter::default(),
            fault_rng: StdRng::seed_from_u64(config.seed ^ 0x6661_756c_7473),
            ws_ping_reply: config.ws_ping_reply.clone(),
            ws_idle_timeout: config.ws_idle_timeout,
            market,
            offer_rng: StdRng::seed_from_u64(config.seed ^ 0x6f66_6665_7273),
            balance: config.balance.amount(),
            deals_sum: config.balance.amount(),
            withdraw_sum: Decimal::ZERO,
            purchases: Vec::new(),
            by_buy_id: HashMap::new(),
            by_custom_id: HashMap::new(),
            next_buy_id: 900_001,
            next_tradeofferid: 7_012_345_001,
            schedule: BTreeMap::new(),
            schedule_seq: 0,
            next_market_step,
            requests: VecDeque::new(),
            request_seq: 0,
            request_log_cap: config.request_log_cap.max(1),
            hub,
        }
    }

    // ---- money ----

    pub fn balance(&self) -> Usd {
        Usd::new(self.balance)
    }

    pub fn deals_sum(&self) -> Decimal {
        self.deals_sum
    }

    pub fn withdraw_sum(&self) -> Decimal {
        self.withdraw_sum
    }

    /// Sets the balance as a top-up (or withdrawal) of the project would: the difference counts as
    /// credited money, so `balance = deals_sum - withdraw_sum` keeps holding.
    pub fn set_balance(&mut self, to: Usd) {
        let diff = to.amount() - self.balance;
        self.balance = to.amount();
        self.deals_sum += diff;
        self.emit_balance();
    }

    fn emit_balance(&self) {
        self.hub.emit(Event::BalanceChange(self.balance));
    }

    // ---- purchases ----

    pub fn purchases(&self) -> &[SandboxPurchase] {
        &self.purchases
    }

    pub(crate) fn purchase_by_buy_id(&self, id: u64) -> Option<&SandboxPurchase> {
        self.by_buy_id.get(&id).map(|i| &self.purchases[*i])
    }

    pub(crate) fn purchase_by_custom_id(&self, id: &str) -> Option<&SandboxPurchase> {
        self.by_custom_id.get(id).map(|i| &self.purchases[*i])
    }

    pub(crate) fn purchase_at(&self, idx: usize) -> &SandboxPurchase {
        &self.purchases[idx]
    }

    pub(crate) fn custom_id_taken(&self, id: &str) -> bool {
        self.by_custom_id.contains_key(id)
    }

    /// Purchases dated within `[starting, ending]`, oldest first (purchases are appended in time
    /// order, so the position is a stable cursor).
    pub fn history(&self, starting: u64, ending: u64) -> Vec<&SandboxPurchase> {
        self.purchases.iter().filter(|p| p.date >= starting && p.date <= ending).collect()
    }

    /// `market_buy` by name: the cheapest listing of that name, if it is within the ceiling.
    pub(crate) fn buy_by_name(
        &mut self,
        game: Game,
        name: &str,
        ceiling: Ceiling,
        custom_id: Option<&str>,
        terms: &Terms<'_>,
    ) -> Result<usize, ApiError> {
        if custom_id.is_some_and(|c| self.custom_id_taken(c)) {
            return Err(error::CUSTOM_ID_EXISTS);
        }
        let cheapest = self.market.named(game, name).first().map(|l| (l.id, l.price));
        let Some((id, price)) = cheapest else {
            return Err(error::SKIN_UNAVAILABLE);
        };
        if !ceiling.allows(price) {
            return Err(error::NOT_AT_PRICE);
        }
        self.buy_listing(id, Ceiling::None, custom_id, terms)
    }

    /// `market_buy` by id, and each item of `market_batch_buy`. Checks in the order: custom_id
    /// reuse (7), listing gone (5), over the ceiling (6), balance (4). The ceiling is checked
    /// against the price; an over-debit fault charges more than that, ceiling or not.
    pub(crate) fn buy_listing(
        &mut self,
        id: ItemId,
        ceiling: Ceiling,
        custom_id: Option<&str>,
        terms: &Terms<'_>,
    ) -> Result<usize, ApiError> {
        if custom_id.is_some_and(|c| self.custom_id_taken(c)) {
            return Err(error::CUSTOM_ID_EXISTS);
        }
        let price = self.market.get(id).map(|l| l.price).ok_or(error::SKIN_UNAVAILABLE)?;
        if !ceiling.allows(price) {
            return Err(error::NOT_AT_PRICE);
        }
        let debit = price.saturating_add(terms.over_debit);
        if debit.amount() > self.balance {
            return Err(error::INSUFFICIENT_FUNDS);
        }
        let now = terms.now;
        let sold = self.market.remove(id, now.as_secs()).ok_or(error::SKIN_UNAVAILABLE)?;
        let debit = sold.price.saturating_add(terms.over_debit);
        self.balance -= debit.amount();
        self.withdraw_sum += debit.amount();
        let buy_id = BuyId::new(self.next_buy_id);
        self.next_buy_id += 1;
        let (partner, token) = terms.link;
        let steamid =
            partner.trim().parse::<u64>().map_or_else(|_| "0".to_string(), |p| (STEAMID64_BASE + p).to_string());
        let idx = self.purchases.len();
        self.purchases.push(SandboxPurchase {
            id: sold.id,
            buy_id,
            custom_id: custom_id.map(str::to_string),
            name: sold.name,
            game: sold.game,
            classid: sold.classid,
            price: sold.price,
            debited: debit,
            balance_after: Usd::new(self.balance),
            refunded: Usd::ZERO,
            offer_status: OfferStatus::CreatingTrade,
            history: vec![(now.as_secs(), OfferStatus::CreatingTrade)],
            steamid,
            tradeofferid: None,
            date: now.as_secs(),
        });
        self.by_buy_id.insert(buy_id.get(), idx);
        if let Some(c) = custom_id {
            self.by_custom_id.insert(c.to_string(), idx);
        }
        let token_ok =
            TradeLink::new(partner, token).is_ok() && !self.offers.dead_partners.iter().any(|p| p == partner);
        self.plan_offer(idx, token_ok, now);
        tracing::info!(target: "sandbox", buy_id = %buy_id, item = %id, price = %sold.price, debited = %debit, "bought");
        self.hub.emit(Event::BuyItem(&self.purchases[idx]));
        self.emit_balance();
        Ok(idx)
    }

    /// Decides the whole offer path at purchase time. Three draws per purchase whatever the
    /// outcome, so one purchase's fate never shifts another's.
    fn plan_offer(&mut self, idx: usize, token_ok: bool, now: Duration) {
        let o = self.offers.clone();
        let (r1, r2, r3): (Probability, Probability, Probability) =
            (self.offer_rng.random(), self.offer_rng.random(), self.offer_rng.random());
        let created = now.saturating_add(o.create_after);
        let first = if !token_ok || r1 < o.p_invalid_trade_token {
            OfferStatus::InvalidTradeToken
        } else if r1 < o.p_invalid_trade_token + o.p_user_not_tradable {
            OfferStatus::UserNotTradable
        } else if r1 < o.p_invalid_trade_token + o.p_user_not_tradable + o.p_trade_create_error {
            OfferStatus::TradeCreateError
        } else {
            OfferStatus::WaitingAccept
        };
        self.schedule_at(created, idx, first.clone());
        if first != OfferStatus::WaitingAccept {
            return;
        }
        let (second, at) = if r2 < o.p_accept {
            (OfferStatus::Accepted, created.saturating_add(o.accept_after))
        } else if r2 < o.p_accept + o.p_cancel {
            (OfferStatus::Canceled, created.saturating_add(o.accept_after))
        } else {
            (OfferStatus::Timeout, created.saturating_add(o.timeout_after))
        };
        self.schedule_at(at, idx, second.clone());
        if second != OfferStatus::Accepted {
            return;
        }
        let rolled = if r3 < o.p_rollback_user {
            Some(OfferStatus::RollbackUser)
        } else if r3 < o.p_rollback_user + o.p_rollback_supplier {
            Some(OfferStatus::RollbackSupplier)
        } else {
            None
        };
        if let Some(r) = rolled {
            self.schedule_at(at.saturating_add(o.rollback_after), idx, r);
        }
    }

    fn schedule_at(&mut self, at: Duration, idx: usize, status: OfferStatus) {
        self.schedule_seq += 1;
        self.schedule.insert((at, self.schedule_seq), (idx, status));
    }

    fn apply_transition(&mut self, idx: usize, status: OfferStatus, at: Duration) {
        let refund_failed = self.offers.refund_failed;
        let refund_rollbacks = self.offers.refund_rollbacks;
        let tradeofferid = (status == OfferStatus::WaitingAccept).then(|| {
            self.next_tradeofferid += 1;
            self.next_tradeofferid.to_string()
        });
        let p = &mut self.purchases[idx];
        p.offer_status = status.clone();
        p.history.push((at.as_secs(), status.clone()));
        if tradeofferid.is_some() {
            p.tradeofferid = tradeofferid;
        }
        let rollback = matches!(status, OfferStatus::RollbackUser | OfferStatus::RollbackSupplier);
        let refund =
            p.refunded == Usd::ZERO && status.is_failure() && if rollback { refund_rollbacks } else { refund_failed };
        let amount = p.debited;
        if refund {
            p.refunded = amount;
        }
        tracing::info!(target: "sandbox", buy_id = %p.buy_id, status = %status, refund, "offer status");
        self.hub.emit(Event::StatusChange(&self.purchases[idx]));
        if refund {
            self.balance += amount.amount();
            self.withdraw_sum -= amount.amount();
            self.emit_balance();
        }
    }

    /// Runs every market step and offer transition due at or before `now`, in time order.
    pub(crate) fn process_until(&mut self, now: Duration) {
        let mut steps = 0u32;
        loop {
            let offer_due = self.schedule.keys().next().map(|(t, _)| *t).filter(|t| *t <= now);
            let step_due = self.next_market_step.filter(|t| *t <= now && steps < MAX_STEPS_PER_CATCH_UP);
            let take_offer = match (offer_due, step_due) {
                (None, None) => break,
                (Some(o), Some(s)) => o <= s,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            if take_offer {
                if let Some(((at, _), (idx, status))) = self.schedule.pop_first() {
                    self.apply_transition(idx, status, at);
                }
            } else if let Some(s) = step_due {
                steps += 1;
                self.market.step(&self.dynamics, s.as_secs());
                self.next_market_step = (!self.dynamics.step.is_zero()).then(|| s.saturating_add(self.dynamics.step));
                if steps == MAX_STEPS_PER_CATCH_UP && self.next_market_step.is_some_and(|t| t <= now) {
                    // A jump of days with a short step: fast-forward rather than stall the server.
                    self.next_market_step = Some(now.saturating_add(self.dynamics.step));
                }
            }
        }
    }

    // ---- request log ----

    pub(crate) fn next_request_seq(&mut self) -> u64 {
        self.request_seq += 1;
        self.request_seq
    }

    pub fn record(&mut self, r: RequestRecord) {
        if self.requests.len() >= self.request_log_cap {
            self.requests.pop_front();
        }
        self.requests.push_back(r);
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.iter().cloned().collect()
    }
}
