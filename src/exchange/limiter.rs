//! The one rate limiter every API call goes through.
//!
//! SkinsBack allows 500 requests a minute per project and blocks the project for a while past that
//! (`-7 request_limit_reached`). One governor quota, set below that with headroom, covers every call.
//! Background calls (price lists, polling) must also pass a second, smaller quota, so that they can
//! never use up the whole budget: trading calls always find room. After a `-7` every call waits an
//! exponentially growing, jittered back-off.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use tokio::time::Instant;

/// Which calls go first when the budget is tight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Buys and the resolution of unknown buys.
    Trade,
    /// Price lists, balance, rates, status polling.
    Background,
}

#[derive(Debug)]
pub struct Limiter {
    all: DefaultDirectRateLimiter,
    background: DefaultDirectRateLimiter,
    per_minute: NonZeroU32,
    background_per_minute: NonZeroU32,
    backoff: Mutex<Backoff>,
    /// When each call of the last minute went out (all calls, background calls), for the headroom
    /// `skinbot status` shows: counted here, since governor's state cannot be read without taking
    /// a cell.
    sent: Mutex<Sent>,
}

#[derive(Debug, Default)]
struct Sent {
    all: std::collections::VecDeque<Instant>,
    background: std::collections::VecDeque<Instant>,
}

impl Sent {
    fn prune(&mut self, now: Instant) {
        for q in [&mut self.all, &mut self.background] {
            while q.front().is_some_and(|t| now.saturating_duration_since(*t) >= MINUTE) {
                q.pop_front();
            }
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Backoff {
    strikes: u32,
    until: Option<Instant>,
}

impl Limiter {
    /// First back-off after a `-7`; doubles with each further one, up to [`Limiter::MAX_BACKOFF`].
    pub(crate) const BASE_BACKOFF: Duration = Duration::from_secs(2);
    pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(120);

    /// `per_minute` for every call together; `background_share_percent` of that for background calls
    /// (at least one a minute).
    pub fn new(per_minute: NonZeroU32, background_share_percent: u8) -> Self {
        let share = u32::from(background_share_percent.min(100));
        let bg = NonZeroU32::new(per_minute.get() * share / 100).unwrap_or(NonZeroU32::MIN);
        // A burst of a tenth of the minute lets a tick's buys go out together without exceeding the rate.
        let burst = |n: NonZeroU32| NonZeroU32::new((n.get() / 10).max(1)).unwrap_or(NonZeroU32::MIN);
        Limiter {
            all: RateLimiter::direct(Quota::per_minute(per_minute).allow_burst(burst(per_minute))),
            background: RateLimiter::direct(Quota::per_minute(bg).allow_burst(burst(bg))),
            per_minute,
            background_per_minute: bg,
            backoff: Mutex::new(Backoff::default()),
            sent: Mutex::new(Sent::default()),
        }
    }

    pub fn per_minute(&self) -> NonZeroU32 {
        self.per_minute
    }

    pub(crate) fn background_per_minute(&self) -> NonZeroU32 {
        self.background_per_minute
    }

    /// Waits until a call of this priority may go out.
    pub(crate) async fn acquire(&self, priority: Priority) {
        loop {
            let until = self.backoff.lock().map(|b| b.until).unwrap_or(None);
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        if priority == Priority::Background {
            self.background.until_ready().await;
        }
        self.all.until_ready().await;
        let now = Instant::now();
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.prune(now);
        sent.all.push_back(now);
        if priority == Priority::Background {
            sent.background.push_back(now);
        }
    }

    /// Calls let through in the last 60 s: (all, background).
    pub(crate) fn sent_last_minute(&self) -> (u32, u32) {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.prune(Instant::now());
        let n = |q: &std::collections::VecDeque<Instant>| u32::try_from(q.len()).unwrap_or(u32::MAX);
        (n(&sent.all), n(&sent.background))
    }

    /// The exchange answered `-7`: hold every call back for a growing, jittered while.
    pub(crate) fn penalize(&self) -> Duration {
        let mut b = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        b.strikes = b.strikes.saturating_add(1);
        let wait = backoff_for(b.strikes, rand::rng().random_range(0..=1000));
        let until = Instant::now() + wait;
        if b.until.is_none_or(|u| u < until) {
            b.until = Some(until);
        }
        tracing::warn!(
            wait_ms = wait.as_millis() as u64,
            strikes = b.strikes,
            "rate limited by the exchange (-7); backing off"
        );
        wait
    }

    /// A call succeeded: the next `-7` starts the back-off from the beginning.
    pub(crate) fn forgive(&self) {
        if let Ok(mut b) = self.backoff.lock() {
            b.strikes = 0;
        }
    }

    /// When calls may go out again, if a back-off is in force.
    pub(crate) fn blocked_until(&self) -> Option<Instant> {
        self.backoff.lock().ok().and_then(|b| b.until).filter(|u| *u > Instant::now())
    }
}

/// `BASE · 2^(strikes-1)`, capped, plus up to 25 % jitter (`jitter_permille` of that quarter).
fn backoff_for(strikes: u32, jitter_permille: u32) -> Duration {
    let exp = Limiter::BASE_BACKOFF.saturating_mul(1u32 << strikes.saturating_sub(1).min(16));
    let base = exp.min(Limiter::MAX_BACKOFF);
    base + base / 4 * jitter_permille.min(1000) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_of_the_last_minute_are_counted() {
        let l = Limiter::new(NonZeroU32::new(600).unwrap(), 50);
        for _ in 0..3 {
            l.acquire(Priority::Trade).await;
        }
        l.acquire(Priority::Background).await;
        assert_eq!(l.sent_last_minute(), (4, 1));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(l.sent_last_minute(), (4, 1));
        l.acquire(Priority::Trade).await;
        tokio::time::advance(Duration::from_secs(1)).await;
        // The first four are a minute old now: only the last one counts.
        assert_eq!(l.sent_last_minute(), (1, 0));
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        assert_eq!(backoff_for(1, 0), Duration::from_secs(2));
        assert_eq!(backoff_for(2, 0), Duration::from_secs(4));
        assert_eq!(backoff_for(3, 1000), Duration::from_secs(10));
        assert_eq!(backoff_for(30, 0), Limiter::MAX_BACKOFF);
        assert!(backoff_for(30, 1000) <= Limiter::MAX_BACKOFF + Limiter::MAX_BACKOFF / 4);
    }

    #[test]
    fn background_calls_get_only_their_share() {
        let l = Limiter::new(NonZeroU32::new(400).unwrap(), 50);
        assert_eq!(l.background_per_minute().get(), 200);
        // The burst of the background quota is a tenth of its minute: 20 immediate background calls,
        // then none; trading calls still pass.
        let mut bg = 0;
        while l.background.check().is_ok() && l.all.check().is_ok() {
            bg += 1;
        }
        assert_eq!(bg, 20);
        assert!(l.all.check().is_ok(), "trading calls must still have room");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_answer_holds_every_call_back() {
        let l = Limiter::new(NonZeroU32::new(400).unwrap(), 50);
        let wait = l.penalize();
        let start = Instant::now();
        l.acquire(Priority::Trade).await;
        assert!(Instant::now() - start >= wait);
        l.forgive();
        assert!(l.blocked_until().is_none());
    }
}
