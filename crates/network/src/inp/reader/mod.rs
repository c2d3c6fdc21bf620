//! Reads an EPANET 2.2/2.3 `.inp` file into a [`Network`], converting every
//! value to SI and collecting every problem with its location.
//!
//! This module holds the entry points, the `Reader` that one parse fills
//! and the helpers every section shares (tokens, numbers, IDs, references,
//! errors): the work of EPANET's input1.c/input2.c (`readdata`,
//! `gettokens`, `getfloat`). Each section family is read by an
//! `impl Reader` block in its own module, in the order of `Reader::run`:
//! `options` (OPTIONS, TIMES, ENERGY), `patterns` (PATTERNS, CURVES),
//! `nodes` (JUNCTIONS, RESERVOIRS, TANKS, DEMANDS, EMITTERS), `links`
//! (PIPES, PUMPS, VALVES, LEAKAGE, STATUS), `controls` (CONTROLS), `rules`
//! (RULES), `quality` (QUALITY, SOURCES, REACTIONS, MIXING), `map`
//! (COORDINATES, VERTICES, LABELS, TAGS) and `validate` (the checks on the
//! whole model once every section is read).

mod controls;
mod links;
mod map;
mod nodes;
mod options;
mod patterns;
mod quality;
mod rules;
mod validate;

pub(crate) use links::leakage_factors;
pub(crate) use rules::premise_quantity;

use super::error::{InpError, InpErrors, MAX_ERRORS};
use super::lexer::{split_sections, tokenize, Line, Section, Sections};
use crate::hash::IdMap as HashMap;
use crate::network::Network;
use crate::units::{FlowUnits, PressureUnits, Quantity, Units};

/// Longest ID EPANET accepts.
pub const MAX_ID_LEN: usize = 31;

/// Decodes a file's bytes (UTF-8, else latin-1) and parses it.
pub fn parse_inp_bytes(bytes: &[u8], file: &str) -> Result<Network, InpErrors> {
    match std::str::from_utf8(bytes) {
        Ok(t) => parse_inp(t, file),
        Err(_) => {
            let text: String = bytes.iter().map(|&b| b as char).collect();
            parse_inp(&text, file)
        }
    }
}

/// Parses `.inp` text. `file` names the source in error messages.
pub fn parse_inp(text: &str, file: &str) -> Result<Network, InpErrors> {
    let sections = split_sections(text);
    let mut r = Reader::new(file, &sections);
    r.run();
    if r.errors.is_empty() && r.net.nodes.is_empty() {
        // EPANET opens such a file and fails later (error 223, "not enough
        // nodes in network"): it is no network, so say so at once.
        r.errors.push(InpError {
            file: file.to_string(),
            line: 0,
            section: None,
            field: None,
            message: "no network here: the file defines no junction, reservoir or tank \
                      (EPANET error 223: not enough nodes in network)"
                .to_string(),
        });
    }
    if r.errors.is_empty() {
        r.net.reindex();
        Ok(r.net)
    } else {
        Err(InpErrors {
            errors: r.errors,
            truncated: r.truncated,
        })
    }
}

struct Reader<'a, 's> {
    file: &'a str,
    s: &'s Sections<'a>,
    errors: Vec<InpError>,
    truncated: bool,
    net: Network,
    units: Units,
    toks: Vec<&'a str>,
    node_ids: HashMap<&'a str, usize>,
    link_ids: HashMap<&'a str, usize>,
    pattern_ids: HashMap<&'a str, usize>,
    curve_ids: HashMap<&'a str, usize>,
    /// Line of each node's and link's definition, for later messages.
    node_lines: Vec<usize>,
    link_lines: Vec<usize>,
    /// IDs of nodes and links whose own line has an error: they are not in
    /// the model, but references to them must not add "undefined" errors.
    broken_nodes: HashMap<&'a str, usize>,
    broken_links: HashMap<&'a str, usize>,
    pending_trace: Option<(At, &'a str)>,
}

/// The context of the line being read, for error messages.
#[derive(Clone, Copy)]
struct At {
    line: usize,
    section: Section,
}

impl<'a, 's> Reader<'a, 's> {
    fn new(file: &'a str, s: &'s Sections<'a>) -> Self {
        // Sized up front: growing these by doubling cost a tenth of the
        // parse time of a 2 MB network (copies into freshly faulted pages).
        let n_nodes = s.of(Section::Junctions).len()
            + s.of(Section::Reservoirs).len()
            + s.of(Section::Tanks).len();
        let n_links =
            s.of(Section::Pipes).len() + s.of(Section::Pumps).len() + s.of(Section::Valves).len();
        let mut net = Network::default();
        net.nodes.reserve(n_nodes);
        net.links.reserve(n_links);
        net.controls.reserve(s.of(Section::Controls).len());
        Reader {
            file,
            s,
            errors: Vec::new(),
            truncated: false,
            net,
            units: Units {
                flow: FlowUnits::Gpm,
                pressure: PressureUnits::Psi,
                specific_gravity: 1.0,
            },
            toks: Vec::with_capacity(16),
            node_ids: HashMap::with_capacity_and_hasher(n_nodes, Default::default()),
            link_ids: HashMap::with_capacity_and_hasher(n_links, Default::default()),
            pattern_ids: HashMap::default(),
            curve_ids: HashMap::default(),
            node_lines: Vec::with_capacity(n_nodes),
            link_lines: Vec::with_capacity(n_links),
            broken_nodes: HashMap::default(),
            broken_links: HashMap::default(),
            pending_trace: None,
        }
    }

    fn err(&mut self, at: At, field: Option<&str>, message: impl Into<String>) {
        if self.errors.len() >= MAX_ERRORS {
            self.truncated = true;
            return;
        }
        self.errors.push(InpError {
            file: self.file.to_string(),
            line: at.line,
            section: Some(at.section.name().to_string()),
            field: field.map(str::to_string),
            message: message.into(),
        });
    }

    fn run(&mut self) {
        for &(no, text) in &self.s.stray {
            if self.errors.len() >= MAX_ERRORS {
                break;
            }
            let msg = if text.starts_with('[') {
                format!("unknown section header {text}")
            } else {
                "data before the first section header (an .inp file starts with a header such as [TITLE] or [JUNCTIONS])".to_string()
            };
            self.errors.push(InpError {
                file: self.file.to_string(),
                line: no,
                section: None,
                field: None,
                message: msg,
            });
        }
        self.net.title = self
            .s
            .of(Section::Title)
            .iter()
            .map(|l| l.data.trim().to_string())
            .collect();
        self.options();
        self.times();
        self.patterns();
        self.curves();
        self.junctions();
        self.tanks_and_reservoirs();
        self.links();
        self.demands();
        self.emitters();
        self.leakage();
        self.status();
        self.controls();
        self.rules();
        self.energy();
        self.quality();
        self.sources();
        self.reactions();
        self.mixing();
        self.net.report = self
            .s
            .of(Section::Report)
            .iter()
            .map(|l| l.data.trim().to_string())
            .collect();
        self.coordinates();
        self.vertices();
        self.labels();
        self.tags();
        self.net.backdrop = self
            .s
            .of(Section::Backdrop)
            .iter()
            .map(|l| l.data.trim().to_string())
            .collect();
        self.validate();
    }

    // ---------------------------------------------------------------- tokens

    fn tokens(&mut self, line: &Line<'a>) -> Vec<&'a str> {
        let mut t = std::mem::take(&mut self.toks);
        tokenize(line.data, &mut t);
        t
    }

    fn give_back(&mut self, t: Vec<&'a str>) {
        self.toks = t;
    }

    /// A finite number, or an error naming the field.
    fn num(&mut self, at: At, field: &str, tok: &str) -> Option<f64> {
        match parse_number(tok) {
            Some(v) => Some(v),
            None => {
                self.err(
                    at,
                    Some(field),
                    format!("expected a finite number of magnitude 1e-30 to 1e30, or 0, found \"{tok}\""),
                );
                None
            }
        }
    }

    fn num_min(&mut self, at: At, field: &str, tok: &str, positive: bool) -> Option<f64> {
        let v = self.num(at, field, tok)?;
        if positive && v <= 0.0 {
            self.err(
                at,
                Some(field),
                format!("expected a number greater than 0, found {tok}"),
            );
            None
        } else if !positive && v < 0.0 {
            self.err(
                at,
                Some(field),
                format!("expected a number not below 0, found {tok}"),
            );
            None
        } else {
            Some(v)
        }
    }

    fn check_id(&mut self, at: At, id: &str) -> bool {
        if id.chars().count() > MAX_ID_LEN {
            self.err(
                at,
                Some("ID"),
                format!("ID \"{id}\" is longer than {MAX_ID_LEN} characters"),
            );
            false
        } else {
            true
        }
    }

    fn node_ref(&mut self, at: At, field: &str, id: &str) -> Option<usize> {
        let r = self.node_ids.get(id).copied();
        if r.is_none() && !self.broken_nodes.contains_key(id) {
            self.err(at, Some(field), format!("undefined node \"{id}\""));
        }
        r
    }

    fn link_ref(&mut self, at: At, field: &str, id: &str) -> Option<usize> {
        let r = self.link_ids.get(id).copied();
        if r.is_none() && !self.broken_links.contains_key(id) {
            self.err(at, Some(field), format!("undefined link \"{id}\""));
        }
        r
    }

    /// A pattern reference: `""`/`*` mean none.
    fn pattern_ref(&mut self, at: At, field: &str, id: &str) -> Result<Option<usize>, ()> {
        if id.is_empty() || id == "*" {
            return Ok(None);
        }
        match self.pattern_ids.get(id) {
            Some(&i) => Ok(Some(i)),
            None => {
                self.err(at, Some(field), format!("undefined pattern \"{id}\""));
                Err(())
            }
        }
    }

    fn curve_ref(&mut self, at: At, field: &str, id: &str) -> Result<Option<usize>, ()> {
        if id.is_empty() || id == "*" {
            return Ok(None);
        }
        match self.curve_ids.get(id) {
            Some(&i) => Ok(Some(i)),
            None => {
                self.err(at, Some(field), format!("undefined curve \"{id}\""));
                Err(())
            }
        }
    }

    fn si(&self, q: Quantity, v: f64) -> f64 {
        self.units.to_si(q, v)
    }
}

/// Largest magnitude a number in an `.inp` file may have ([`parse_number`]).
pub const MAX_MAGNITUDE: f64 = 1e30;

/// A number as EPANET's `getfloat` reads it, restricted to 0 and magnitudes
/// from 1/[`MAX_MAGNITUDE`] to [`MAX_MAGNITUDE`].
///
/// EPANET's strtod-based reader also takes `inf`, `nan`, `1e999` and
/// subnormal values; they break every computation, and values beyond this
/// range overflow or lose precision when converted between unit systems
/// (so the model could not be written back exactly). No physical quantity
/// in a water network comes near these limits.
pub fn parse_number(tok: &str) -> Option<f64> {
    let v: f64 = tok.parse().ok()?;
    let m = v.abs();
    if v == 0.0 || (1.0 / MAX_MAGNITUDE..=MAX_MAGNITUDE).contains(&m) {
        Some(v)
    } else {
        None
    }
}

/// IDs selected by a `[STATUS]`/`[QUALITY]`/`[REACTIONS]` range `a b`:
/// numerically when both ends are positive integers, else lexicographically.
fn in_range(id: &str, a: &str, b: &str) -> bool {
    fn atol(s: &str) -> i64 {
        let digits: String = s
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-' || *c == '+')
            .collect();
        digits.parse().unwrap_or(0)
    }
    let (i1, i2) = (atol(a), atol(b));
    if i1 > 0 && i2 > 0 {
        let i = atol(id);
        i >= i1 && i <= i2
    } else {
        a <= id && id <= b
    }
}

#[cfg(test)]
mod tests;
