//! Feature tables to and from Parquet bytes, for the caller to store through a `BlobStore`.

use std::io::Cursor;

use bytes::Bytes;
use polars::prelude::{DataFrame, ParquetReader, ParquetWriter, SerReader};

use super::FeatureError;

/// A table as Parquet (zstd, polars' default), with its arrow schema so that reading gives
/// back the same types (`u32`, `date`, `datetime[ms]`).
///
/// `df` is mutable because polars may rechunk it before writing.
///
/// # Errors
/// [`FeatureError::Polars`] if polars cannot encode the table.
pub fn write_parquet(df: &mut DataFrame) -> Result<Bytes, FeatureError> {
    let mut buffer = Vec::new();
    ParquetWriter::new(&mut buffer).finish(df)?;
    Ok(Bytes::from(buffer))
}

/// A table from Parquet bytes, as written by [`write_parquet`] (or any Parquet writer).
///
/// # Errors
/// [`FeatureError::Polars`] if the bytes are not a readable Parquet file.
pub fn read_parquet(bytes: &[u8]) -> Result<DataFrame, FeatureError> {
    Ok(ParquetReader::new(Cursor::new(bytes)).finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_parquet_are_a_polars_error() {
        let error = read_parquet(b"not parquet").unwrap_err();
        assert!(matches!(error, FeatureError::Polars(_)), "{error}");
    }
}
