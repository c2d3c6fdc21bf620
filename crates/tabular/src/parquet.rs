//! A streaming writer of flat Parquet files.
//!
//! Layout written (see the Apache Parquet format specification):
//!
//! ```text
//! "PAR1"
//! row group 0: column chunk 0 = PageHeader + data page, column chunk 1 …
//! row group 1: …
//! FileMetaData (Thrift compact protocol)
//! footer length (u32, little-endian)
//! "PAR1"
//! ```
//!
//! Every column chunk is one DATA_PAGE (v1), PLAIN-encoded, UNCOMPRESSED.
//! Nullable columns carry definition levels (max level 1) in the
//! RLE/bit-packed hybrid encoding, prefixed by their byte length; required
//! columns carry no levels. Column statistics (min/max, null count) go into
//! the footer's column metadata, with type-defined column orders so readers
//! may use them.
//!
//! Rows are buffered column-wise until `row_group_size` rows (or about
//! [`MAX_BUFFERED_BYTES`]) are held, then written out as a row group: memory
//! stays bounded however many rows are written. The output needs only
//! [`Write`] (no seeking), so standard output works.

use crate::thrift::{ty, Compact};
use std::io::{self, Write};

/// Default rows per row group.
pub const DEFAULT_ROW_GROUP_SIZE: usize = 65_536;
/// A row group is flushed early once its buffered pages reach this size.
pub const MAX_BUFFERED_BYTES: usize = 128 << 20;
/// String statistics are omitted for a chunk holding a longer value.
const MAX_STRING_STAT: usize = 64;

const MAGIC: &[u8; 4] = b"PAR1";

// Parquet enums (parquet.thrift).
const TYPE_INT64: i32 = 2;
const TYPE_DOUBLE: i32 = 5;
const TYPE_BYTE_ARRAY: i32 = 6;
const CONVERTED_UTF8: i32 = 0;
const CONVERTED_TIMESTAMP_MILLIS: i32 = 9;
const REQUIRED: i32 = 0;
const OPTIONAL: i32 = 1;
const ENCODING_PLAIN: i32 = 0;
const ENCODING_RLE: i32 = 3;
const CODEC_UNCOMPRESSED: i32 = 0;
const PAGE_DATA: i32 = 0;

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// INT64, required.
    Int64,
    /// INT64 milliseconds since 1970-01-01T00:00:00Z, annotated as a UTC
    /// TIMESTAMP(MILLIS) (pandas: `datetime64[ms, UTC]`), required.
    TimestampMillis,
    /// DOUBLE, required.
    Double,
    /// DOUBLE, optional: rows may be [`Value::Null`].
    NullableDouble,
    /// BYTE_ARRAY annotated as a UTF-8 STRING, required.
    Utf8,
}

impl ColumnType {
    fn physical(self) -> i32 {
        match self {
            ColumnType::Int64 | ColumnType::TimestampMillis => TYPE_INT64,
            ColumnType::Double | ColumnType::NullableDouble => TYPE_DOUBLE,
            ColumnType::Utf8 => TYPE_BYTE_ARRAY,
        }
    }

    fn nullable(self) -> bool {
        self == ColumnType::NullableDouble
    }
}

/// A column of the table: its name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Column {
        Column {
            name: name.into(),
            ty,
        }
    }
}

/// One cell of a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// For [`ColumnType::Int64`] and [`ColumnType::TimestampMillis`].
    Int(i64),
    /// For [`ColumnType::Double`] and [`ColumnType::NullableDouble`].
    Double(f64),
    /// For [`ColumnType::NullableDouble`] only.
    Null,
    /// For [`ColumnType::Utf8`].
    Str(&'a str),
}

impl From<Option<f64>> for Value<'_> {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Value::Null, Value::Double)
    }
}

/// Running min/max of one column chunk.
#[derive(Clone, Debug)]
enum Stats {
    Empty,
    Int(i64, i64),
    Double(f64, f64),
    Bytes(Vec<u8>, Vec<u8>),
    /// Not kept (a string too long to be a useful bound).
    Unavailable,
}

impl Stats {
    fn int(&mut self, v: i64) {
        match self {
            Stats::Empty => *self = Stats::Int(v, v),
            Stats::Int(lo, hi) => {
                *lo = (*lo).min(v);
                *hi = (*hi).max(v);
            }
            _ => {}
        }
    }

    fn double(&mut self, v: f64) {
        if v.is_nan() {
            return; // NaN is excluded from statistics
        }
        match self {
            Stats::Empty => *self = Stats::Double(v, v),
            Stats::Double(lo, hi) => {
                if v < *lo {
                    *lo = v;
                }
                if v > *hi {
                    *hi = v;
                }
            }
            _ => {}
        }
    }

    fn bytes(&mut self, v: &[u8]) {
        if v.len() > MAX_STRING_STAT {
            *self = Stats::Unavailable;
            return;
        }
        match self {
            Stats::Empty => *self = Stats::Bytes(v.to_vec(), v.to_vec()),
            Stats::Bytes(lo, hi) => {
                if v < lo.as_slice() {
                    *lo = v.to_vec();
                }
                if v > hi.as_slice() {
                    *hi = v.to_vec();
                }
            }
            _ => {}
        }
    }

    /// PLAIN-encoded (min, max), if known.
    fn encoded(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        match self {
            Stats::Int(lo, hi) => Some((lo.to_le_bytes().to_vec(), hi.to_le_bytes().to_vec())),
            Stats::Double(lo, hi) => {
                // The spec: a zero minimum is written as -0.0, a zero maximum as +0.0.
                let lo = if *lo == 0.0 { -0.0 } else { *lo };
                let hi = if *hi == 0.0 { 0.0 } else { *hi };
                Some((lo.to_le_bytes().to_vec(), hi.to_le_bytes().to_vec()))
            }
            Stats::Bytes(lo, hi) => Some((lo.clone(), hi.clone())),
            Stats::Empty | Stats::Unavailable => None,
        }
    }
}

/// The rows of the current row group, one column.
struct ColumnBuf {
    /// PLAIN-encoded non-null values.
    values: Vec<u8>,
    /// Definition levels (nullable columns only): 1 = present, 0 = null.
    levels: Vec<bool>,
    nulls: u64,
    stats: Stats,
}

impl ColumnBuf {
    fn new() -> ColumnBuf {
        ColumnBuf {
            values: Vec::new(),
            levels: Vec::new(),
            nulls: 0,
            stats: Stats::Empty,
        }
    }
}

/// What the footer needs to know of a written column chunk.
struct ChunkMeta {
    data_page_offset: i64,
    total_size: i64,
    num_values: i64,
    nulls: i64,
    stats: Option<(Vec<u8>, Vec<u8>)>,
}

struct RowGroupMeta {
    chunks: Vec<ChunkMeta>,
    num_rows: i64,
}

/// Writes a flat table as a Parquet file, row by row.
///
/// Call [`ParquetWriter::finish`] at the end: without the footer it writes
/// there, the file is not readable.
pub struct ParquetWriter<W: Write> {
    out: W,
    pos: u64,
    columns: Vec<Column>,
    bufs: Vec<ColumnBuf>,
    buffered_rows: usize,
    buffered_bytes: usize,
    row_group_size: usize,
    groups: Vec<RowGroupMeta>,
    total_rows: u64,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl<W: Write> ParquetWriter<W> {
    /// Starts a file with these columns (at least one, names unique).
    pub fn new(mut out: W, columns: Vec<Column>) -> io::Result<ParquetWriter<W>> {
        if columns.is_empty() {
            return Err(invalid("a Parquet table needs at least one column".into()));
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|d| d.name == c.name) {
                return Err(invalid(format!("duplicate column name '{}'", c.name)));
            }
        }
        out.write_all(MAGIC)?;
        Ok(ParquetWriter {
            out,
            pos: MAGIC.len() as u64,
            bufs: columns.iter().map(|_| ColumnBuf::new()).collect(),
            columns,
            buffered_rows: 0,
            buffered_bytes: 0,
            row_group_size: DEFAULT_ROW_GROUP_SIZE,
            groups: Vec::new(),
            total_rows: 0,
        })
    }

    /// Rows per row group (default [`DEFAULT_ROW_GROUP_SIZE`]); at least 1.
    pub fn with_row_group_size(mut self, rows: usize) -> Self {
        self.row_group_size = rows.max(1);
        self
    }

    /// The table's columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Rows written so far (buffered ones included).
    pub fn rows(&self) -> u64 {
        self.total_rows
    }

    /// Appends one row: one value per column, of the column's type. A row
    /// that does not fit the schema is refused whole.
    pub fn write_row(&mut self, row: &[Value<'_>]) -> io::Result<()> {
        if row.len() != self.columns.len() {
            return Err(invalid(format!(
                "row of {} values for {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        for (c, v) in self.columns.iter().zip(row) {
            let ok = matches!(
                (c.ty, v),
                (
                    ColumnType::Int64 | ColumnType::TimestampMillis,
                    Value::Int(_)
                ) | (
                    ColumnType::Double | ColumnType::NullableDouble,
                    Value::Double(_)
                ) | (ColumnType::NullableDouble, Value::Null)
                    | (ColumnType::Utf8, Value::Str(_))
            );
            if !ok {
                return Err(invalid(format!(
                    "column '{}' is {:?}, got {v:?}",
                    c.name, c.ty
                )));
            }
        }
        for ((c, b), v) in self.columns.iter().zip(&mut self.bufs).zip(row) {
            let before = b.values.len();
            match *v {
                Value::Int(x) => {
                    b.values.extend_from_slice(&x.to_le_bytes());
                    b.stats.int(x);
                }
                Value::Double(x) => {
                    b.values.extend_from_slice(&x.to_le_bytes());
                    b.stats.double(x);
                }
                Value::Null => b.nulls += 1,
                Value::Str(s) => {
                    b.values.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    b.values.extend_from_slice(s.as_bytes());
                    b.stats.bytes(s.as_bytes());
                }
            }
            if c.ty.nullable() {
                b.levels.push(!matches!(v, Value::Null));
            }
            self.buffered_bytes += b.values.len() - before;
        }
        self.buffered_rows += 1;
        self.total_rows += 1;
        if self.buffered_rows >= self.row_group_size || self.buffered_bytes >= MAX_BUFFERED_BYTES {
            self.flush_row_group()?;
        }
        Ok(())
    }

    /// Writes the buffered rows out as a row group now (nothing if none).
    pub fn flush_row_group(&mut self) -> io::Result<()> {
        if self.buffered_rows == 0 {
            return Ok(());
        }
        let rows = self.buffered_rows;
        let mut chunks = Vec::with_capacity(self.columns.len());
        for (c, b) in self.columns.iter().zip(&mut self.bufs) {
            let mut page = Vec::new();
            if c.ty.nullable() {
                let levels = encode_levels(&b.levels);
                page.extend_from_slice(&(levels.len() as u32).to_le_bytes());
                page.extend_from_slice(&levels);
            }
            page.extend_from_slice(&b.values);
            let page_len = i32::try_from(page.len())
                .map_err(|_| invalid(format!("column '{}': data page over 2 GiB", c.name)))?;
            let header = page_header(rows as i32, page_len);
            let offset = self.pos;
            self.out.write_all(&header)?;
            self.out.write_all(&page)?;
            let total = (header.len() + page.len()) as u64;
            self.pos += total;
            chunks.push(ChunkMeta {
                data_page_offset: offset as i64,
                total_size: total as i64,
                num_values: rows as i64,
                nulls: b.nulls as i64,
                stats: b.stats.encoded(),
            });
            *b = ColumnBuf::new();
        }
        self.groups.push(RowGroupMeta {
            chunks,
            num_rows: rows as i64,
        });
        self.buffered_rows = 0;
        self.buffered_bytes = 0;
        Ok(())
    }

    /// Writes the remaining rows and the footer; returns the output (flushed).
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_row_group()?;
        let footer = self.file_metadata();
        self.out.write_all(&footer)?;
        self.out.write_all(&(footer.len() as u32).to_le_bytes())?;
        self.out.write_all(MAGIC)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// FileMetaData, Thrift compact.
    fn file_metadata(&self) -> Vec<u8> {
        let mut t = Compact::new();
        t.i32(1, 1); // version
                     // 2: schema — the root, then one leaf per column.
        t.list(2, ty::STRUCT, self.columns.len() + 1);
        t.begin_elem();
        t.binary(4, b"schema");
        t.i32(5, self.columns.len() as i32);
        t.end();
        for c in &self.columns {
            t.begin_elem();
            t.i32(1, c.ty.physical());
            t.i32(3, if c.ty.nullable() { OPTIONAL } else { REQUIRED });
            t.binary(4, c.name.as_bytes());
            match c.ty {
                ColumnType::Utf8 => {
                    t.i32(6, CONVERTED_UTF8);
                    t.begin(10); // LogicalType
                    t.begin(1); // STRING
                    t.end();
                    t.end();
                }
                ColumnType::TimestampMillis => {
                    t.i32(6, CONVERTED_TIMESTAMP_MILLIS);
                    t.begin(10); // LogicalType
                    t.begin(8); // TIMESTAMP
                    t.bool(1, true); // isAdjustedToUTC
                    t.begin(2); // unit: TimeUnit
                    t.begin(1); // MILLIS
                    t.end();
                    t.end();
                    t.end();
                    t.end();
                }
                _ => {}
            }
            t.end();
        }
        t.i64(3, self.total_rows as i64);
        // 4: row groups
        t.list(4, ty::STRUCT, self.groups.len());
        for g in &self.groups {
            t.begin_elem();
            t.list(1, ty::STRUCT, g.chunks.len());
            for (c, m) in self.columns.iter().zip(&g.chunks) {
                t.begin_elem(); // ColumnChunk
                t.i64(2, m.data_page_offset); // file_offset
                t.begin(3); // ColumnMetaData
                t.i32(1, c.ty.physical());
                if c.ty.nullable() {
                    t.list(2, ty::I32, 2);
                    t.i32_elem(ENCODING_PLAIN);
                    t.i32_elem(ENCODING_RLE);
                } else {
                    t.list(2, ty::I32, 1);
                    t.i32_elem(ENCODING_PLAIN);
                }
                t.list(3, ty::BINARY, 1);
                t.binary_elem(c.name.as_bytes());
                t.i32(4, CODEC_UNCOMPRESSED);
                t.i64(5, m.num_values);
                t.i64(6, m.total_size);
                t.i64(7, m.total_size);
                t.i64(9, m.data_page_offset);
                t.begin(12); // Statistics
                t.i64(3, m.nulls);
                if let Some((lo, hi)) = &m.stats {
                    t.binary(5, hi); // max_value
                    t.binary(6, lo); // min_value
                }
                t.end();
                t.end();
                t.end();
            }
            let size: i64 = g.chunks.iter().map(|m| m.total_size).sum();
            t.i64(2, size); // total_byte_size
            t.i64(3, g.num_rows);
            t.i64(5, g.chunks[0].data_page_offset); // file_offset
            t.i64(6, size); // total_compressed_size
            t.end();
        }
        t.binary(
            6,
            concat!("aquatwin-tabular version ", env!("CARGO_PKG_VERSION")).as_bytes(),
        );
        // 7: column orders — TYPE_ORDER for every column (min/max as written).
        t.list(7, ty::STRUCT, self.columns.len());
        for _ in &self.columns {
            t.begin_elem();
            t.begin(1);
            t.end();
            t.end();
        }
        t.end();
        t.finish()
    }
}

/// PageHeader of an uncompressed v1 data page, Thrift compact.
fn page_header(num_values: i32, size: i32) -> Vec<u8> {
    let mut t = Compact::new();
    t.i32(1, PAGE_DATA);
    t.i32(2, size); // uncompressed_page_size
    t.i32(3, size); // compressed_page_size
    t.begin(5); // DataPageHeader
    t.i32(1, num_values);
    t.i32(2, ENCODING_PLAIN);
    t.i32(3, ENCODING_RLE); // definition levels
    t.i32(4, ENCODING_RLE); // repetition levels (none: flat schema)
    t.end();
    t.end();
    t.finish()
}

fn uleb128(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Definition levels of bit width 1 in the RLE/bit-packed hybrid encoding
/// (without the length prefix). Levels are taken in groups of 8: a group of
/// equal levels extends an RLE run, a mixed one goes into a bit-packed run.
/// Only the final group may be short; if bit-packed it is zero-padded, which
/// the encoding allows at the end.
fn encode_levels(levels: &[bool]) -> Vec<u8> {
    enum Run {
        None,
        Rle(bool, usize),
        Packed(Vec<u8>),
    }
    fn emit(out: &mut Vec<u8>, run: Run) {
        match run {
            Run::None => {}
            Run::Rle(v, n) => {
                uleb128(out, (n as u64) << 1);
                out.push(v as u8);
            }
            Run::Packed(bytes) => {
                uleb128(out, ((bytes.len() as u64) << 1) | 1);
                out.extend_from_slice(&bytes);
            }
        }
    }
    let mut out = Vec::new();
    let mut run = Run::None;
    for group in levels.chunks(8) {
        let first = group[0];
        if group.iter().all(|&l| l == first) {
            match &mut run {
                Run::Rle(v, n) if *v == first => *n += group.len(),
                _ => emit(
                    &mut out,
                    std::mem::replace(&mut run, Run::Rle(first, group.len())),
                ),
            }
        } else {
            let byte = group
                .iter()
                .enumerate()
                .fold(0u8, |b, (i, &l)| b | ((l as u8) << i));
            match &mut run {
                Run::Packed(bytes) => bytes.push(byte),
                _ => emit(
                    &mut out,
                    std::mem::replace(&mut run, Run::Packed(vec![byte])),
                ),
            }
        }
    }
    emit(&mut out, run);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer(bytes: &[u8]) -> &[u8] {
        let n = bytes.len();
        let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
        &bytes[n - 8 - len..n - 8]
    }

    #[test]
    fn file_starts_and_ends_with_magic_and_footer_length_is_consistent() {
        let mut w = ParquetWriter::new(
            Vec::new(),
            vec![
                Column::new("t", ColumnType::TimestampMillis),
                Column::new("v", ColumnType::NullableDouble),
                Column::new("q", ColumnType::Utf8),
            ],
        )
        .unwrap();
        w.write_row(&[Value::Int(1_000), Value::Double(1.5), Value::Str("good")])
            .unwrap();
        w.write_row(&[Value::Int(2_000), Value::Null, Value::Str("timeout")])
            .unwrap();
        let b = w.finish().unwrap();
        assert_eq!(&b[..4], b"PAR1");
        assert_eq!(&b[b.len() - 4..], b"PAR1");
        let f = footer(&b);
        // The footer is a Thrift struct: starts with field 1 (version, i32)
        // and ends with its STOP byte; the data lies between the magics.
        assert_eq!(f[0], 0x15);
        assert_eq!(*f.last().unwrap(), 0);
        assert!(f.windows(7).any(|w| w == b"timeout")); // max of q
        assert!(f.windows(6).any(|w| w == b"schema"));
        // The first page starts right after the magic: a PageHeader of a
        // DATA_PAGE (field 1 = 0) with sizes, then the 8-byte timestamps.
        assert_eq!(&b[4..6], &[0x15, 0x00]);
        let data_end = b.len() - 8 - f.len();
        assert!(data_end > 4 + 16);
    }

    #[test]
    fn empty_table_is_schema_only() {
        let w = ParquetWriter::new(Vec::new(), vec![Column::new("x", ColumnType::Int64)]).unwrap();
        let b = w.finish().unwrap();
        assert_eq!(&b[..4], b"PAR1");
        let f = footer(&b);
        assert_eq!(4 + f.len() + 8, b.len()); // no data at all
    }

    #[test]
    fn row_groups_flush_every_n_rows_and_data_is_plain() {
        let mut w = ParquetWriter::new(Vec::new(), vec![Column::new("x", ColumnType::Int64)])
            .unwrap()
            .with_row_group_size(2);
        for i in 0..5 {
            w.write_row(&[Value::Int(i)]).unwrap();
        }
        assert_eq!(w.groups.len(), 2);
        assert_eq!(w.rows(), 5);
        let b = w.finish().unwrap();
        // PLAIN INT64: the values appear little-endian, in order, in the pages.
        for i in 0..5i64 {
            assert!(b.windows(8).any(|w| w == i.to_le_bytes()), "{i}");
        }
    }

    #[test]
    fn rows_not_fitting_the_schema_are_refused_whole() {
        let mut w = ParquetWriter::new(
            Vec::new(),
            vec![
                Column::new("a", ColumnType::Double),
                Column::new("b", ColumnType::Utf8),
            ],
        )
        .unwrap();
        assert!(w.write_row(&[Value::Double(1.0)]).is_err());
        assert!(w.write_row(&[Value::Null, Value::Str("x")]).is_err());
        assert!(w.write_row(&[Value::Double(1.0), Value::Int(3)]).is_err());
        assert_eq!(w.rows(), 0);
        assert!(w.bufs.iter().all(|b| b.values.is_empty()));
        assert!(ParquetWriter::new(Vec::new(), vec![]).is_err());
        let dup = vec![
            Column::new("a", ColumnType::Double),
            Column::new("a", ColumnType::Double),
        ];
        assert!(ParquetWriter::new(Vec::new(), dup).is_err());
    }

    #[test]
    fn definition_levels_rle_and_bit_packed() {
        // 16 present: one RLE run of 16 ones.
        assert_eq!(encode_levels(&[true; 16]), vec![32, 1]);
        // 3 nulls: RLE run of 3 zeros.
        assert_eq!(encode_levels(&[false; 3]), vec![6, 0]);
        // Mixed group of 8 then a uniform group of 8.
        let mut l = vec![true, false, true, true, true, true, true, true];
        l.extend([true; 8]);
        assert_eq!(encode_levels(&l), vec![3, 0b1111_1101, 16, 1]);
        // Two mixed groups form one bit-packed run; a short mixed tail pads.
        let l = [
            false, true, false, true, false, true, false, true, // 0xAA
            true, false, false, false, false, false, false, false, // 0x01
            true, false, true, // tail 0b101
        ];
        assert_eq!(encode_levels(&l), vec![7, 0xAA, 0x01, 0x05]);
        assert!(encode_levels(&[]).is_empty());
    }

    #[test]
    fn double_statistics_skip_nan_and_normalise_zero() {
        let mut s = Stats::Empty;
        s.double(f64::NAN);
        assert!(s.encoded().is_none());
        s.double(0.0);
        s.double(-0.0);
        let (lo, hi) = s.encoded().unwrap();
        assert_eq!(
            f64::from_le_bytes(lo.try_into().unwrap()).to_bits(),
            (-0.0f64).to_bits()
        );
        assert_eq!(
            f64::from_le_bytes(hi.try_into().unwrap()).to_bits(),
            0.0f64.to_bits()
        );
        s.double(-2.5);
        s.double(f64::NAN);
        s.double(7.0);
        let (lo, hi) = s.encoded().unwrap();
        assert_eq!(f64::from_le_bytes(lo.try_into().unwrap()), -2.5);
        assert_eq!(f64::from_le_bytes(hi.try_into().unwrap()), 7.0);
    }
}
