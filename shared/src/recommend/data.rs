//! Interactions as we train on them: string ids mapped to dense indices, and the user x item
//! matrix in compressed sparse row form (plus its transpose), built once per fit.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::errors::{RecommendError, Result};

/// One user x item interaction with string ids, as read from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The user (customer) id.
    pub user: String,
    /// The item (stock code, movie) id.
    pub item: String,
    /// Implicit-feedback strength (distinct invoices; 1 for binary feedback).
    pub weight: f32,
    /// When it (first) happened, seconds since the Unix epoch; 0 when unknown.
    pub ts: i64,
}

/// A bijection between string ids and dense `u32` indices, in first-seen order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdMap {
    names: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

impl IdMap {
    /// The index of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).expect("fewer than 2^32 ids");
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    /// The index of `name`, if known.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// The name at `index`.
    #[must_use]
    pub fn name(&self, index: u32) -> &str {
        &self.names[index as usize]
    }

    /// How many ids.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no ids.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Rebuilds the lookup table after deserialisation (it is not stored).
    pub fn rebuild_index(&mut self) {
        self.index = self.names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
    }
}

/// A sparse matrix in compressed sparse row form, `f32` values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Csr {
    /// Rows.
    pub n_rows: usize,
    /// Columns.
    pub n_cols: usize,
    /// Row `r` spans `indices[indptr[r]..indptr[r + 1]]`.
    pub indptr: Vec<usize>,
    /// Column of each stored value, ascending within a row.
    pub indices: Vec<u32>,
    /// The stored values.
    pub values: Vec<f32>,
}

impl Csr {
    /// Builds from `(row, col, value)` triplets; duplicates are summed.
    #[must_use]
    pub fn from_triplets(n_rows: usize, n_cols: usize, triplets: &[(u32, u32, f32)]) -> Self {
        let mut counts = vec![0usize; n_rows + 1];
        for &(r, _, _) in triplets {
            counts[r as usize + 1] += 1;
        }
        for r in 0..n_rows {
            counts[r + 1] += counts[r];
        }
        let mut next = counts.clone();
        let mut cols = vec![(0u32, 0f32); triplets.len()];
        for &(r, c, v) in triplets {
            cols[next[r as usize]] = (c, v);
            next[r as usize] += 1;
        }
        let mut indptr = Vec::with_capacity(n_rows + 1);
        let mut indices = Vec::with_capacity(triplets.len());
        let mut values = Vec::with_capacity(triplets.len());
        indptr.push(0);
        for r in 0..n_rows {
            let row = &mut cols[counts[r]..counts[r + 1]];
            row.sort_unstable_by_key(|&(c, _)| c);
            for &(c, v) in row.iter() {
                if indices.len() > indptr[r] && *indices.last().expect("non-empty") == c {
                    *values.last_mut().expect("non-empty") += v;
                } else {
                    indices.push(c);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Self { n_rows, n_cols, indptr, indices, values }
    }

    /// Builds from rows of `(column, value)` pairs in any order (columns distinct within a row),
    /// without the triplet copy of [`Csr::from_triplets`].
    #[must_use]
    pub fn from_rows(n_cols: usize, rows: Vec<Vec<(u32, f32)>>) -> Self {
        let nnz = rows.iter().map(Vec::len).sum();
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let mut indices = Vec::with_capacity(nnz);
        let mut values = Vec::with_capacity(nnz);
        indptr.push(0);
        let n_rows = rows.len();
        for mut row in rows {
            row.sort_unstable_by_key(|&(c, _)| c);
            indices.extend(row.iter().map(|&(c, _)| c));
            values.extend(row.iter().map(|&(_, v)| v));
            indptr.push(indices.len());
        }
        Self { n_rows, n_cols, indptr, indices, values }
    }

    /// The transpose (CSR of the transpose = CSC of this), by a counting sort: `O(nnz)` time
    /// and no memory beyond the result (20M interactions would need 240 MB of triplets).
    #[must_use]
    pub fn transpose(&self) -> Self {
        let mut indptr = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            indptr[c as usize + 1] += 1;
        }
        for c in 0..self.n_cols {
            indptr[c + 1] += indptr[c];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        // Rows in order, so each transposed row's columns come out ascending.
        for r in 0..self.n_rows {
            for p in self.indptr[r]..self.indptr[r + 1] {
                let c = self.indices[p] as usize;
                indices[next[c]] = r as u32;
                values[next[c]] = self.values[p];
                next[c] += 1;
            }
        }
        Self { n_rows: self.n_cols, n_cols: self.n_rows, indptr, indices, values }
    }

    /// Row `r` as `(column, value)` pairs.
    pub fn row(&self, r: usize) -> impl Iterator<Item = (u32, f32)> + '_ {
        let span = self.indptr[r]..self.indptr[r + 1];
        self.indices[span.clone()].iter().copied().zip(self.values[span].iter().copied())
    }

    /// Adds `weight` x row `r` into the dense `out` at the row's columns only, pushing each
    /// column reached for the first time (its `out` still 0) onto `touched`: sparse
    /// accumulation whose cost is the row's length, not the width of `out`.
    pub fn accumulate_row(&self, r: usize, weight: f32, out: &mut [f32], touched: &mut Vec<u32>) {
        for (j, s) in self.row(r) {
            let add = weight * s;
            if add != 0.0 {
                if out[j as usize] == 0.0 {
                    touched.push(j);
                }
                out[j as usize] += add;
            }
        }
    }

    /// Two-hop counts of row `r`: for each column `m` of row `r` here, each column `c` of row
    /// `m` of `next` is counted once; `visit(c, count)` then sees every column reached. `acc`
    /// (one slot per column of `next`, all 0) and `touched` (empty) are scratch, left as found:
    /// the cost is the paths walked, not the width of `next`. Co-occurrence counts items
    /// through their users, similar users count users through their items.
    pub fn count_two_hop(
        &self,
        r: usize,
        next: &Csr,
        acc: &mut [u32],
        touched: &mut Vec<u32>,
        mut visit: impl FnMut(u32, u32),
    ) {
        for &m in self.row_indices(r) {
            for &c in next.row_indices(m as usize) {
                if acc[c as usize] == 0 {
                    touched.push(c);
                }
                acc[c as usize] += 1;
            }
        }
        for &c in touched.iter() {
            visit(c, std::mem::take(&mut acc[c as usize]));
        }
        touched.clear();
    }

    /// The columns of row `r`.
    #[must_use]
    pub fn row_indices(&self, r: usize) -> &[u32] {
        &self.indices[self.indptr[r]..self.indptr[r + 1]]
    }

    /// Stored values.
    #[must_use]
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }
}

/// Keeps the `n` highest-scored entries of `row` (ties: the lower column), in no particular
/// order, and frees the rest of its capacity.
pub fn keep_best(row: &mut Vec<(u32, f32)>, n: usize) {
    if row.len() > n {
        row.select_nth_unstable_by(n, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        row.truncate(n);
    }
    row.shrink_to_fit();
}

/// Training interactions with dense ids: what every model's `fit` takes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Interactions {
    /// User ids.
    pub users: IdMap,
    /// Item ids.
    pub items: IdMap,
    /// Users x items, value = weight (duplicates summed).
    pub matrix: Csr,
    /// Users x items, same pattern, value = first time (seconds); for time decay.
    pub times: Csr,
}

impl Interactions {
    /// Maps records to dense ids; a user x item pair seen twice sums weights and keeps the
    /// earliest time.
    #[must_use]
    pub fn from_records(records: &[Record]) -> Self {
        let mut users = IdMap::default();
        let mut items = IdMap::default();
        let mut pairs: HashMap<(u32, u32), (f32, i64)> = HashMap::with_capacity(records.len());
        let mut order = Vec::with_capacity(records.len());
        for r in records {
            let key = (users.intern(&r.user), items.intern(&r.item));
            pairs
                .entry(key)
                .and_modify(|(w, t)| {
                    *w += r.weight;
                    *t = (*t).min(r.ts);
                })
                .or_insert_with(|| {
                    order.push(key);
                    (r.weight, r.ts)
                });
        }
        let weights: Vec<_> = order.iter().map(|&(u, i)| (u, i, pairs[&(u, i)].0)).collect();
        // Times as f32 would lose seconds; they are stored relative to the latest time, in days.
        let latest = pairs.values().map(|&(_, t)| t).max().unwrap_or(0);
        let times: Vec<_> =
            order.iter().map(|&(u, i)| (u, i, (latest - pairs[&(u, i)].1) as f32 / 86_400.0)).collect();
        let matrix = Csr::from_triplets(users.len(), items.len(), &weights);
        let times = Csr::from_triplets(users.len(), items.len(), &times);
        Self { users, items, matrix, times }
    }

    /// Users.
    #[must_use]
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Items.
    #[must_use]
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// The same users and items restricted to a subset of the interactions (by position in
    /// `matrix`), ids kept so scores line up; used to carve a validation slice.
    #[must_use]
    pub fn subset(&self, keep: &[bool]) -> Self {
        let filter = |m: &Csr| {
            let mut indptr = Vec::with_capacity(m.n_rows + 1);
            indptr.push(0);
            let kept = keep.iter().filter(|&&k| k).count();
            let mut indices = Vec::with_capacity(kept);
            let mut values = Vec::with_capacity(kept);
            for r in 0..m.n_rows {
                for p in (m.indptr[r]..m.indptr[r + 1]).filter(|&p| keep[p]) {
                    indices.push(m.indices[p]);
                    values.push(m.values[p]);
                }
                indptr.push(indices.len());
            }
            Csr { n_rows: m.n_rows, n_cols: m.n_cols, indptr, indices, values }
        };
        Self {
            users: self.users.clone(),
            items: self.items.clone(),
            matrix: filter(&self.matrix),
            times: filter(&self.times),
        }
    }
}

/// Reads `user,item[,weight][,ts]` CSV (header row; optionally gzip when the name ends in `.gz`).
/// `ts` is Unix seconds or `YYYY-MM-DD HH:MM:SS`. Errors name the file, line and column.
///
/// # Errors
/// I/O errors, a header with fewer than 2 or more than 4 columns, empty ids, a weight that is
/// not a finite number >= 0, or an unreadable time.
pub fn read_interactions_csv(path: &Path) -> Result<Vec<Record>> {
    let io = |source| RecommendError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    parse_interactions_csv(&path.display().to_string(), reader)
}

/// [`read_interactions_csv`] over any reader; `name` is used in errors.
///
/// # Errors
/// As [`read_interactions_csv`].
pub fn parse_interactions_csv(name: &str, reader: impl Read) -> Result<Vec<Record>> {
    let invalid = |line: u64, column: &str, reason: String| RecommendError::InvalidRow {
        file: name.to_owned(),
        line,
        column: column.to_owned(),
        reason,
    };
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(reader);
    let header = csv.headers().map_err(|e| invalid(1, "header", e.to_string()))?.clone();
    if !(2..=4).contains(&header.len()) {
        return Err(invalid(
            1,
            "header",
            format!("expected user,item[,weight][,ts], found {} columns", header.len()),
        ));
    }
    let names: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    let mut records = Vec::new();
    for (n, row) in csv.records().enumerate() {
        let line = n as u64 + 2;
        let row = row.map_err(|e| invalid(line, "row", e.to_string()))?;
        if row.len() != names.len() {
            return Err(invalid(
                line,
                "row",
                format!("{} fields, the header has {}", row.len(), names.len()),
            ));
        }
        let user = row[0].trim();
        let item = row[1].trim();
        if user.is_empty() {
            return Err(invalid(line, &names[0], "empty id".into()));
        }
        if item.is_empty() {
            return Err(invalid(line, &names[1], "empty id".into()));
        }
        let weight = match row.get(2).map(str::trim) {
            None | Some("") => 1.0,
            Some(text) => match text.parse::<f32>() {
                Ok(w) if w.is_finite() && w >= 0.0 => w,
                Ok(w) if w.is_infinite() && text.parse::<f64>().is_ok_and(f64::is_finite) => {
                    return Err(invalid(
                        line,
                        &names[2],
                        format!("`{text}` is too large (weights are 32-bit floats, at most {:e})", f32::MAX),
                    ));
                }
                _ => return Err(invalid(line, &names[2], format!("`{text}` is not a number >= 0"))),
            },
        };
        let ts = match row.get(3).map(str::trim) {
            None | Some("") => 0,
            Some(text) => parse_time(text).ok_or_else(|| {
                invalid(line, &names[3], format!("`{text}` is neither Unix seconds nor YYYY-MM-DD HH:MM:SS"))
            })?,
        };
        records.push(Record { user: user.to_owned(), item: item.to_owned(), weight, ts });
    }
    Ok(records)
}

/// Unix seconds, or a `YYYY-MM-DD HH:MM[:SS]` / `YYYY-MM-DD` date-time taken as UTC.
#[must_use]
pub fn parse_time(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp());
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// Writes records as `user,item,weight,ts` with a header.
///
/// # Errors
/// I/O errors.
pub fn write_interactions_csv(path: &Path, records: &[Record]) -> Result<()> {
    let io = |source| RecommendError::Io { path: path.to_owned(), source };
    let mut out = csv::Writer::from_path(path).map_err(|e| io(e.into()))?;
    out.write_record(["user", "item", "weight", "ts"]).map_err(|e| io(e.into()))?;
    for r in records {
        out.write_record([r.user.as_str(), r.item.as_str(), &r.weight.to_string(), &r.ts.to_string()])
            .map_err(|e| io(e.into()))?;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_sums_duplicates_and_transposes() {
        let m = Csr::from_triplets(2, 3, &[(1, 2, 1.0), (0, 1, 2.0), (1, 2, 3.0), (1, 0, 1.0)]);
        assert_eq!(m.indptr, vec![0, 1, 3]);
        assert_eq!(m.indices, vec![1, 0, 2]);
        assert_eq!(m.values, vec![2.0, 1.0, 4.0]);
        let t = m.transpose();
        assert_eq!((t.n_rows, t.n_cols), (3, 2));
        assert_eq!(t.indptr, vec![0, 1, 2, 3]);
        assert_eq!(t.row(2).collect::<Vec<_>>(), vec![(1, 4.0)]);
        assert_eq!(t.row(0).collect::<Vec<_>>(), vec![(1, 1.0)]);
        let back = t.transpose();
        assert_eq!((back.indptr, back.indices, back.values), (m.indptr, m.indices, m.values));
    }

    #[test]
    fn rows_in_any_order_become_sorted_csr() {
        let m = Csr::from_rows(4, vec![vec![(3, 1.0), (0, 2.0)], vec![], vec![(1, 5.0)]]);
        assert_eq!(m.indptr, vec![0, 2, 2, 3]);
        assert_eq!(m.indices, vec![0, 3, 1]);
        assert_eq!(m.values, vec![2.0, 1.0, 5.0]);
    }

    #[test]
    fn a_bad_weight_is_reported_with_file_line_and_column() {
        let text = "user,item,weight\nu1,a,1\nu2,b,lots\n";
        let err = parse_interactions_csv("x.csv", text.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "x.csv:3: column `weight`: `lots` is not a number >= 0");
        let err = parse_interactions_csv("x.csv", &b"user,item,weight\nu1,i1,1e39\n"[..]).unwrap_err();
        assert!(err.to_string().contains("`1e39` is too large"), "{err}");
    }

    #[test]
    fn times_accept_seconds_and_datetimes_and_duplicates_keep_the_first() {
        let text = "user,item,weight,ts\nu,a,1,100\nu,a,2,2011-01-01 00:00:00\nv,b,1,2011-01-02\n";
        let records = parse_interactions_csv("x.csv", text.as_bytes()).unwrap();
        assert_eq!(records[1].ts, 1_293_840_000);
        let data = Interactions::from_records(&records);
        assert_eq!(data.matrix.values, vec![3.0, 1.0]);
        // Ages are days before the latest interaction (2011-01-02): (u, a) first happened at 100 s.
        assert_eq!(data.times.values, vec![(1_293_926_400 - 100) as f32 / 86_400.0, 0.0]);
    }
}
