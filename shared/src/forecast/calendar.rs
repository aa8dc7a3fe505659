//! The shop's trading calendar inferred from demand: which days are open, which weekdays are
//! weekly closures, and the weekday "slot" of each open day that seasonal methods key on.
//!
//! Rule (from the issue): a day on which every SKU is 0 or absent is closed; a weekday closed on
//! at least [`WEEKLY_CLOSURE_MIN_CLOSED_SHARE`] of its occurrences (and seen at least twice) is a
//! weekly closure, forecast 0; any other closed day is a one-off (holiday) and is removed from the
//! training series, which is the sequence of open days. Future one-off closures cannot be known,
//! so every future day that is not a weekly closure is forecast as open, but for a closure of at
//! least [`ANNUAL_CLOSURE_MIN_DAYS`] days in a row: a shop that shut for Christmas (Online Retail:
//! 2010-12-23 to 2011-01-04) or a summer fortnight is taken to shut on the same dates a year later,
//! forecast 0 then. Shorter closures (a bank holiday, Easter, which moves) are not carried over.
//!
//! Two guards keep the rule for what it is meant for, a shop's whole range, when the history is a
//! few slow SKUs (one SKU selling every eighth day would otherwise have every day without a sale
//! closed, and be forecast its selling days' demand every day, 8 times too much):
//! - a weekday is a weekly closure only if, besides, so few sales on it would be improbable
//!   (below [`CLOSURE_MAX_PROBABILITY`], binomially) at the rate the other weekdays trade;
//! - with the SKUs' series at hand ([`TradingCalendar::from_demand`]), a run of days without a
//!   sale is closed only if so quiet a run would be improbable (below [`CLOSURE_MAX_PROBABILITY`])
//!   were the shop open: the product over its days and the SKUs selling then (from their first
//!   sale to three of their usual gaps after their last) of `1 - p`, `p` the share of open
//!   weekdays between its first and last sale on which the SKU sold. For a shop's range
//!   (Online Retail: a few hundred SKUs sell on a typical day) the product is 0 and the rule is
//!   the issue's; a week without sales of one SKU selling 9 days in 10 is closed too.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A weekday closed on at least this share of its occurrences is a weekly closure.
pub const WEEKLY_CLOSURE_MIN_CLOSED_SHARE: f64 = 0.9;

/// A run of at least this many closed days in a row (weekly closures inside it counted) recurs on
/// the same dates a year later.
pub const ANNUAL_CLOSURE_MIN_DAYS: usize = 7;

/// A day (or a weekday's run of days) without sales is a closure only when that little trade
/// would have at most this probability were the shop open.
pub const CLOSURE_MAX_PROBABILITY: f64 = 0.01;

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
    /// Infers the calendar from which days had any demand (`traded[i]` is day `first + i`):
    /// every day without trade is closed.
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
                let (n, shut) = (occurrences[i], closed[i]);
                let traded: [u32; 7] = std::array::from_fn(|w| occurrences[w] - closed[w]);
                n >= 2
                    && f64::from(shut) >= WEEKLY_CLOSURE_MIN_CLOSED_SHARE * f64::from(n)
                    && improbably_few(i, &traded, &occurrences)
            })
            .map(weekday_from_index)
            .collect();
        Self { first, open: traded.to_vec(), closed_weekdays }
    }

    /// Infers the calendar from every SKU's daily units (`series[s][i]` on day `first + i`): as
    /// [`TradingCalendar::infer`], but a day without a sale that is not a weekly closure stays open
    /// (a quiet day) unless so quiet a day would be improbable were the shop open (module docs).
    #[must_use]
    pub fn from_demand(first: NaiveDate, series: &[Vec<f64>]) -> Self {
        let days = series.iter().map(Vec::len).max().unwrap_or(0);
        let sold = |v: &Vec<f64>, d: usize| v.get(d).is_some_and(|&q| q > 0.0);
        let traded: Vec<bool> = (0..days).map(|d| series.iter().any(|v| sold(v, d))).collect();
        let mut calendar = Self::infer(first, &traded);
        let weekly: Vec<bool> = (0..days).map(|d| calendar.is_weekly_closure(add_days(first, d))).collect();
        // Per day, the log of the probability that no SKU selling by then sells, were it open.
        let mut log_quiet = vec![0.0f64; days];
        let mut selling_by = vec![false; days];
        for v in series {
            let Some(start) = (0..days).find(|&d| sold(v, d)) else { continue };
            let last = (start..days).rev().find(|&d| sold(v, d)).unwrap_or(start);
            let open_days = (start..=last).filter(|&d| !weekly[d]).count();
            let selling = (start..=last).filter(|&d| !weekly[d] && sold(v, d)).count();
            let rate = selling as f64 / open_days.max(1) as f64;
            // Selling until its last sale and for three of its usual gaps after (a discontinued
            // SKU must not make the quiet days of those still selling look improbable).
            let end = days.min(last + 1 + (3.0 / rate).ceil() as usize);
            for d in start..end {
                log_quiet[d] += (1.0 - rate).ln();
                selling_by[d] = true;
            }
        }
        // Runs of quiet days (weekly closures inside a run neither end nor count in it): a run
        // is a closure when it is improbable as a whole were the shop open, so a closed week of
        // one SKU selling 9 days in 10 is one, though each of its days alone is not.
        let mut d = 0;
        while d < days {
            if traded[d] || weekly[d] || !selling_by[d] {
                d += 1;
                continue;
            }
            let start = d;
            let mut log_run = 0.0;
            while d < days && !traded[d] {
                if !weekly[d] {
                    log_run += log_quiet[d];
                }
                d += 1;
            }
            if log_run > CLOSURE_MAX_PROBABILITY.ln() {
                for (open, &closure) in calendar.open[start..d].iter_mut().zip(&weekly[start..d]) {
                    *open = !closure;
                }
            }
        }
        calendar
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
    /// The models step through these open days; an annual closure among them is forecast and
    /// then set to 0 ([`Self::annual_closed`]), so a closure ahead changes no fit.
    #[must_use]
    pub fn future(&self, horizon: usize) -> Vec<(NaiveDate, Option<u8>)> {
        (1..=horizon).map(|h| add_days(self.last(), h)).map(|d| (d, self.slot(d))).collect()
    }

    /// Whether each of the `horizon` days after the span falls in an annual closure: a year
    /// after a day of one of [`Self::annual_closures`] (29 February: a year after the 28th).
    #[must_use]
    pub fn annual_closed(&self, horizon: usize) -> Vec<bool> {
        let annual = self.annual_closures();
        (1..=horizon)
            .map(|h| add_days(self.last(), h))
            .map(|d| {
                let a_year_before =
                    d.with_year(d.year() - 1).or_else(|| d.pred_opt()?.with_year(d.year() - 1));
                a_year_before.is_some_and(|b| annual.iter().any(|(from, to)| (*from..=*to).contains(&b)))
            })
            .collect()
    }

    /// The runs of at least [`ANNUAL_CLOSURE_MIN_DAYS`] closed days (first and last day), but for
    /// one at the span's start (before the shop's first sale is no closure).
    #[must_use]
    pub fn annual_closures(&self) -> Vec<(NaiveDate, NaiveDate)> {
        let mut runs = Vec::new();
        let mut start = None;
        for (i, &open) in self.open.iter().chain(std::iter::once(&true)).enumerate() {
            match (open, start) {
                (false, None) => start = Some(i),
                (true, Some(from)) => {
                    if from > 0 && i - from >= ANNUAL_CLOSURE_MIN_DAYS && i < self.open.len() {
                        runs.push((self.date(from), self.date(i - 1)));
                    }
                    start = None;
                }
                _ => {}
            }
        }
        runs
    }

    /// Whether each of the `horizon` days after the history is open: neither a weekly nor an
    /// annual closure.
    #[must_use]
    pub fn future_open(&self, horizon: usize) -> Vec<bool> {
        let shut = self.annual_closed(horizon);
        self.future(horizon).iter().zip(shut).map(|((_, slot), shut)| slot.is_some() && !shut).collect()
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

/// Whether weekday `w` traded on improbably few of its days (at most [`CLOSURE_MAX_PROBABILITY`],
/// binomially) at the rate the other weekdays traded (`traded[d]` of `occurrences[d]`, Monday
/// first). The features' calendar asks it too, so both agree on what a weekly closure is.
pub(crate) fn improbably_few(w: usize, traded: &[u32; 7], occurrences: &[u32; 7]) -> bool {
    let others: u32 = occurrences.iter().sum::<u32>() - occurrences[w];
    let others_traded: u32 = traded.iter().sum::<u32>() - traded[w];
    // None seen on the other weekdays: nothing to tell a closure by.
    let rate = if others == 0 { 1.0 } else { f64::from(others_traded) / f64::from(others) };
    binomial_at_most(traded[w], occurrences[w], rate) <= CLOSURE_MAX_PROBABILITY
}

/// `P(X <= k)` for `X ~ Binomial(n, p)`.
fn binomial_at_most(k: u32, n: u32, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if k >= n { 1.0 } else { 0.0 };
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    // ln C(n, i) built up term by term.
    let mut ln_choose = 0.0;
    let mut total = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            ln_choose += f64::from(n - i + 1).ln() - f64::from(i).ln();
        }
        total += (ln_choose + f64::from(i) * ln_p + f64::from(n - i) * ln_q).exp();
    }
    total.min(1.0)
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
    fn a_slow_sku_alone_has_quiet_days_not_closures() {
        // One SKU selling every eighth day for 300 days: no weekday stands out, and a day without
        // its sale is as likely as not were the shop open.
        let first = day("2011-01-03");
        let series =
            vec![(0..300usize).map(|i| if i.is_multiple_of(8) { 10.0 } else { 0.0 }).collect::<Vec<f64>>()];
        let calendar = TradingCalendar::from_demand(first, &series);
        assert!(calendar.closed_weekdays.is_empty(), "{:?}", calendar.closed_weekdays);
        assert!(calendar.open.iter().all(|&o| o), "every day open");
        // Every twelfth day: over 90 % of each weekday's days are without a sale, still no closure.
        let series =
            vec![(0..700usize).map(|i| if i.is_multiple_of(12) { 10.0 } else { 0.0 }).collect::<Vec<f64>>()];
        assert!(TradingCalendar::from_demand(first, &series).closed_weekdays.is_empty());
    }

    #[test]
    fn a_shop_range_keeps_the_issue_rule_closures_and_holidays() {
        // Three SKUs selling every weekday but Saturday, and nothing on one Wednesday (a holiday):
        // with each selling daily, a day without any sale is improbable open.
        let first = day("2011-01-03");
        let sku = |offset: usize| {
            (0..56)
                .map(|i| if i % 7 == 5 || i == 9 || (i + offset).is_multiple_of(11) { 0.0 } else { 2.0 })
                .collect()
        };
        let series: Vec<Vec<f64>> = vec![sku(0), sku(3), sku(7)];
        let calendar = TradingCalendar::from_demand(first, &series);
        assert_eq!(calendar.closed_weekdays, vec![Weekday::Sat]);
        assert!(!calendar.open[9], "the holiday is closed");
        assert_eq!(calendar.open_days().0.len(), 56 - 8 - 1);
        // A slow seller selling Monday to Friday on a third of days: its weekends are closures.
        let slow: Vec<f64> =
            (0..140usize).map(|i| if i % 7 < 5 && i.is_multiple_of(3) { 1.0 } else { 0.0 }).collect();
        let calendar = TradingCalendar::from_demand(first, &[slow]);
        assert_eq!(calendar.closed_weekdays, vec![Weekday::Sat, Weekday::Sun]);
        assert!(calendar.open_days().0.len() == 100, "every weekday open: {}", calendar.open_days().0.len());
    }

    #[test]
    fn a_discontinued_sku_does_not_close_the_quiet_days_of_those_still_selling() {
        // Two SKUs sell every day for 200 days and stop; a slow one sells every fifth day for
        // 400 days. Its quiet days after the others stopped are open.
        let first = day("2011-01-03");
        let steady: Vec<f64> = (0..400).map(|i| if i < 200 { 3.0 } else { 0.0 }).collect();
        let slow: Vec<f64> = (0..400usize).map(|i| if i.is_multiple_of(5) { 1.0 } else { 0.0 }).collect();
        let calendar = TradingCalendar::from_demand(first, &[steady.clone(), steady, slow]);
        // Only the run of quiet days the stop falls in (201-204) is closed: a daily seller counts
        // for three of its gaps, three days, after its last sale, and those days are improbable
        // open.
        let closed: Vec<usize> = (200..400).filter(|&d| !calendar.open[d]).collect();
        assert_eq!(closed, vec![201, 202, 203, 204]);
        assert!(calendar.closed_weekdays.is_empty());
    }

    #[test]
    fn binomial_tails_by_hand() {
        assert!((binomial_at_most(0, 2, 0.5) - 0.25).abs() < 1e-12);
        assert!((binomial_at_most(1, 3, 0.5) - 0.5).abs() < 1e-12);
        assert!((binomial_at_most(3, 3, 0.3) - 1.0).abs() < 1e-12);
        assert!(binomial_at_most(0, 53, 0.98) < 1e-80);
        assert_eq!(binomial_at_most(0, 5, 1.0), 0.0);
        assert_eq!(binomial_at_most(0, 5, 0.0), 1.0);
    }

    #[test]
    fn a_closure_of_a_week_or_more_recurs_a_year_later_and_a_shorter_one_does_not() {
        // A year from 2010-12-01, shut 2010-12-23..2011-01-04 (13 days) and Easter (4 days).
        let first = day("2010-12-01");
        let span = usize::try_from((day("2011-12-09") - first).num_days()).unwrap() + 1;
        let shut = |d: NaiveDate| {
            (day("2010-12-23")..=day("2011-01-04")).contains(&d)
                || (day("2011-04-22")..=day("2011-04-25")).contains(&d)
        };
        let traded: Vec<bool> = (0..span).map(|i| !shut(add_days(first, i))).collect();
        let calendar = TradingCalendar::infer(first, &traded);
        assert_eq!(calendar.annual_closures(), [(day("2010-12-23"), day("2011-01-04"))]);
        let future = calendar.future(40);
        let shut = calendar.annual_closed(40);
        let closed: Vec<NaiveDate> =
            future.iter().zip(&shut).filter(|(_, s)| **s).map(|((d, _), _)| *d).collect();
        let expected: Vec<NaiveDate> = (0..13).map(|i| add_days(day("2011-12-23"), i)).collect();
        assert_eq!(closed, expected);
        assert_eq!(calendar.future_open(40).iter().filter(|o| !**o).count(), 13);
        assert!(future.iter().all(|(_, slot)| slot.is_some()), "the models' steps are the weekly calendar's");
        // A history starting with quiet days (before the first sale) carries nothing over.
        let late_start: Vec<bool> = (0..span).map(|i| i >= 10).collect();
        assert!(TradingCalendar::infer(first, &late_start).annual_closures().is_empty());
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
