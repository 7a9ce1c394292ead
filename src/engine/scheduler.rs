//! Runs a job on a cron schedule. A job that overruns is never stacked: the next run starts at the
//! first fire time after it finished, and the fire times it overran are logged as missed.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono_tz::Tz;
use tokio::sync::watch;

use super::clock::Clock;
use crate::config::Cron;

/// Counts kept per job, for the summary and for tests.
#[derive(Debug, Default)]
pub struct JobStats {
    pub runs: AtomicU64,
    pub missed: AtomicU64,
}

/// Runs `job` at every fire time of `cron` in `tz` until `shutdown` becomes true. A run in
/// progress is always finished: shutdown is only observed between runs.
pub(crate) async fn run_job<F, Fut>(
    name: &'static str,
    cron: Cron,
    tz: Tz,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
    stats: Arc<JobStats>,
    mut job: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut after = clock.now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let Some(next) = cron.next_after(after, tz) else {
            tracing::warn!(job = name, schedule = cron.as_str(), "schedule has no further fire time; job stops");
            return;
        };
        let wait = (next - clock.now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        job().await;
        stats.runs.fetch_add(1, Ordering::Relaxed);
        let finished = clock.now();
        let missed = cron.fires_between(next, finished, tz);
        if missed > 0 {
            stats.missed.fetch_add(missed as u64, Ordering::Relaxed);
            tracing::warn!(job = name, missed, "job overran its schedule; missed ticks were skipped, not stacked");
        }
        after = finished.max(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::TokioClock;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn runs_on_schedule_and_skips_ticks_it_overran() {
        // Start on a whole second so the fire times fall at 1 s, 2 s, … of paused time.
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-26T00:00:00Z").unwrap().to_utc();
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start));
        let (tx, rx) = watch::channel(false);
        let stats = Arc::new(JobStats::default());
        let cron = Cron::parse("* * * * * *").unwrap(); // every second
        let calls = Arc::new(AtomicU64::new(0));
        let c2 = calls.clone();
        let task = tokio::spawn(run_job("t", cron, Tz::UTC, clock, rx, stats.clone(), move || {
            let c = c2.clone();
            async move {
                // The third run takes 3.5 s: the ticks inside it are missed, not queued.
                if c.fetch_add(1, Ordering::SeqCst) == 2 {
                    tokio::time::sleep(Duration::from_millis(3500)).await;
                }
            }
        }));
        tokio::time::sleep(Duration::from_millis(8200)).await;
        tx.send(true).unwrap();
        task.await.unwrap();
        let runs = stats.runs.load(Ordering::SeqCst);
        let missed = stats.missed.load(Ordering::SeqCst);
        assert_eq!(missed, 3, "runs={runs}");
        assert_eq!(runs, 5, "8 s of ticks minus the 3 missed");
    }
}
