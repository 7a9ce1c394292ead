//! What a reloaded file may change while skinbot runs. Budget, orders and strategies apply from the
//! next tick; the exchange connection, the schedules, the state folder and the sandbox are set up
//! once at start and wait for a restart.

use super::Config;

/// Gives `new` the restart-only sections of `old` (the running config): `[exchange]`,
/// `[schedule]`, `[state]` and `[sandbox]`, and keeps `orders.resolve_after` when the new value is
/// less than twice the running request timeout. Returns one note per change that waits for a
/// restart (or was refused), in the order they are logged.
pub(crate) fn keep_restart_only(old: &Config, new: &mut Config) -> Vec<String> {
    let mut notes = Vec::new();
    let ex = (&old.exchange, &new.exchange);
    if ex.0.endpoint != ex.1.endpoint
        || ex.0.shop_id != ex.1.shop_id
        || ex.0.timeout != ex.1.timeout
        || ex.0.encoding != ex.1.encoding
        || ex.0.auth != ex.1.auth
        || ex.0.requests_per_minute != ex.1.requests_per_minute
        || ex.0.background_share_percent != ex.1.background_share_percent
    {
        notes.push("[exchange] changed: restart skinbot to apply".to_string());
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
        "[exchange] changed: restart skinbot to apply",
        "[schedule] changed: restart skinbot to apply",
        "[state] changed: restart skinbot to apply",
        "[exchange] connect_timeout_ms changed: restart skinbot to apply",
    ];

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
            ("[exchange]\nrequests_per_minute = 100\n", RESTART[0]),
            ("[exchange]\nbackground_share_percent = 10\n", RESTART[0]),
            ("[exchange]\nauth = \"headers\"\n", RESTART[0]),
            ("[schedule]\ntimezone = \"Europe/Berlin\"\n", RESTART[1]),
            ("[schedule]\npoll = \"0 * * * * *\"\n", RESTART[1]),
            ("[state]\ndir = \"elsewhere\"\n", RESTART[2]),
            ("[exchange]\nconnect_timeout_ms = 900\n", RESTART[3]),
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
