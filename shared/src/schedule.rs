//! NCRONTAB schedules, as timer functions write them, for the local timers.
//!
//! Azure Functions' NCRONTAB has six fields, `{second} {minute} {hour} {day} {month}
//! {day-of-week}`, with Sunday = 0, and may name an app setting as `%NAME%`. The `cron` crate
//! reads six fields with Sunday = 1, so day-of-week numbers are shifted by one on the way in.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::settings::Settings;

/// Why a schedule cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The expression is not a six-field NCRONTAB expression.
    #[error("schedule {expr:?}: {reason}")]
    Invalid {
        /// The expression as given.
        expr: String,
        /// What is wrong.
        reason: String,
    },
    /// `%NAME%` names a setting that is not set.
    #[error("schedule {expr:?} names setting {name}, which is not set")]
    MissingSetting {
        /// The expression as given.
        expr: String,
        /// The setting's name.
        name: String,
    },
}

/// A parsed NCRONTAB schedule, evaluated in UTC (the Functions default).
#[derive(Clone)]
pub struct Schedule {
    expr: String,
    inner: cron::Schedule,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.expr)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| ScheduleError::Invalid { expr: expr.to_owned(), reason };
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(invalid(format!(
                "NCRONTAB has 6 fields ({{second}} {{minute}} {{hour}} {{day}} {{month}} {{day-of-week}}), found {}",
                fields.len()
            )));
        }
        let day_of_week = shift_day_numbers(fields[5]).map_err(invalid)?;
        let translated = format!("{} {}", fields[..5].join(" "), day_of_week);
        let inner = cron::Schedule::from_str(&translated).map_err(|e| invalid(e.to_string()))?;
        // Fields that are each valid can still name no time at all (`0 0 2 31 2 *`): the timer
        // would wait for ever, and the retrain never run, with nothing said.
        let since = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
        if inner.after(&since).next().is_none() {
            return Err(invalid(
                "it matches no time (a day no month it names has, such as the 31st of February): the timer \
                 would never fire"
                    .to_owned(),
            ));
        }
        Ok(Self { expr: expr.to_owned(), inner })
    }
}

/// NCRONTAB's Sunday = 0 (and 7) to the cron crate's Sunday = 1.
fn shift_day_numbers(field: &str) -> Result<String, String> {
    let mut out = String::with_capacity(field.len() + 2);
    let mut number = String::new();
    let mut after_slash = false;
    let flush = |number: &mut String, out: &mut String, after_slash: bool| -> Result<(), String> {
        if number.is_empty() {
            return Ok(());
        }
        let n: u32 = number.parse().map_err(|_| format!("bad day-of-week number {number:?}"))?;
        if after_slash {
            out.push_str(number); // a step, not a day
        } else if n > 7 {
            return Err(format!("day-of-week {n} is out of range 0-6"));
        } else {
            out.push_str(&(if n == 7 { 1 } else { n + 1 }).to_string());
        }
        number.clear();
        Ok(())
    };
    for c in field.chars() {
        if c.is_ascii_digit() {
            number.push(c);
        } else {
            flush(&mut number, &mut out, after_slash)?;
            after_slash = c == '/';
            out.push(c);
        }
    }
    flush(&mut number, &mut out, after_slash)?;
    Ok(out)
}

impl Schedule {
    /// Parses `expr`, first replacing a whole-expression `%NAME%` with that setting's value
    /// (the host's binding-expression rule for `schedule`).
    pub fn resolve(expr: &str, settings: &Settings) -> Result<Self, ScheduleError> {
        let trimmed = expr.trim();
        if let Some(name) = trimmed.strip_prefix('%').and_then(|s| s.strip_suffix('%')) {
            let value = settings.get(name).ok_or_else(|| ScheduleError::MissingSetting {
                expr: expr.to_owned(),
                name: name.to_owned(),
            })?;
            return value.parse();
        }
        trimmed.parse()
    }

    /// The first occurrence strictly after `after`.
    #[must_use]
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inner.after(&after).next()
    }

    /// The expression as written.
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expr
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_nightly_schedule_fires_at_its_hour_next_day() {
        let s: Schedule = "0 30 2 * * *".parse().unwrap();
        assert_eq!(s.next_after(at("2026-11-25T03:00:00Z")), Some(at("2026-11-26T02:30:00Z")));
        assert_eq!(s.next_after(at("2026-11-25T02:00:00Z")), Some(at("2026-11-25T02:30:00Z")));
    }

    #[test]
    fn day_of_week_zero_is_sunday_as_in_ncrontab() {
        let s: Schedule = "0 0 9 * * 0".parse().unwrap();
        let next = s.next_after(Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()).unwrap();
        assert_eq!(next.weekday(), Weekday::Sun);
        let weekdays: Schedule = "0 0 9 * * 1-5".parse().unwrap();
        let mut t = at("2026-11-27T10:00:00Z"); // a Friday, after 09:00
        t = weekdays.next_after(t).unwrap();
        assert_eq!((t.weekday(), t.hour()), (Weekday::Mon, 9));
        let stepped: Schedule = "0 0 0 * * */2".parse().unwrap(); // Sun, Tue, Thu, Sat
        let first = stepped.next_after(at("2026-11-23T12:00:00Z")).unwrap(); // Monday noon
        assert_eq!(first.weekday(), Weekday::Tue);
    }

    #[test]
    fn five_field_unix_cron_and_bad_days_are_rejected_with_the_reason() {
        let err = "0 2 * * *".parse::<Schedule>().unwrap_err();
        assert!(err.to_string().contains("6 fields"), "{err}");
        assert!("0 0 0 * * 9".parse::<Schedule>().is_err());
    }

    #[test]
    fn a_schedule_that_names_no_time_is_rejected_and_a_leap_day_is_not() {
        let err = "0 0 2 31 2 *".parse::<Schedule>().unwrap_err();
        assert!(err.to_string().contains("would never fire"), "{err}");
        let leap = "0 0 2 29 2 *".parse::<Schedule>().unwrap();
        assert_eq!(leap.next_after(at("2026-11-28T00:00:00Z")), Some(at("2028-02-29T02:00:00Z")));
    }

    #[test]
    fn a_percent_name_reads_the_schedule_from_settings() {
        let settings =
            Settings::from_values([("RETRAIN_SCHEDULE".to_owned(), "0 0 3 * * *".to_owned())].into(), None)
                .unwrap();
        let s = Schedule::resolve("%RETRAIN_SCHEDULE%", &settings).unwrap();
        assert_eq!(s.expression(), "0 0 3 * * *");
        let err = Schedule::resolve("%NOPE%", &settings).unwrap_err();
        assert!(matches!(err, ScheduleError::MissingSetting { .. }));
    }
}
