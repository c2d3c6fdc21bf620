//! A team's results file: one detection per line, `pipeID, YYYY-MM-DD HH:MM`
//! (the time the leak is said to have started); `#` comments.

use super::time::parse_timestamp;
use super::{content_lines, Collector, InputErrors};
use serde::Serialize;

/// One reported detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    pub pipe: String,
    /// 5-minute steps from 2019-01-01 00:00.
    pub step: i64,
    /// Line in the results file.
    pub line: usize,
}

/// A parsed results file, remembering its name for later error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    pub file: String,
    pub detections: Vec<Detection>,
}

/// Parses a results file; `file` names it in error messages.
pub fn parse_results(text: &str, file: &str) -> Result<Results, InputErrors> {
    let mut errs = Collector::new(file);
    let mut detections = Vec::new();
    for (line, l) in content_lines(text) {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != 2 {
            errs.push(
                line,
                format!("expected `pipeID, YYYY-MM-DD HH:MM`, found {l:?}"),
            );
            continue;
        }
        if f[0].is_empty() || f[0].contains(char::is_whitespace) {
            errs.push(line, format!("bad pipe ID {:?}", f[0]));
            continue;
        }
        match parse_timestamp(f[1]) {
            Ok(step) => detections.push(Detection {
                pipe: f[0].to_string(),
                step,
                line,
            }),
            Err(m) => errs.push(line, m),
        }
    }
    errs.finish(Results {
        file: file.to_string(),
        detections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_comments() {
        let r = parse_results(
            "# linkID, startTime\np257, 2019-01-01 00:05\n\np3,2019-01-01 00:10\n",
            "r.txt",
        )
        .unwrap();
        assert_eq!(
            r.detections,
            vec![
                Detection {
                    pipe: "p257".into(),
                    step: 1,
                    line: 2
                },
                Detection {
                    pipe: "p3".into(),
                    step: 2,
                    line: 4
                },
            ]
        );
    }

    #[test]
    fn bad_lines_are_located() {
        let e = parse_results(
            "p1, 2019-01-01 00:05\np2 2019-01-01\np3, 2019-02-30 00:00\n, 2019-01-01 00:00\n",
            "r.txt",
        )
        .unwrap_err();
        let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(
            e.errors[1]
                .to_string()
                .starts_with("r.txt:3: bad timestamp"),
            "{e}"
        );
    }
}
