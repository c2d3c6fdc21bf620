//! SCADA exports in the BattLeDIM layout: a `Timestamp` column followed by
//! one column per sensor tag; comma- or semicolon-separated; decimal point,
//! or decimal comma when the separator is a semicolon. Read as a stream, one
//! row at a time, so a year of 5-minute data for hundreds of sensors needs
//! no more memory than one row. Every bad row is reported with its file,
//! line, field and reason.

use crate::time::{LocalClock, TimeError, TimeZone};
use std::fmt;
use std::io::{self, BufRead, Read};
use std::sync::Arc;

/// A located problem in a SCADA file.
#[derive(Debug, Clone)]
pub struct ScadaError {
    pub file: String,
    pub line: usize,
    /// Column name, when the problem is in one field.
    pub field: Option<String>,
    pub problem: Problem,
}

/// What is wrong at a [`ScadaError`]'s place.
#[derive(Debug, Clone)]
pub enum Problem {
    /// The header or a row does not have the expected layout.
    Layout(String),
    /// A cell that is not a number (the cell's text).
    NotANumber(String),
    /// A timestamp that cannot be read in the file's time zone.
    Time(TimeError),
    /// The file cannot be read (I/O, not UTF-8).
    Read(Arc<csv::Error>),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Layout(m) => f.write_str(m),
            Problem::NotANumber(text) => write!(f, "'{text}' is not a number"),
            Problem::Time(e) => write!(f, "{e}"),
            Problem::Read(_) => f.write_str("cannot read"),
        }
    }
}

impl ScadaError {
    /// The message without the file and line: `field 'x': reason`.
    pub fn what(&self) -> String {
        match &self.field {
            Some(c) => format!("field '{c}': {}", self.problem),
            None => self.problem.to_string(),
        }
    }
}

impl fmt::Display for ScadaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file, self.what()),
            n => write!(f, "{}:{n}: {}", self.file, self.what()),
        }
    }
}

impl std::error::Error for ScadaError {
    /// The cause below what the message already says: the time parser's or
    /// the CSV reader's error.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Time(e) => std::error::Error::source(e),
            Problem::Read(e) => Some(e.as_ref()),
            Problem::Layout(_) | Problem::NotANumber(_) => None,
        }
    }
}

/// One row: its timestamp and one cell per data column (`None` = empty or NaN).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    pub line: usize,
    pub ts_ms: i64,
    pub values: Vec<Option<f64>>,
}

/// Receives a cell that is not a number: row line, column index, text.
pub type Garbage<'a> = dyn FnMut(usize, usize, &str) + 'a;

/// Streaming reader of one SCADA export, on the `csv` crate (quoting, CRLF,
/// UTF-8, byte positions). Line numbers are counted here from the record's
/// byte position: csv 1.3's `Position::line` counts a skipped blank line or
/// the `\n` of a CRLF as the start of the next record.
pub struct ScadaReader<R> {
    input: csv::Reader<LineTap<io::Chain<io::Cursor<Vec<u8>>, R>>>,
    record: csv::StringRecord,
    file: String,
    sep: u8,
    decimal_comma: bool,
    columns: Vec<String>,
    clock: LocalClock,
    /// Set after a read error: the rest of the file is not read.
    failed: bool,
}

impl ScadaReader<io::BufReader<std::fs::File>> {
    /// Opens a file (named by its path in errors); timestamps in UTC until
    /// [`with_time_zone`](Self::with_time_zone).
    pub fn open(path: &std::path::Path) -> Result<Self, ScadaError> {
        let name = path.display().to_string();
        match std::fs::File::open(path) {
            Ok(f) => ScadaReader::new(io::BufReader::with_capacity(1 << 16, f), &name),
            Err(e) => Err(ScadaError {
                file: name,
                line: 0,
                field: None,
                problem: Problem::Read(Arc::new(e.into())),
            }),
        }
    }
}

impl<R: BufRead> ScadaReader<R> {
    /// Reads the header; detects the separator (`;` if the header has one,
    /// else `,`). Timestamps are read as UTC until
    /// [`with_time_zone`](Self::with_time_zone).
    pub fn new(mut input: R, file: &str) -> Result<Self, ScadaError> {
        let err = |problem| ScadaError {
            file: file.to_string(),
            line: 1,
            field: None,
            problem,
        };
        let layout = |m: String| err(Problem::Layout(m));
        // The first line decides the separator; it is then read again by
        // the CSV reader, so that every line goes through one parser.
        let mut first = Vec::new();
        if let Err(e) = input.read_until(b'\n', &mut first) {
            return Err(err(Problem::Read(Arc::new(e.into()))));
        }
        let sep = if first.contains(&b';') { b';' } else { b',' };
        let mut rd = csv::ReaderBuilder::new()
            .delimiter(sep)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(LineTap::new(io::Cursor::new(first).chain(input)));
        let mut record = csv::StringRecord::new();
        match rd.read_record(&mut record) {
            Err(e) => return Err(err(Problem::Read(Arc::new(e)))),
            Ok(false) => {
                return Err(layout(
                    "empty file: expected a header `Timestamp,<tag>,…`".into(),
                ))
            }
            Ok(true) => {}
        }
        let mut cols = record
            .iter()
            .map(|c| c.trim_start_matches('\u{feff}').trim());
        let first = cols.next().unwrap_or_default();
        if first.is_empty() && record.len() <= 1 {
            return Err(layout(
                "empty file: expected a header `Timestamp,<tag>,…`".into(),
            ));
        }
        if !first.eq_ignore_ascii_case("timestamp") {
            return Err(layout(format!(
                "first column is '{first}', expected 'Timestamp'"
            )));
        }
        let columns: Vec<String> = cols.map(str::to_string).collect();
        if columns.is_empty() {
            return Err(layout("no sensor columns after 'Timestamp'".into()));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.is_empty() {
                return Err(layout(format!("column {} has an empty name", i + 2)));
            }
            if columns[..i].contains(c) {
                return Err(layout(format!("column '{c}' appears twice")));
            }
        }
        Ok(ScadaReader {
            input: rd,
            record,
            file: file.to_string(),
            sep,
            decimal_comma: sep == b';',
            columns,
            clock: LocalClock::utc(),
            failed: false,
        })
    }

    /// Reads the timestamps as local times in `tz` (the sensor map's
    /// `time_zone`), converted to UTC.
    pub fn with_time_zone(mut self, tz: TimeZone) -> Self {
        self.clock = LocalClock::new(tz);
        self
    }

    /// The file's name, as given.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Hands every row, or the error of a row that cannot be read, to `f`,
    /// to the end of the file.
    pub fn for_each_row(&mut self, mut f: impl FnMut(Result<&Row, ScadaError>)) {
        let mut row = Row::default();
        loop {
            match self.read_row(&mut row) {
                Ok(true) => f(Ok(&row)),
                Ok(false) => return,
                Err(e) => f(Err(e)),
            }
        }
    }

    /// The sensor columns (without `Timestamp`).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
    pub fn separator(&self) -> char {
        self.sep as char
    }

    /// Reads the next row into `row` (reusing its allocation). `Ok(false)` at
    /// the end of the file. Blank lines are skipped. A cell that is not a
    /// number, or not finite, is an error.
    pub fn read_row(&mut self, row: &mut Row) -> Result<bool, ScadaError> {
        self.read(row, None)
    }

    /// Like [`read_row`](Self::read_row), but a cell that is not a number is
    /// read as missing and handed to `garbage(row line, column index, text)`;
    /// a non-finite number (`inf`) is read as missing.
    pub fn read_row_lenient(
        &mut self,
        row: &mut Row,
        garbage: &mut Garbage<'_>,
    ) -> Result<bool, ScadaError> {
        self.read(row, Some(garbage))
    }

    fn error(&self, line: usize, field: Option<&str>, problem: Problem) -> ScadaError {
        ScadaError {
            file: self.file.clone(),
            line,
            field: field.map(str::to_string),
            problem,
        }
    }

    fn read(
        &mut self,
        row: &mut Row,
        mut garbage: Option<&mut Garbage<'_>>,
    ) -> Result<bool, ScadaError> {
        loop {
            if self.failed {
                return Ok(false);
            }
            match self.input.read_record(&mut self.record) {
                Ok(false) => return Ok(false),
                Ok(true) => {}
                Err(e) => {
                    self.failed = true;
                    let at = e.position().map_or(0, |p| p.byte());
                    let line = self.input.get_mut().line_at(at);
                    return Err(self.error(line, None, Problem::Read(Arc::new(e))));
                }
            }
            let at = self.record.position().map_or(0, |p| p.byte());
            let line = self.input.get_mut().line_at(at);
            if self.record.len() <= 1 && self.record.get(0).unwrap_or("").is_empty() {
                continue;
            }
            row.line = line;
            row.values.clear();
            if self.record.len() != self.columns.len() + 1 {
                return Err(self.error(
                    line,
                    None,
                    Problem::Layout(format!(
                        "{} fields, the header has {}",
                        self.record.len(),
                        self.columns.len() + 1
                    )),
                ));
            }
            let ts = &self.record[0];
            row.ts_ms = match self.clock.parse(ts) {
                Ok(t) => t,
                Err(e) => return Err(self.error(line, Some("Timestamp"), Problem::Time(e))),
            };
            for (i, f) in self.record.iter().skip(1).enumerate() {
                let v = match (parse_cell(f, self.decimal_comma), garbage.as_mut()) {
                    (Cell::Value(v), _) => Some(v),
                    (Cell::Missing, _) | (Cell::NotFinite, Some(_)) => None,
                    (Cell::Garbage, Some(g)) => {
                        g(line, i, f);
                        None
                    }
                    (Cell::NotFinite | Cell::Garbage, None) => {
                        let e = Problem::NotANumber(f.to_string());
                        return Err(self.error(line, Some(&self.columns[i]), e));
                    }
                };
                row.values.push(v);
            }
            return Ok(true);
        }
    }
}

/// Passes bytes to the CSV reader and keeps those not yet attributed to a
/// line (at most the reader's read-ahead), to number lines exactly.
struct LineTap<R> {
    inner: R,
    window: Vec<u8>,
    /// Absolute offset of `window[0]`.
    base: u64,
    /// Index in `window` up to which newlines are counted.
    scanned: usize,
    /// 1-based line number at `scanned`.
    line: usize,
}

impl<R> LineTap<R> {
    fn new(inner: R) -> LineTap<R> {
        LineTap {
            inner,
            window: Vec::new(),
            base: 0,
            scanned: 0,
            line: 1,
        }
    }

    /// The line of the first byte at or after offset `at` that is not a
    /// line terminator (a record's first character). Offsets must not
    /// decrease between calls.
    fn line_at(&mut self, at: u64) -> usize {
        let target = (at.saturating_sub(self.base) as usize).clamp(self.scanned, self.window.len());
        let w = &self.window;
        self.line += w[self.scanned..target]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let mut i = target;
        while i < w.len() && matches!(w[i], b'\r' | b'\n') {
            self.line += (w[i] == b'\n') as usize;
            i += 1;
        }
        self.scanned = i;
        if self.scanned > 1 << 16 {
            self.window.drain(..self.scanned);
            self.base += self.scanned as u64;
            self.scanned = 0;
        }
        self.line
    }
}

impl<R: Read> Read for LineTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.window.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

enum Cell {
    Value(f64),
    /// Empty, `NaN` or `null`.
    Missing,
    /// `inf`, `-inf`.
    NotFinite,
    Garbage,
}

/// One cell (already trimmed and unquoted by the CSV reader). With a
/// decimal comma (`;`-separated files), `28,89` is 28.89; a point is read too.
fn parse_cell(f: &str, decimal_comma: bool) -> Cell {
    if f.is_empty() || f.eq_ignore_ascii_case("nan") || f.eq_ignore_ascii_case("null") {
        return Cell::Missing;
    }
    let parsed = if decimal_comma && f.contains(',') {
        f.replacen(',', ".", 1).parse::<f64>()
    } else {
        f.parse::<f64>()
    };
    match parsed {
        Ok(v) if v.is_finite() => Cell::Value(v),
        Ok(_) => Cell::NotFinite,
        Err(_) => Cell::Garbage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row `r` reads, and the error that stopped it if any.
    fn read_all<R: std::io::BufRead>(mut r: ScadaReader<R>) -> (Vec<Row>, Option<ScadaError>) {
        let mut out = Vec::new();
        let mut row = Row {
            line: 0,
            ts_ms: 0,
            values: vec![],
        };
        loop {
            match r.read_row(&mut row) {
                Ok(true) => out.push(row.clone()),
                Ok(false) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn rows(text: &str) -> (Vec<Row>, Option<ScadaError>) {
        read_all(ScadaReader::new(text.as_bytes(), "x.csv").unwrap())
    }

    #[test]
    fn semicolon_and_decimal_comma() {
        let (r, e) =
            rows("Timestamp;n1;n4\r\n2018-01-01 00:00;50,13;49,8\r\n2018-01-01 00:05;;50\r\n");
        assert!(e.is_none());
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].values, vec![Some(50.13), Some(49.8)]);
        assert_eq!(r[1].values, vec![None, Some(50.0)]);
        assert_eq!(r[1].ts_ms - r[0].ts_ms, 300_000);
    }

    #[test]
    fn comma_and_point() {
        let (r, e) = rows("Timestamp,a,b\n2019-01-01 00:00:00,1.5,NaN\n");
        assert!(e.is_none());
        assert_eq!(r[0].values, vec![Some(1.5), None]);
    }

    #[test]
    fn bad_rows_are_located() {
        let (_, e) = rows("Timestamp,a,b\n2019-01-01 00:00,1,2\n\n2019-01-01 00:05,1,x\n");
        assert_eq!(
            e.unwrap().to_string(),
            "x.csv:4: field 'b': 'x' is not a number"
        );
        let (_, e) = rows("Timestamp,a,b\n2019-13-01 00:00,1,2\n");
        assert!(e
            .unwrap()
            .to_string()
            .starts_with("x.csv:2: field 'Timestamp': '2019-13-01 00:00' is not a timestamp"));
        let (_, e) = rows("Timestamp,a,b\n2019-01-01 00:00,1\n");
        assert_eq!(
            e.unwrap().to_string(),
            "x.csv:2: 2 fields, the header has 3"
        );
        assert!(ScadaReader::new("Time,a\n".as_bytes(), "h.csv").is_err());
        assert!(ScadaReader::new("".as_bytes(), "e.csv").is_err());
    }

    #[test]
    fn line_numbers_survive_blank_lines_and_crlf() {
        let (_, e) = rows("Timestamp,a\r\n2019-01-01 00:00,1\r\n\r\n\r\n2019-01-01 00:05,x\r\n");
        assert_eq!(
            e.unwrap().to_string(),
            "x.csv:5: field 'a': 'x' is not a number"
        );
        let mut text = String::from("Timestamp,a\n");
        for i in 0..20_000 {
            text.push_str(if i % 7 == 0 {
                "\n"
            } else {
                "2019-01-01 00:00,1\n"
            });
        }
        text.push_str("2019-01-01 00:00,y");
        let (r, e) = rows(&text);
        assert_eq!(r.len(), 20_000 - 20_000_usize.div_ceil(7));
        assert_eq!(r[1].line, 4);
        assert_eq!(
            e.unwrap().to_string(),
            "x.csv:20002: field 'a': 'y' is not a number"
        );
    }

    #[test]
    fn quoted_cells_and_lenient_garbage() {
        let text = "\u{feff}\"Timestamp\";\"a\";\"b\"\n\"2019-01-01 00:00\";\"1,5\";x\n2019-01-01 00:05;inf;2\n";
        let mut r = ScadaReader::new(text.as_bytes(), "q.csv").unwrap();
        assert_eq!(r.columns(), ["a", "b"]);
        let mut row = Row {
            line: 0,
            ts_ms: 0,
            values: vec![],
        };
        let mut bad = Vec::new();
        let mut note =
            |line: usize, col: usize, text: &str| bad.push((line, col, text.to_string()));
        assert!(r.read_row_lenient(&mut row, &mut note).unwrap());
        assert_eq!(row.values, vec![Some(1.5), None]);
        assert!(r.read_row_lenient(&mut row, &mut note).unwrap());
        assert_eq!((row.line, row.values.clone()), (3, vec![None, Some(2.0)]));
        assert_eq!(bad, vec![(2, 1, "x".to_string())]);
        // Strict: inf is refused.
        let (_, e) = rows("Timestamp,a\n2019-01-01 00:00,inf\n");
        assert_eq!(
            e.unwrap().to_string(),
            "x.csv:2: field 'a': 'inf' is not a number"
        );
    }

    fn rows_in(text: &str, zone: &str) -> (Vec<Row>, Option<ScadaError>) {
        let tz = crate::time::zone(zone).unwrap();
        read_all(
            ScadaReader::new(text.as_bytes(), "dst.csv")
                .unwrap()
                .with_time_zone(tz),
        )
    }

    /// A Europe/Paris export across the autumn change writes 02:00…02:55
    /// twice; read as UTC it is a regular 5-minute series.
    #[test]
    fn autumn_export_is_monotone_utc() {
        let mut text = String::from("Timestamp;p\n2024-10-27 01:55:00;1\n");
        for _ in 0..2 {
            for m in (0..60).step_by(5) {
                text.push_str(&format!("2024-10-27 02:{m:02}:00;2\n"));
            }
        }
        text.push_str("2024-10-27 03:00:00;3\n");
        let (r, e) = rows_in(&text, "Europe/Paris");
        assert!(e.is_none(), "{e:?}");
        assert_eq!(r.len(), 26);
        let t0 = crate::time::parse_timestamp("2024-10-26 23:55").unwrap();
        for (i, row) in r.iter().enumerate() {
            assert_eq!(row.ts_ms, t0 + i as i64 * 300_000, "line {}", row.line);
        }
    }

    /// Across the spring change 02:00…02:55 does not exist: a row there is
    /// a located error, not a shifted timestamp.
    #[test]
    fn spring_missing_hour_is_a_located_error() {
        let text = "Timestamp,p\n2024-03-31 01:55,1\n2024-03-31 02:00,1\n";
        let (r, e) = rows_in(text, "Europe/Paris");
        assert_eq!(r.len(), 1);
        let e = e.unwrap();
        assert_eq!(
            e.to_string(),
            "dst.csv:3: field 'Timestamp': local time '2024-03-31 02:00' does not exist in \
             Europe/Paris: the clocks skip it (UTC offset +01 → +02)"
        );
        // UTC files have no gap.
        let (r, e) = rows_in(text, "UTC");
        assert!(e.is_none() && r.len() == 2);
    }
}
