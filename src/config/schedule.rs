//! Cron expressions, as the `cron` crate reads them, plus the common five-field form.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cron::Schedule;

/// A parsed cron expression. Accepts six or seven fields (`sec min hour day month weekday [year]`)
/// and the classic five (`min hour day month weekday`, meaning second 0).
#[derive(Debug, Clone)]
pub struct Cron {
    text: String,
    schedule: Schedule,
}

impl Cron {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields = text.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {text}"),
            6 | 7 => text.to_string(),
            n => return Err(format!("`{text}` has {n} fields; a cron expression has 5, 6 or 7")),
        };
        let schedule = Schedule::from_str(&full).map_err(|e| format!("`{text}` is not a cron expression: {e}"))?;
        Ok(Cron { text: text.to_string(), schedule })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first fire time strictly after `after`, evaluated in `tz`.
    pub(crate) fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.schedule.after(&after.with_timezone(&tz)).next().map(|t| t.with_timezone(&Utc))
    }

    /// How many fire times fall in `(from, to]` — the ticks missed by a job that ran that long.
    pub(crate) fn fires_between(&self, from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> usize {
        self.schedule.after(&from.with_timezone(&tz)).take_while(|t| t.with_timezone(&Utc) <= to).take(10_000).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn five_six_and_seven_fields_are_accepted() {
        assert!(Cron::parse("*/5 * * * *").is_ok());
        assert!(Cron::parse("*/3 * * * * *").is_ok());
        assert!(Cron::parse("0 0 12 * * * 2030").is_ok());
        assert!(Cron::parse("* * *").unwrap_err().contains("3 fields"));
        assert!(Cron::parse("61 * * * * *").is_err());
    }

    #[test]
    fn next_fire_time_respects_the_timezone() {
        let daily = Cron::parse("0 0 9 * * *").unwrap();
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        // 09:00 in Berlin (UTC+1 in November) is 08:00 UTC.
        assert_eq!(daily.next_after(now, tz).unwrap(), Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap());
        let every3 = Cron::parse("*/3 * * * * *").unwrap();
        assert_eq!(every3.fires_between(now, now + chrono::Duration::seconds(10), tz), 3);
    }
}
