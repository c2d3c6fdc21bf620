//! SCADA exports in the BattLeDIM layout: a `Timestamp` column followed by
//! one column per sensor tag; comma- or semicolon-separated; decimal point,
//! or decimal comma when the separator is a semicolon. Read as a stream, one
//! row at a time, so a year of 5-minute data for hundreds of sensors needs
//! no more memory than one row. Every bad row is reported with its file,
//! line, field and reason.

use crate::time::parse_timestamp;
use std::fmt;
use std::io::BufRead;

/// A located problem in a SCADA file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScadaError {
    pub file: String,
    pub line: usize,
    /// Column name, when the problem is in one field.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for ScadaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(c) = &self.field {
            write!(f, "field '{c}': ")?;
        }
        f.write_str(&self.reason)
    }
}
impl std::error::Error for ScadaError {}

/// One row: its timestamp and one cell per data column (`None` = empty or NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: usize,
    pub ts_ms: i64,
    pub values: Vec<Option<f64>>,
}

/// Streaming reader of one SCADA export.
pub struct ScadaReader<R> {
    input: R,
    file: String,
    sep: u8,
    decimal_comma: bool,
    columns: Vec<String>,
    line: usize,
    buf: String,
}

impl<R: BufRead> ScadaReader<R> {
    /// Reads the header; detects the separator (`;` if the header has one,
    /// else `,`).
    pub fn new(mut input: R, file: &str) -> Result<Self, ScadaError> {
        let mut header = String::new();
        let err = |line, reason: String| ScadaError {
            file: file.to_string(),
            line,
            field: None,
            reason,
        };
        input
            .read_line(&mut header)
            .map_err(|e| err(1, format!("cannot read: {e}")))?;
        let header = header
            .trim_start_matches('\u{feff}')
            .trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            return Err(err(
                1,
                "empty file: expected a header `Timestamp,<tag>,…`".into(),
            ));
        }
        let sep = if header.contains(';') { b';' } else { b',' };
        let mut cols = header
            .split(sep as char)
            .map(|c| c.trim().trim_matches('"').to_string());
        let first = cols.next().unwrap_or_default();
        if !first.eq_ignore_ascii_case("timestamp") {
            return Err(err(
                1,
                format!("first column is '{first}', expected 'Timestamp'"),
            ));
        }
        let columns: Vec<String> = cols.collect();
        if columns.is_empty() {
            return Err(err(1, "no sensor columns after 'Timestamp'".into()));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.is_empty() {
                return Err(err(1, format!("column {} has an empty name", i + 2)));
            }
            if columns[..i].contains(c) {
                return Err(err(1, format!("column '{c}' appears twice")));
            }
        }
        Ok(ScadaReader {
            input,
            file: file.to_string(),
            sep,
            decimal_comma: sep == b';',
            columns,
            line: 1,
            buf: String::new(),
        })
    }

    /// The sensor columns (without `Timestamp`).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
    pub fn separator(&self) -> char {
        self.sep as char
    }

    /// Reads the next row into `row` (reusing its allocation). `Ok(false)` at
    /// the end of the file. Blank lines are skipped.
    pub fn read_row(&mut self, row: &mut Row) -> Result<bool, ScadaError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let n = self
                .input
                .read_line(&mut self.buf)
                .map_err(|e| ScadaError {
                    file: self.file.clone(),
                    line: self.line,
                    field: None,
                    reason: format!("cannot read: {e}"),
                })?;
            if n == 0 {
                return Ok(false);
            }
            let text = self.buf.trim_end_matches(['\r', '\n']);
            if text.trim().is_empty() {
                continue;
            }
            row.line = self.line;
            row.values.clear();
            let mut fields = text.split(self.sep as char);
            let ts = fields.next().unwrap_or("").trim().trim_matches('"');
            row.ts_ms = parse_timestamp(ts).map_err(|reason| ScadaError {
                file: self.file.clone(),
                line: self.line,
                field: Some("Timestamp".into()),
                reason,
            })?;
            for (i, f) in fields.enumerate() {
                if i >= self.columns.len() {
                    return Err(ScadaError {
                        file: self.file.clone(),
                        line: self.line,
                        field: None,
                        reason: format!(
                            "{} fields, the header has {}",
                            i + 2,
                            self.columns.len() + 1
                        ),
                    });
                }
                row.values
                    .push(
                        parse_cell(f, self.decimal_comma).map_err(|reason| ScadaError {
                            file: self.file.clone(),
                            line: self.line,
                            field: Some(self.columns[i].clone()),
                            reason,
                        })?,
                    );
            }
            if row.values.len() != self.columns.len() {
                return Err(ScadaError {
                    file: self.file.clone(),
                    line: self.line,
                    field: None,
                    reason: format!(
                        "{} fields, the header has {}",
                        row.values.len() + 1,
                        self.columns.len() + 1
                    ),
                });
            }
            return Ok(true);
        }
    }
}

fn parse_cell(f: &str, decimal_comma: bool) -> Result<Option<f64>, String> {
    let f = f.trim().trim_matches('"');
    if f.is_empty() || f.eq_ignore_ascii_case("nan") || f.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    let parsed = if decimal_comma && f.contains(',') {
        f.replacen(',', ".", 1).parse::<f64>()
    } else {
        f.parse::<f64>()
    };
    match parsed {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(format!("'{f}' is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> (Vec<Row>, Option<ScadaError>) {
        let mut r = ScadaReader::new(text.as_bytes(), "x.csv").unwrap();
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
    }
}
