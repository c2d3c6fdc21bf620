//! Flat tables written to files, with no dependencies at all.
//!
//! aquatwin keeps polars/arrow out of its core crates (they take far too
//! long to build on the project's 2-core machines), yet users want tables
//! they can open with `pandas.read_parquet` or `polars.read_parquet`. This
//! crate is our own small Parquet writer for exactly what aquatwin emits: a
//! flat table of `i64` (optionally a UTC millisecond timestamp), `f64`,
//! nullable `f64` and UTF-8 string columns, PLAIN-encoded and uncompressed,
//! written in row groups of bounded size so memory stays bounded however
//! long the table.
//!
//! ```
//! use tabular::{Column, ColumnType, ParquetWriter, Value};
//! let mut w = ParquetWriter::new(
//!     Vec::new(),
//!     vec![
//!         Column::new("time_s", ColumnType::Int64),
//!         Column::new("node", ColumnType::Utf8),
//!         Column::new("head_m", ColumnType::Double),
//!     ],
//! )
//! .unwrap();
//! w.write_row(&[Value::Int(0), Value::Str("n1"), Value::Double(12.5)]).unwrap();
//! let bytes = w.finish().unwrap();
//! assert_eq!(&bytes[..4], b"PAR1");
//! assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
//! ```
//!
//! Limits, by design: no compression, no dictionary or other non-PLAIN
//! value encodings, no nested or repeated types, one data page per column
//! per row group, no page index or bloom filters. No reader either: the
//! tests check the files with a real Parquet reader (pyarrow).

pub mod parquet;
mod thrift;

pub use parquet::{Column, ColumnType, ParquetWriter, Value};
