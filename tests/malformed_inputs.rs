//! Malformed `.inp` files (tests/malformed/*.inp) are rejected with every
//! problem located: file, line, section, field and what was expected, all
//! in one pass. Each file states what it expects in its leading comments:
//!
//! ```text
//! ; expect: LINE [SECTION] FIELD: message fragment     (one per error, in order)
//! ; epanet: rejects CODE [CODE ...]  |  accepts         (what EPANET 2.3 does on open)
//! ```
//!
//! `[SECTION]` and `FIELD` may be `-` when the error has none. The number of
//! errors must equal the number of `expect` lines. The `epanet` line is
//! checked against the oracle, so each file documents where aquatwin is
//! stricter than EPANET (e.g. NaN, which EPANET's reader takes as a number).

use conformance::*;
use std::path::PathBuf;

struct Expected {
    line: usize,
    section: Option<String>,
    field: Option<String>,
    fragment: String,
}

struct Case {
    path: PathBuf,
    expected: Vec<Expected>,
    /// `None`: EPANET opens the file; `Some(codes)`: it rejects it with these codes.
    epanet: Option<Vec<u32>>,
}

fn malformed_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("tests/malformed"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "inp"))
        .collect();
    v.sort();
    v
}

fn parse_expect(path: &std::path::Path, spec: &str) -> Expected {
    let bad = || -> ! { panic!("{}: bad expect line {spec:?}", path.display()) };
    let (line, rest) = spec.trim().split_once(' ').unwrap_or_else(|| bad());
    let rest = rest.trim_start();
    let (section, rest) = if let Some(r) = rest.strip_prefix("- ") {
        (None, r)
    } else {
        let r = rest.strip_prefix('[').unwrap_or_else(|| bad());
        let (s, r) = r.split_once("] ").unwrap_or_else(|| bad());
        (Some(s.to_string()), r)
    };
    let (field, fragment) = rest.split_once(": ").unwrap_or_else(|| bad());
    Expected {
        line: line.parse().unwrap_or_else(|_| bad()),
        section,
        field: (field != "-").then(|| field.to_string()),
        fragment: fragment.trim().to_string(),
    }
}

fn load_case(path: PathBuf) -> Case {
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let mut expected = Vec::new();
    let mut epanet = None;
    let mut saw_epanet = false;
    for l in text.lines().take_while(|l| l.starts_with(';')) {
        let l = l.trim_start_matches(';').trim();
        if let Some(spec) = l.strip_prefix("expect:") {
            expected.push(parse_expect(&path, spec));
        } else if let Some(spec) = l.strip_prefix("epanet:") {
            saw_epanet = true;
            let mut w = spec.split_whitespace();
            epanet = match w.next() {
                Some("accepts") => None,
                Some("rejects") => Some(w.map(|c| c.parse().unwrap()).collect()),
                _ => panic!("{}: bad epanet line {l:?}", path.display()),
            };
        }
    }
    assert!(
        !expected.is_empty() && saw_epanet,
        "{}: needs `; expect:` and `; epanet:` lines",
        path.display()
    );
    Case {
        path,
        expected,
        epanet,
    }
}

#[test]
fn malformed_inputs_are_rejected_with_located_errors() {
    let cases: Vec<Case> = malformed_files().into_iter().map(load_case).collect();
    assert!(cases.len() >= 16);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&case.path).unwrap();
        let errs = match network::inp::parse_inp_bytes(&bytes, &name) {
            Ok(_) => {
                failures.push(format!("{name}: accepted"));
                continue;
            }
            Err(e) => e,
        };
        let listing = errs.to_string();
        if std::env::var_os("AQUATWIN_SHOW_ERRORS").is_some() {
            eprintln!("== {name}\n{listing}");
        }
        if errs.errors.len() != case.expected.len() {
            failures.push(format!(
                "{name}: {} errors, expected {}:\n{listing}",
                errs.errors.len(),
                case.expected.len()
            ));
            continue;
        }
        for (e, x) in errs.errors.iter().zip(&case.expected) {
            let ok = e.file == name
                && e.line == x.line
                && e.section == x.section
                && e.field == x.field
                && e.message.contains(&x.fragment);
            if !ok {
                failures.push(format!(
                    "{name}: got `{e}`, expected line {} [{:?}] {:?}: …{}…",
                    x.line, x.section, x.field, x.fragment
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// What each file says about EPANET is what EPANET does.
#[test]
fn malformed_inputs_document_what_epanet_does() {
    let cases: Vec<Case> = malformed_files().into_iter().map(load_case).collect();
    let args: Vec<&str> = std::iter::once("counts")
        .chain(cases.iter().map(|c| c.path.to_str().unwrap()))
        .collect();
    let out = oracle(&args);
    let answers: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), cases.len(), "{out}");
    let mut failures = Vec::new();
    for (case, a) in cases.iter().zip(&answers) {
        let name = case.path.file_name().unwrap().to_string_lossy();
        match &case.epanet {
            None if a["ok"] != true => failures.push(format!("{name}: EPANET rejects it: {a}")),
            Some(_) if a["ok"] == true => failures.push(format!("{name}: EPANET accepts it")),
            Some(codes) => {
                let text = a["input_errors"].to_string();
                for c in codes {
                    if !text.contains(&format!("Error {c}")) {
                        failures.push(format!("{name}: EPANET does not report error {c}: {text}"));
                    }
                }
            }
            None => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
