//! What a reloaded file may change while skinbot runs. Budget, orders and strategies apply from the
//! next tick; the exchange connection, the schedules, the state folder and the sandbox are set up
//! once at start and wait for a restart.

use super::Config;

/// Gives `new` the restart-only sections of `old` (the running config): `[exchange]`,
/// `[schedule]`, `[state]` and `[sandbox]`, and keeps `orders.resolve_after` when the new value is
/// less than twice the running request timeout. Returns one note per change that waits for a
/// restart (or was refused), in the order they are logged.
/// The effective values a reload changes, one line each (`budget.per_day 500.00 USD → 36.00 USD`);
/// nothing when nothing changed.
pub(crate) fn changes(old: &Config, new: &Config) -> Vec<String> {
    fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
        v.as_ref().map_or_else(|| "none".to_string(), T::to_string)
    }
    let (a, b) = (&old.budget, &new.budget);
    let mut lines = Vec::new();
    let mut diff = |key: &str, before: String, after: String| {
        if before != after {
            lines.push(format!("{key} {before} → {after}"));
        }
    };
    diff("budget.per_order", opt(&a.per_order), opt(&b.per_order));
    diff("budget.per_item_per_day", opt(&a.per_item_per_day), opt(&b.per_item_per_day));
    diff("budget.per_hour", opt(&a.per_hour), opt(&b.per_hour));
    diff("budget.per_day", opt(&a.per_day), opt(&b.per_day));
    diff("budget.balance_floor", a.balance_floor.to_string(), b.balance_floor.to_string());
    diff(
        "budget.balance_max_age_secs",
        a.balance_max_age.as_secs().to_string(),
        b.balance_max_age.as_secs().to_string(),
    );
    diff("budget.rates_max_age_secs", a.rates_max_age.as_secs().to_string(), b.rates_max_age.as_secs().to_string());
    diff("orders.batch_size", old.orders.batch_size.to_string(), new.orders.batch_size.to_string());
    diff("orders.games", format!("{:?}", old.orders.games), format!("{:?}", new.orders.games));
    diff(
        "orders.resolve_after_secs",
        old.orders.resolve_after.as_secs().to_string(),
        new.orders.resolve_after.as_secs().to_string(),
    );
    let names = |c: &Config| c.recipients.iter().map(|r| r.name.clone()).collect::<Vec<_>>().join(", ");
    diff("recipients", names(old), names(new));
    diff("halt", format!("{:?}", old.halt), format!("{:?}", new.halt));
    diff("sanity", format!("{:?}", old.sanity), format!("{:?}", new.sanity));
    lines
}

pub(crate) fn keep_restart_only(old: &Config, new: &mut Config) -> Vec<String> {
    let mut notes = Vec::new();
    let ex = (&old.exchange, &new.exchange);
    let mut keys = Vec::new();
    for (key, changed) in [
        ("api_url", ex.0.endpoint != ex.1.endpoint),
        ("shop_id", ex.0.shop_id != ex.1.shop_id),
        ("timeout_ms", ex.0.timeout != ex.1.timeout),
        ("encoding", ex.0.encoding != ex.1.encoding),
        ("auth", ex.0.auth != ex.1.auth),
        ("requests_per_minute", ex.0.requests_per_minute != ex.1.requests_per_minute),
        ("background_share_percent", ex.0.background_share_percent != ex.1.background_share_percent),
    ] {
        if changed {
            keys.push(format!("exchange.{key}"));
        }
    }
    if !keys.is_empty() {
        notes.push(format!("[exchange] changed ({}): restart skinbot to apply", keys.join(", ")));
    }
    let crons = |c: &Config| {
        let s = &c.schedule;
        let exprs =
            [s.pricelist.as_str(), s.currencies.as_str(), s.balance.as_str(), s.poll.as_str(), s.status.as_str()];
        (s.timezone, exprs.map(str::to_string))
    };
    if crons(old) != crons(new) {
        notes.push("[schedule] changed: restart skinbot to apply".to_string());
    }
    if old.state_dir != new.state_dir {
        notes.push("[state] changed: restart skinbot to apply".to_string());
    }
    if new.orders.resolve_after < old.exchange.timeout * 2 {
        // Checked against the running timeout: the new one waits for a restart.
        notes.push(format!(
            "orders.resolve_after_secs kept at {} s: it must be at least twice the running request timeout",
            old.orders.resolve_after.as_secs()
        ));
        new.orders.resolve_after = old.orders.resolve_after;
    }
    if old.exchange.connect_timeout != new.exchange.connect_timeout {
        notes.push("[exchange] connect_timeout_ms changed: restart skinbot to apply".to_string());
    }
    if old.dry_run != new.dry_run {
        notes.push(
            "mode changed: restart skinbot to apply (a dry run and a live run keep separate ledgers)".to_string(),
        );
    }
    if old.dashboard != new.dashboard {
        notes.push("[dashboard] changed: restart skinbot to apply".to_string());
    }
    new.dashboard = old.dashboard.clone();
    // Both are set up once at start: the port is bound, the sending task holds the URL.
    if old.metrics != new.metrics {
        notes.push("[metrics] changed: restart skinbot to apply".to_string());
    }
    if old.notify != new.notify {
        notes.push("[notify] changed: restart skinbot to apply".to_string());
    }
    new.metrics = old.metrics.clone();
    new.notify = old.notify.clone();
    new.exchange = old.exchange.clone();
    new.schedule = old.schedule.clone();
    new.state_dir = old.state_dir.clone();
    new.sandbox = old.sandbox.clone();
    new.dry_run = old.dry_run;
    notes
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::*;
    use crate::config::SecretSource;

    struct NoEnv;
    impl SecretSource for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    fn config(src: &str) -> Config {
        Config::parse(Path::new("skinbot.toml"), src, &NoEnv).unwrap()
    }

    const RESTART: [&str; 4] = [
        "[exchange] changed (exchange.timeout_ms): restart skinbot to apply",
        "[schedule] changed: restart skinbot to apply",
        "[state] changed: restart skinbot to apply",
        "[exchange] connect_timeout_ms changed: restart skinbot to apply",
    ];

    #[test]
    fn the_dashboard_address_waits_for_a_restart() {
        let old = config("");
        let mut new = config("[dashboard]\nlisten = \"127.0.0.1:8788\"\n");
        assert_eq!(keep_restart_only(&old, &mut new), vec!["[dashboard] changed: restart skinbot to apply"]);
        assert_eq!(new.dashboard, None);
    }

    #[test]
    fn a_reload_names_the_effective_values_that_changed_and_nothing_else() {
        let old = config("[budget]\nper_day = \"500\"\n");
        let new = config("[budget]\nper_day = \"36\"\n");
        assert_eq!(changes(&old, &new), vec!["budget.per_day 500.00 USD → 36.00 USD".to_string()]);
        assert!(
            changes(&old, &config("[budget]\nper_day = \"500 usd\"\n")).is_empty(),
            "the same value, written otherwise"
        );
    }

    #[test]
    fn nothing_changed_gives_no_note() {
        let old = config("[budget]\nper_order = \"10\"\n");
        let mut new = config("[budget]\nper_order = \"20\"\n");
        assert!(keep_restart_only(&old, &mut new).is_empty());
        assert_eq!(new.budget.per_order.unwrap().to_string(), "20.00 USD", "the budget applies at once");
    }

    #[test]
    fn each_restart_only_section_notes_its_change_and_keeps_the_running_value() {
        let old = config("");
        for (src, note) in [
            ("[exchange]\ntimeout_ms = 9000\n", RESTART[0]),
            (
                "[exchange]\nrequests_per_minute = 100\n",
                "[exchange] changed (exchange.requests_per_minute): restart skinbot to apply",
            ),
            (
                "[exchange]\nbackground_share_percent = 10\n",
                "[exchange] changed (exchange.background_share_percent): restart skinbot to apply",
            ),
            ("[exchange]\nauth = \"headers\"\n", "[exchange] changed (exchange.auth): restart skinbot to apply"),
            ("[schedule]\ntimezone = \"Europe/Berlin\"\n", RESTART[1]),
            ("[schedule]\npoll = \"0 * * * * *\"\n", RESTART[1]),
            ("[state]\ndir = \"elsewhere\"\n", RESTART[2]),
            ("[exchange]\nconnect_timeout_ms = 900\n", RESTART[3]),
            ("[metrics]\nlisten = \"127.0.0.1:9898\"\n", "[metrics] changed: restart skinbot to apply"),
            ("[notify]\nurl = \"http://127.0.0.1:1/hook\"\n", "[notify] changed: restart skinbot to apply"),
        ] {
            let mut new = config(src);
            assert_eq!(keep_restart_only(&old, &mut new), vec![note.to_string()], "{src}");
            assert_eq!(new.exchange.timeout, old.exchange.timeout, "{src}");
            assert_eq!(new.exchange.connect_timeout, old.exchange.connect_timeout, "{src}");
            assert_eq!(new.exchange.requests_per_minute, old.exchange.requests_per_minute, "{src}");
            assert_eq!(new.exchange.auth, old.exchange.auth, "{src}");
            assert_eq!(new.schedule.timezone, old.schedule.timezone, "{src}");
            assert_eq!(new.schedule.poll.as_str(), old.schedule.poll.as_str(), "{src}");
            assert_eq!(new.state_dir, old.state_dir, "{src}");
            assert_eq!((&new.metrics, &new.notify), (&old.metrics, &old.notify), "{src}");
        }
    }

    #[test]
    fn the_sandbox_section_is_kept_without_a_note() {
        let old = config("");
        let mut new = config("[sandbox]\nseed = 7\ntime_scale = 5\n");
        assert!(keep_restart_only(&old, &mut new).is_empty());
        assert_eq!((new.sandbox.seed, new.sandbox.time_scale), (old.sandbox.seed, old.sandbox.time_scale));
    }

    #[test]
    fn notes_come_in_a_fixed_order() {
        let old = config("");
        let mut new = config(
            "[exchange]\ntimeout_ms = 1000\nconnect_timeout_ms = 900\n[schedule]\npoll = \"0 * * * * *\"\n[state]\ndir = \"x\"\n[orders]\nresolve_after_secs = 2\n",
        );
        let notes = keep_restart_only(&old, &mut new);
        assert_eq!(notes.len(), 5, "{notes:?}");
        assert_eq!(&notes[..3], &RESTART[..3]);
        assert!(notes[3].starts_with("orders.resolve_after_secs kept at 60 s"), "{notes:?}");
        assert_eq!(notes[4], RESTART[3]);
        assert_eq!(new.state_dir, PathBuf::from("state"));
    }

    #[test]
    fn resolve_after_below_twice_the_running_timeout_is_kept() {
        // Running: timeout 15 s, resolve_after 60 s. The new file shortens both; the timeout waits
        // for a restart, so 20 s would be less than twice the running 15 s.
        let old = config("");
        let mut new = config("[exchange]\ntimeout_ms = 1000\n[orders]\nresolve_after_secs = 20\n");
        let notes = keep_restart_only(&old, &mut new);
        assert!(
            notes.contains(
                &"orders.resolve_after_secs kept at 60 s: it must be at least twice the running request timeout"
                    .to_string()
            ),
            "{notes:?}"
        );
        assert_eq!(new.orders.resolve_after, Duration::from_secs(60));

        // At twice the running timeout or more, the new value applies.
        let mut new = config("[orders]\nresolve_after_secs = 30\n");
        assert!(keep_restart_only(&old, &mut new).is_empty());
        assert_eq!(new.orders.resolve_after, Duration::from_secs(30));
    }
}
