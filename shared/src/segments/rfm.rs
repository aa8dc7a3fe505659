//! RFM per customer from the `rfm_inputs` feature table: recency (days since the last sale at a
//! reference date), frequency (distinct sale invoices), monetary (net spend after cancellations),
//! and the classic 1-5 scores.

use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::SegmentError;

/// The last day of the data: the last date in `daily_demand` (SKU x open day net units over
/// the calendar, which runs to the file's last line of any kind: guests' sales, cancellations),
/// if it has rows.
///
/// # Errors
/// A table without its `date` column.
pub fn last_day(daily_demand: &DataFrame) -> Result<Option<NaiveDate>, SegmentError> {
    if daily_demand.height() == 0 {
        return Ok(None);
    }
    Ok(daily_demand.column("date")?.date()?.as_date_iter().flatten().max())
}

/// RFM values of every customer, column-wise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RfmTable {
    /// Customer keys.
    pub customers: Vec<String>,
    /// Whole days from the last sale to the reference date.
    pub recency_days: Vec<f64>,
    /// Distinct sale invoices.
    pub frequency: Vec<f64>,
    /// Net spend: sales minus cancellations.
    pub monetary: Vec<f64>,
    /// The date recency is measured at.
    pub reference: Option<NaiveDateTime>,
}

impl RfmTable {
    /// Reads `rfm_inputs` (columns `customer_id`, `last_time`, `invoices`, `net_spend`).
    /// Recency is measured at `reference`, or by default at midnight after the data ends: after
    /// `data_end` (see [`last_day`]) or the last customer sale, whichever is later.
    ///
    /// # Errors
    /// [`SegmentError::ReferenceBeforeLastSale`] when `reference` falls before the day of the
    /// last customer sale (recency would be negative, and counts after it would be counted
    /// anyway); a table that breaks the contract.
    pub fn from_inputs(
        inputs: &DataFrame,
        reference: Option<NaiveDateTime>,
        data_end: Option<NaiveDate>,
    ) -> Result<Self, SegmentError> {
        let customers = inputs.column("customer_id")?.str()?.clone();
        let last = inputs.column("last_time")?.cast(&DataType::Int64)?;
        let last = last.i64()?;
        let invoices = inputs.column("invoices")?.cast(&DataType::Float64)?;
        let invoices = invoices.f64()?;
        let spend = inputs.column("net_spend")?.f64()?.clone();
        let to_time = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.naive_utc());
        let last_sale = last.max().and_then(to_time);
        let reference = match reference {
            Some(reference) => {
                if let Some(last_sale) = last_sale.filter(|l| reference.date() < l.date()) {
                    return Err(SegmentError::ReferenceBeforeLastSale {
                        reference: reference.date(),
                        last_sale: last_sale.date(),
                    });
                }
                Some(reference)
            }
            None => last_sale
                .map(|t| t.date())
                .max(data_end)
                .and_then(|d| (d + chrono::Days::new(1)).and_hms_opt(0, 0, 0)),
        };
        let mut table = Self { reference, ..Self::default() };
        for i in 0..inputs.height() {
            let (Some(customer), Some(last), Some(frequency), Some(monetary)) =
                (customers.get(i), last.get(i).and_then(to_time), invoices.get(i), spend.get(i))
            else {
                return Err(SegmentError::MissingValue { row: i });
            };
            let days = reference.map_or(0, |r| (r - last).num_days().max(0));
            table.customers.push(customer.to_owned());
            table.recency_days.push(days as f64);
            table.frequency.push(frequency);
            // Summed prices carry float dust (1e-14 for a spend netted to nothing): pennies.
            table.monetary.push((monetary * 100.0).round() / 100.0);
        }
        Ok(table)
    }

    /// Number of customers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    /// The 1-5 scores (recency: recent = 5; frequency and monetary: high = 5), by quintile of
    /// mid-rank; tied values share a score ([`quintiles`]).
    #[must_use]
    pub fn scores(&self) -> Vec<[u8; 3]> {
        let r = quintiles(&self.recency_days, true);
        let f = quintiles(&self.frequency, false);
        let m = quintiles(&self.monetary, false);
        (0..self.len()).map(|i| [r[i], f[i], m[i]]).collect()
    }
}

/// Quintile score 1-5 of each value by its mid-rank: the share of values worse than it plus half
/// the share equal to it (itself included) decides the quintile, so a block of tied values scores
/// by where its middle falls, not by its bottom (a third of customers with one invoice each share
/// the score of the sixth of the ranking their middle sits in; all values equal score 3).
#[must_use]
pub fn quintiles(values: &[f64], lower_is_better: bool) -> Vec<u8> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = values.len().max(1) as f64;
    values
        .iter()
        .map(|v| {
            let below = sorted.partition_point(|x| x < v);
            let not_above = sorted.partition_point(|x| x <= v);
            let worse = if lower_is_better { sorted.len() - not_above } else { below };
            let mid_rank = worse as f64 + 0.5 * (not_above - below) as f64;
            (1.0 + (5.0 * mid_rank / n).floor()).min(5.0) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_score_five_for_the_top_fifth_and_ties_share_a_score() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quintiles(&values, false), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        assert_eq!(quintiles(&values, true), [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
        assert_eq!(quintiles(&[3.0, 3.0, 3.0], false), [3, 3, 3]);
        // Four of ten tied at the bottom: their middle falls in the second fifth.
        let tied = [1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        assert_eq!(quintiles(&tied, false), [2, 2, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Best when lower: they hold the top four tenths, their middle at 0.8.
        assert_eq!(quintiles(&tied, true), [5, 5, 5, 5, 3, 3, 2, 2, 1, 1]);
    }

    #[test]
    fn recency_is_measured_from_midnight_after_the_last_sale_by_default() {
        let day = |d: &str| chrono::NaiveDateTime::parse_from_str(d, "%Y-%m-%d %H:%M").unwrap();
        let ms = |d: &str| day(d).and_utc().timestamp_millis();
        let inputs = df!(
            "customer_id" => ["a", "b"],
            "last_time" => [ms("2011-12-09 12:00"), ms("2011-12-01 09:00")],
            "invoices" => [3u32, 1],
            "net_spend" => [100.0, -5.0],
        )
        .unwrap();
        let mut inputs = inputs;
        inputs
            .apply("last_time", |c| c.cast(&DataType::Datetime(TimeUnit::Milliseconds, None)).unwrap())
            .unwrap();
        let table = RfmTable::from_inputs(&inputs, None, None).unwrap();
        assert_eq!(table.reference, Some(day("2011-12-10 00:00")));
        assert_eq!(table.recency_days, [0.0, 8.0]);
        assert_eq!(table.frequency, [3.0, 1.0]);
        assert_eq!(table.monetary, [100.0, -5.0]);
        // Guests bought until the 12th: the data ends then, and recency counts to it.
        let end = chrono::NaiveDate::from_ymd_opt(2011, 12, 12);
        let table = RfmTable::from_inputs(&inputs, None, end).unwrap();
        assert_eq!(table.reference, Some(day("2011-12-13 00:00")));
        assert_eq!(table.recency_days, [3.0, 11.0]);
        // A reference on the last sale's day counts it as today's; before it, refused.
        let table = RfmTable::from_inputs(&inputs, Some(day("2011-12-09 00:00")), end).unwrap();
        assert_eq!(table.recency_days, [0.0, 7.0]);
        let error = RfmTable::from_inputs(&inputs, Some(day("2011-01-01 00:00")), end).unwrap_err();
        assert!(error.to_string().contains("2011-12-09"), "{error}");
    }
}
