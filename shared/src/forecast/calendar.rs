//! The shop's trading calendar inferred from demand: which days are open, which weekdays are
//! weekly closures, and the weekday "slot" of each open day that seasonal methods key on.
//!
//! Rule (from the issue): a day on which every SKU is 0 or absent is closed; a weekday closed on
//! at least [`WEEKLY_CLOSURE_MIN_CLOSED_SHARE`] of its occurrences (and seen at least twice) is a
//! weekly closure, forecast 0; any other closed day is a one-off (holiday) and is removed from the
//! training series, which is the sequence of open days. Future one-off closures cannot be known,
//! so every future day that is not a weekly closure is forecast as open.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A weekday closed on at least this share of its occurrences is a weekly closure.
pub const WEEKLY_CLOSURE_MIN_CLOSED_SHARE: f64 = 0.9;

/// The trading calendar over a span of days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradingCalendar {
    /// First day of the span.
    pub first: NaiveDate,
    /// Whether the shop traded, one entry per day from `first`.
    pub open: Vec<bool>,
    /// Weekly closures, Monday first.
    pub closed_weekdays: Vec<Weekday>,
}

impl TradingCalendar {
    /// Infers the calendar from which days had any demand (`traded[i]` is day `first + i`).
    #[must_use]
    pub fn infer(first: NaiveDate, traded: &[bool]) -> Self {
        let mut occurrences = [0u32; 7];
        let mut closed = [0u32; 7];
        for (i, &open) in traded.iter().enumerate() {
            let index = weekday_index(add_days(first, i));
            occurrences[index] += 1;
            closed[index] += u32::from(!open);
        }
        let closed_weekdays = (0..7)
            .filter(|&i| {
                occurrences[i] >= 2
                    && f64::from(closed[i]) >= WEEKLY_CLOSURE_MIN_CLOSED_SHARE * f64::from(occurrences[i])
            })
            .map(weekday_from_index)
            .collect();
        Self { first, open: traded.to_vec(), closed_weekdays }
    }

    /// A calendar with every day open and no weekly closure (for tests and synthetic series).
    #[must_use]
    pub fn all_open(first: NaiveDate, days: usize) -> Self {
        Self { first, open: vec![true; days], closed_weekdays: Vec::new() }
    }

    /// Open days per week: the seasonal period of the open-day series (6 for Online Retail).
    #[must_use]
    pub fn period(&self) -> usize {
        (7 - self.closed_weekdays.len()).max(1)
    }

    /// Whether `date`'s weekday is a weekly closure.
    #[must_use]
    pub fn is_weekly_closure(&self, date: NaiveDate) -> bool {
        self.closed_weekdays.contains(&date.weekday())
    }

    /// The seasonal slot of `date` (its rank among the open weekdays, Monday first), or `None` on
    /// a weekly closure.
    #[must_use]
    pub fn slot(&self, date: NaiveDate) -> Option<u8> {
        if self.is_weekly_closure(date) {
            return None;
        }
        let index = weekday_index(date);
        let before =
            self.closed_weekdays.iter().filter(|d| (d.num_days_from_monday() as usize) < index).count();
        Some(u8::try_from(index - before).expect("a weekday index fits in u8"))
    }

    /// Number of days in the span.
    #[must_use]
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether the span is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Day `i` of the span.
    #[must_use]
    pub fn date(&self, i: usize) -> NaiveDate {
        add_days(self.first, i)
    }

    /// The last day of the span.
    #[must_use]
    pub fn last(&self) -> NaiveDate {
        add_days(self.first, self.open.len().saturating_sub(1))
    }

    /// The `horizon` days after the span with their slots (`None`: weekly closure, forecast 0).
    #[must_use]
    pub fn future(&self, horizon: usize) -> Vec<(NaiveDate, Option<u8>)> {
        (1..=horizon).map(|h| add_days(self.last(), h)).map(|d| (d, self.slot(d))).collect()
    }

    /// Whether each of the `horizon` days after the history is open.
    #[must_use]
    pub fn future_open(&self, horizon: usize) -> Vec<bool> {
        self.future(horizon).iter().map(|(_, slot)| slot.is_some()).collect()
    }

    /// Indices (into the span) of open days, and their slots.
    #[must_use]
    pub fn open_days(&self) -> (Vec<usize>, Vec<u8>) {
        let mut days = Vec::new();
        let mut slots = Vec::new();
        for (i, &open) in self.open.iter().enumerate() {
            if let (true, Some(slot)) = (open, self.slot(self.date(i))) {
                days.push(i);
                slots.push(slot);
            }
        }
        (days, slots)
    }
}

/// `date + days`.
#[must_use]
pub fn add_days(date: NaiveDate, days: usize) -> NaiveDate {
    date.checked_add_days(Days::new(days as u64)).expect("dates stay within chrono's range")
}

fn weekday_index(date: NaiveDate) -> usize {
    date.weekday().num_days_from_monday() as usize
}

fn weekday_from_index(index: usize) -> Weekday {
    Weekday::try_from(u8::try_from(index).expect("0..7")).expect("0..7 are weekdays")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_weekday_never_traded_is_a_weekly_closure_and_a_one_off_closed_day_is_not() {
        // 2011-01-03 is a Monday; four weeks, Saturdays closed, plus one closed Wednesday.
        let first = day("2011-01-03");
        let traded: Vec<bool> = (0..28).map(|i| i % 7 != 5 && i != 9).collect();
        let calendar = TradingCalendar::infer(first, &traded);
        assert_eq!(calendar.closed_weekdays, vec![Weekday::Sat]);
        assert_eq!(calendar.period(), 6);
        assert_eq!(calendar.slot(day("2011-01-08")), None);
        assert_eq!(calendar.slot(day("2011-01-09")), Some(5), "Sunday follows the closed Saturday");
        let (days, _) = calendar.open_days();
        assert_eq!(days.len(), 28 - 4 - 1);
    }

    #[test]
    fn future_closed_weekdays_have_no_slot() {
        let first = day("2011-01-03");
        let traded: Vec<bool> = (0..14).map(|i| i % 7 != 5).collect();
        let calendar = TradingCalendar::infer(first, &traded);
        let future = calendar.future(7);
        assert_eq!(future[0].0, day("2011-01-17"));
        assert_eq!(future.iter().filter(|(_, s)| s.is_none()).count(), 1);
        assert_eq!(future[5], (day("2011-01-22"), None));
    }
}
