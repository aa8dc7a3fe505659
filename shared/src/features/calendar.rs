//! `features/calendar.parquet` and `features/closed_weekdays.json`: which days the shop traded,
//! and why it did not on the others.
//!
//! Built in plain Rust over the distinct trading days (a few hundred): the span, the weekday
//! counts and the reasons are loops, not group-bys.

use chrono::{Datelike, NaiveDate, Weekday};
use polars::prelude::*;

use super::transactions::DATE;

/// A weekday is a weekly closure when the shop traded on fewer than this percentage of its
/// occurrences in the span. 10 % tolerates the odd exceptional opening (a pre-Christmas
/// Sunday) yet stays far below any weekday the shop normally trades on. An integer so that
/// exactly 10 % is decided exactly (it is not a closure).
pub const WEEKLY_CLOSURE_MAX_OPEN_PERCENT: u32 = 10;

/// A weekday must occur at least this often in the span to be judged a weekly closure: a single
/// closed Monday in a week of data is as likely a holiday.
pub const WEEKLY_CLOSURE_MIN_OCCURRENCES: u32 = 2;

/// `reason` of a day the shop traded on.
pub(crate) const OPEN: &str = "open";
/// `reason` of a closed day whose weekday is a weekly closure.
pub(crate) const WEEKLY_CLOSURE: &str = "weekly_closure";
/// `reason` of any other closed day.
pub(crate) const HOLIDAY: &str = "holiday";

/// The calendar table, the weekly closures, and the open days the demand table is laid on.
pub(crate) struct Calendar {
    /// `date`, `open`, `reason`: one row per day of the span.
    pub frame: DataFrame,
    /// Weekly closures, Monday first.
    pub closed_weekdays: Vec<Weekday>,
    /// Open days as polars `Date` values (days since 1970-01-01), ascending.
    pub open_days: Vec<i32>,
}

/// Days since 1970-01-01 of 0001-01-01 (chrono counts from the latter).
const UNIX_EPOCH_FROM_CE: i32 = 719_163;

fn to_naive(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + UNIX_EPOCH_FROM_CE)
        .expect("a polars Date is within chrono's range")
}

/// Every day from the first to the last line's date: open if any line falls on it.
pub(crate) fn calendar(lines: &DataFrame) -> PolarsResult<Calendar> {
    let days = lines.clone().lazy().select([col(DATE).unique()]).collect()?;
    let mut open_days: Vec<i32> = days.column(DATE)?.date()?.physical().iter().flatten().collect();
    open_days.sort_unstable();

    let (Some(&first), Some(&last)) = (open_days.first(), open_days.last()) else {
        return Ok(Calendar {
            frame: frame(Vec::new(), Vec::new(), Vec::new())?,
            closed_weekdays: Vec::new(),
            open_days,
        });
    };

    let span: Vec<i32> = (first..=last).collect();
    let mut is_open = vec![false; span.len()];
    for day in &open_days {
        is_open[usize::try_from(day - first).expect("open days are sorted")] = true;
    }
    let weekday = |day: i32| to_naive(day).weekday();

    let mut occurrences = [0u32; 7];
    let mut traded = [0u32; 7];
    for (&day, &open) in span.iter().zip(&is_open) {
        let index = weekday(day).num_days_from_monday() as usize;
        occurrences[index] += 1;
        traded[index] += u32::from(open);
    }
    let closed_weekdays: Vec<Weekday> = (0u8..7)
        .map(|index| Weekday::try_from(index).expect("0..7 are weekdays"))
        .filter(|day| {
            let index = day.num_days_from_monday() as usize;
            occurrences[index] >= WEEKLY_CLOSURE_MIN_OCCURRENCES
                && traded[index] * 100 < WEEKLY_CLOSURE_MAX_OPEN_PERCENT * occurrences[index]
                // And improbably few against the other weekdays: a stray line dated years before
                // the rest leaves every weekday of the empty years untraded alike.
                && crate::forecast::calendar::improbably_few(index, &traded, &occurrences)
        })
        .collect();

    let reasons = span
        .iter()
        .zip(&is_open)
        .map(|(&day, &open)| {
            if open {
                OPEN
            } else if closed_weekdays.contains(&weekday(day)) {
                WEEKLY_CLOSURE
            } else {
                HOLIDAY
            }
        })
        .collect();
    Ok(Calendar { frame: frame(span, is_open, reasons)?, closed_weekdays, open_days })
}

fn frame(days: Vec<i32>, open: Vec<bool>, reasons: Vec<&str>) -> PolarsResult<DataFrame> {
    DataFrame::new(
        days.len(),
        vec![
            Int32Chunked::from_vec(DATE.into(), days).into_date().into_column(),
            BooleanChunked::from_slice("open".into(), &open).into_column(),
            StringChunked::from_slice("reason".into(), &reasons).into_column(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{Row, batch};
    use super::super::transactions::combine;
    use super::*;

    /// One sale on each day from `first` to `last` (inclusive) except `closed`.
    fn trading(first: NaiveDate, last: NaiveDate, closed: impl Fn(NaiveDate) -> bool) -> Calendar {
        let times: Vec<String> = first
            .iter_days()
            .take_while(|day| *day <= last)
            .filter(|day| !closed(*day))
            .map(|day| format!("{day} 10:00"))
            .collect();
        let rows: Vec<Row> =
            times.iter().map(|time| ("536001", "A", 1, time.as_str(), 1.0, None, "UK")).collect();
        calendar(&combine(vec![batch("b", &rows)]).unwrap()).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn reasons(calendar: &Calendar) -> Vec<(NaiveDate, bool, String)> {
        let frame = &calendar.frame;
        let dates = frame.column("date").unwrap().date().unwrap();
        let open = frame.column("open").unwrap().bool().unwrap();
        let reason = frame.column("reason").unwrap().str().unwrap();
        dates
            .as_date_iter()
            .zip(open.iter())
            .zip(reason.iter())
            .map(|((d, o), r)| (d.unwrap(), o.unwrap(), r.unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn a_saturday_never_traded_is_a_weekly_closure_and_a_closed_wednesday_a_holiday() {
        // Monday 2011-01-03 to Friday 2011-01-21: three weeks, Saturdays and 12 January closed.
        let calendar = trading(date(2011, 1, 3), date(2011, 1, 21), |day| {
            day.weekday() == Weekday::Sat || day == date(2011, 1, 12)
        });
        assert_eq!(calendar.closed_weekdays, vec![Weekday::Sat]);
        let rows = reasons(&calendar);
        assert_eq!(rows.len(), 19);
        for (day, open, reason) in rows {
            let expected = if day.weekday() == Weekday::Sat {
                (false, WEEKLY_CLOSURE)
            } else if day == date(2011, 1, 12) {
                (false, HOLIDAY)
            } else {
                (true, OPEN)
            };
            assert_eq!((open, reason.as_str()), expected, "{day}");
        }
    }

    #[test]
    fn a_weekday_traded_on_under_ten_percent_of_its_occurrences_is_a_weekly_closure() {
        // Eleven Saturdays from 2011-01-08 to 2011-03-19; the shop opened on one (9 %).
        let calendar = trading(date(2011, 1, 3), date(2011, 3, 20), |day| {
            day.weekday() == Weekday::Sat && day != date(2011, 2, 5)
        });
        assert_eq!(calendar.closed_weekdays, vec![Weekday::Sat]);
        let rows = reasons(&calendar);
        let opened = rows.iter().find(|(day, ..)| *day == date(2011, 2, 5));
        assert_eq!(opened.unwrap().2, OPEN);
    }

    #[test]
    fn a_weekday_traded_on_ten_percent_of_its_occurrences_is_not_a_weekly_closure() {
        // Ten Saturdays from 2011-01-08 to 2011-03-12; the shop opened on one (10 %).
        let calendar = trading(date(2011, 1, 3), date(2011, 3, 13), |day| {
            day.weekday() == Weekday::Sat && day != date(2011, 2, 5)
        });
        assert!(calendar.closed_weekdays.is_empty());
        let rows = reasons(&calendar);
        let saturday = rows.iter().find(|(day, ..)| *day == date(2011, 1, 8));
        assert_eq!(saturday.unwrap().2, HOLIDAY);
    }

    #[test]
    fn a_stray_line_years_before_the_rest_does_not_close_every_weekday() {
        // Trade from 2010-12-01 to 2011-12-09 except on Saturdays, and one line on 2001-03-05.
        let calendar = trading(date(2001, 3, 5), date(2011, 12, 9), |day| {
            (day < date(2010, 12, 1) && day != date(2001, 3, 5)) || day.weekday() == Weekday::Sat
        });
        assert_eq!(calendar.closed_weekdays, vec![Weekday::Sat]);
    }

    #[test]
    fn a_weekday_closed_only_once_in_the_span_is_a_holiday() {
        // Monday 2011-01-03 to Sunday 2011-01-09: one Saturday, closed.
        let calendar = trading(date(2011, 1, 3), date(2011, 1, 9), |day| day.weekday() == Weekday::Sat);
        assert!(calendar.closed_weekdays.is_empty());
        assert_eq!(reasons(&calendar)[5], (date(2011, 1, 8), false, HOLIDAY.into()));
    }

    #[test]
    fn any_kind_of_line_opens_the_day() {
        let rows = [
            ("536001", "A", 1, "2011-01-03 10:00", 1.0, None, "UK"),
            ("536002", "A", -3, "2011-01-04 10:00", 0.0, None, "UK"),
            ("C536001", "A", -1, "2011-01-05 10:00", 1.0, None, "UK"),
            ("A563185", "B", 1, "2011-01-06 10:00", -11062.06, None, "UK"),
            ("536003", "POST", 1, "2011-01-07 10:00", 18.0, None, "UK"),
        ];
        let calendar = calendar(&combine(vec![batch("b", &rows)]).unwrap()).unwrap();
        assert_eq!(calendar.open_days.len(), 5);
        assert!(reasons(&calendar).iter().all(|(_, open, _)| *open));
    }

    #[test]
    fn the_calendar_runs_from_the_first_to_the_last_day_with_a_line() {
        let rows = [
            ("536002", "A", 1, "2011-01-10 18:00", 1.0, None, "UK"),
            ("536001", "A", 1, "2011-01-03 08:00", 1.0, None, "UK"),
        ];
        let calendar = calendar(&combine(vec![batch("b", &rows)]).unwrap()).unwrap();
        let rows = reasons(&calendar);
        assert_eq!(rows.len(), 8);
        assert_eq!(rows[0].0, date(2011, 1, 3));
        assert_eq!(rows[7].0, date(2011, 1, 10));
    }
}
