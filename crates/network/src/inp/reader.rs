//! Reads an EPANET 2.2/2.3 `.inp` file into a [`Network`], converting every
//! value to SI and collecting every problem with its location.

use super::error::{InpError, InpErrors, MAX_ERRORS};
use super::lexer::{split_sections, starts_with_ci, tokenize, Line, Section, Sections};
use crate::control::*;
use crate::hash::IdMap as HashMap;
use crate::link::*;
use crate::network::{Label, Network};
use crate::node::*;
use crate::options::*;
use crate::pattern::{Curve, CurveType, Pattern};
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

    // --------------------------------------------------------------- options

    fn options(&mut self) {
        let lines = self.s.of(Section::Options);
        // Pass 1: what the unit conversions depend on.
        let mut pressure = PressureUnits::Psi;
        for line in lines {
            let at = At {
                line: line.no,
                section: Section::Options,
            };
            let t = self.tokens(line);
            if t.len() >= 2 {
                let k = t[0];
                if starts_with_ci(k, "UNIT") {
                    match FlowUnits::from_keyword(t[1]) {
                        Some(u) => self.net.options.flow_units = u,
                        None => self.err(
                            at,
                            Some("UNITS"),
                            format!("expected CFS, GPM, MGD, IMGD, AFD, LPS, LPM, MLD, CMH, CMD or CMS, found \"{}\"", t[1]),
                        ),
                    }
                } else if starts_with_ci(k, "PRESSURE") && !starts_with_ci(t[1], "EXPO") {
                    match PressureUnits::from_keyword(t[1]) {
                        Some(p) => pressure = p,
                        None => self.err(
                            at,
                            Some("PRESSURE"),
                            format!("expected PSI, KPA, METERS, BAR or FEET, found \"{}\"", t[1]),
                        ),
                    }
                } else if starts_with_ci(k, "SPECIFIC") {
                    if let Some(v) = t.get(2).copied() {
                        if let Some(v) = self.num_min(at, "SPECIFIC GRAVITY", v, true) {
                            self.net.options.specific_gravity = v;
                        }
                    }
                } else if starts_with_ci(k, "HEADL") {
                    let h = t[1].to_ascii_uppercase();
                    self.net.options.headloss = match h.as_str() {
                        "H-W" => HeadlossFormula::HazenWilliams,
                        "D-W" => HeadlossFormula::DarcyWeisbach,
                        "C-M" => HeadlossFormula::ChezyManning,
                        _ => {
                            self.err(
                                at,
                                Some("HEADLOSS"),
                                format!("expected H-W, D-W or C-M, found \"{}\"", t[1]),
                            );
                            HeadlossFormula::HazenWilliams
                        }
                    };
                }
            }
            self.give_back(t);
        }
        self.net.options.pressure_units =
            Units::effective_pressure(self.net.options.flow_units, pressure);
        self.units = self.net.units();

        // Pass 2: everything else. PDA pressures are kept in file units
        // until the end because MINIMUM and REQUIRED interact.
        let mut pmin = 0.0f64;
        let mut preq: Option<f64> = None;
        const MINPDIFF: f64 = 0.1;
        let mut trace_node: Option<(At, &'a str)> = None;
        for line in lines {
            let at = At {
                line: line.no,
                section: Section::Options,
            };
            let t = self.tokens(line);
            let k = t[0];
            let value_at = |i: usize| t.get(i).copied();
            // Read in a first pass (units, head-loss formula, pressure units,
            // specific gravity) or ignored (SEGMENTS, VERIFY).
            let first_pass = starts_with_ci(k, "UNIT")
                || starts_with_ci(k, "HEADL")
                || starts_with_ci(k, "SEGMENT")
                || starts_with_ci(k, "VERIFY")
                || (starts_with_ci(k, "PRESSURE") && t.len() >= 2 && !starts_with_ci(t[1], "EXPO"))
                || starts_with_ci(k, "SPECIFIC");
            if first_pass {
            } else if starts_with_ci(k, "HYDRA") {
                if t.len() >= 3 {
                    if starts_with_ci(t[1], "USE") || starts_with_ci(t[1], "SAVE") {
                        self.net.options.hydraulics_file =
                            Some((t[1].to_ascii_uppercase(), t[2].to_string()));
                    } else {
                        self.err(
                            at,
                            Some("HYDRAULICS"),
                            format!("expected USE or SAVE, found \"{}\"", t[1]),
                        );
                    }
                }
            } else if starts_with_ci(k, "QUAL") {
                if t.len() >= 2 {
                    let m = t[1];
                    let q = if m.eq_ignore_ascii_case("NONE") {
                        QualityMode::None
                    } else if m.eq_ignore_ascii_case("AGE") {
                        QualityMode::Age
                    } else if m.eq_ignore_ascii_case("TRACE") {
                        match t.get(2) {
                            Some(n) => {
                                trace_node = Some((at, n));
                                QualityMode::Trace { node: 0 }
                            }
                            None => {
                                self.err(at, Some("QUALITY"), "TRACE needs a node ID");
                                QualityMode::None
                            }
                        }
                    } else {
                        let name = if m.eq_ignore_ascii_case("CHEMICAL") {
                            "Chemical".to_string()
                        } else {
                            m.to_string()
                        };
                        let units = t
                            .get(2)
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "mg/L".to_string());
                        QualityMode::Chemical { name, units }
                    };
                    self.net.options.quality = q;
                }
            } else if starts_with_ci(k, "MAP") {
                if let Some(f) = value_at(1) {
                    self.net.options.map_file = Some(f.to_string());
                }
            } else if starts_with_ci(k, "UNBAL") {
                if let Some(v) = value_at(1) {
                    if starts_with_ci(v, "STOP") {
                        self.net.options.unbalanced = Unbalanced::Stop;
                    } else if starts_with_ci(v, "CONT") {
                        let n = value_at(2)
                            .map(|s| s.parse::<i64>().unwrap_or(0))
                            .unwrap_or(0);
                        self.net.options.unbalanced =
                            Unbalanced::Continue(n.clamp(0, u32::MAX as i64) as u32);
                    } else {
                        self.err(
                            at,
                            Some("UNBALANCED"),
                            format!("expected STOP or CONTINUE, found \"{v}\""),
                        );
                    }
                }
            } else if starts_with_ci(k, "PATTERN") {
                if let Some(v) = value_at(1) {
                    self.net.options.default_pattern = v.to_string();
                }
            } else if starts_with_ci(k, "DEMAND") && t.len() >= 2 && starts_with_ci(t[1], "MODEL") {
                if let Some(v) = value_at(2) {
                    if v.eq_ignore_ascii_case("DDA") {
                        self.net.options.demand_model = DemandModel::Dda;
                    } else if v.eq_ignore_ascii_case("PDA") {
                        self.net.options.demand_model = DemandModel::Pda;
                    } else {
                        self.err(
                            at,
                            Some("DEMAND MODEL"),
                            format!("expected DDA or PDA, found \"{v}\""),
                        );
                    }
                }
            } else if starts_with_ci(k, "BACKFLOW") {
                if let Some(v) = value_at(2) {
                    if v.eq_ignore_ascii_case("YES") {
                        self.net.options.backflow_allowed = true;
                    } else if v.eq_ignore_ascii_case("NO") {
                        self.net.options.backflow_allowed = false;
                    } else {
                        self.err(
                            at,
                            Some("BACKFLOW ALLOWED"),
                            format!("expected YES or NO, found \"{v}\""),
                        );
                    }
                }
            } else {
                // Numeric options. Two-word names carry the value in the third token.
                let two_word = [
                    "SPECIFIC", "EMITTER", "DEMAND", "MINIMUM", "REQUIRED", "PRESSURE",
                ]
                .iter()
                .any(|w| starts_with_ci(k, w));
                let vi = if two_word { 2 } else { 1 };
                let Some(vt) = value_at(vi) else {
                    self.give_back(t);
                    continue;
                };
                let name = t[..vi].join(" ").to_ascii_uppercase();
                let Some(y) = self.num(at, &name, vt) else {
                    self.give_back(t);
                    continue;
                };
                let o = &mut self.net.options;
                let mut why: Option<&str> = None;
                let nonneg = "expected a number not below 0";
                if starts_with_ci(k, "TOLERANCE") {
                    if y < 0.0 {
                        why = Some(nonneg)
                    } else {
                        o.tolerance = Some(y)
                    }
                } else if starts_with_ci(k, "DIFFUS") {
                    if y < 0.0 {
                        why = Some(nonneg)
                    } else {
                        o.diffusivity = y
                    }
                } else if starts_with_ci(k, "DAMPLIMIT") {
                    o.damp_limit = y;
                } else if starts_with_ci(k, "FLOWCHANGE") {
                    if y < 0.0 {
                        why = Some(nonneg)
                    } else {
                        o.flow_change = self.units.to_si(Quantity::Flow, y)
                    }
                } else if starts_with_ci(k, "HEADERROR") {
                    if y < 0.0 {
                        why = Some(nonneg)
                    } else {
                        o.head_error = self.units.to_si(Quantity::Length, y)
                    }
                } else if starts_with_ci(k, "MINIMUM") {
                    if y < 0.0 {
                        why = Some(nonneg)
                    } else {
                        if matches!(preq, Some(r) if r - y < MINPDIFF) {
                            why = Some(
                                "MINIMUM PRESSURE must be below REQUIRED PRESSURE by at least 0.1",
                            );
                        }
                        pmin = y;
                    }
                } else if starts_with_ci(k, "REQUIRED") {
                    if y < 0.0 {
                        why = Some(nonneg)
                    } else if y - pmin < MINPDIFF {
                        why = Some("REQUIRED PRESSURE must exceed MINIMUM PRESSURE by at least 0.1")
                    } else {
                        preq = Some(y);
                    }
                } else if starts_with_ci(k, "PRESSURE") {
                    if y <= 0.0 {
                        why = Some("expected a number greater than 0")
                    } else {
                        o.pressure_exponent = y
                    }
                } else if y <= 0.0 {
                    why = Some("expected a number greater than 0")
                } else if starts_with_ci(k, "VISC") {
                    // A value above 1e-3 is relative to water at 20 °C; below it
                    // is the kinematic viscosity itself (ft²/s or m²/s).
                    const VISCOS_FT2S: f64 = 1.1e-5;
                    o.viscosity = if y > 1.0e-3 {
                        y
                    } else {
                        let l = self.units.factor(Quantity::Length);
                        y * l * l / (0.3048 * 0.3048) / VISCOS_FT2S
                    };
                } else if starts_with_ci(k, "TRIALS")
                    || starts_with_ci(k, "CHECKFREQ")
                    || starts_with_ci(k, "MAXCHECK")
                {
                    if !(1.0..=i32::MAX as f64).contains(&y) {
                        why = Some("expected a whole number of at least 1")
                    } else if starts_with_ci(k, "TRIALS") {
                        o.trials = y as u32;
                    } else if starts_with_ci(k, "CHECKFREQ") {
                        o.check_freq = y as u32;
                    } else {
                        o.max_check = y as u32;
                    }
                } else if starts_with_ci(k, "ACCURACY") {
                    o.accuracy = y.clamp(1.0e-5, 1.0e-1);
                } else if starts_with_ci(k, "HTOL")
                    || starts_with_ci(k, "QTOL")
                    || starts_with_ci(k, "RQTOL")
                {
                    // Undocumented tolerances EPANET accepts; they do not change results here.
                } else if starts_with_ci(k, "EMITTER") {
                    o.emitter_exponent = y;
                } else if starts_with_ci(k, "DEMAND") {
                    o.demand_multiplier = y;
                } else {
                    why = Some("unknown option");
                }
                if let Some(w) = why {
                    self.err(at, Some(&name), format!("{w}, found {vt}"));
                }
            }
            self.give_back(t);
        }
        let pf = self.units.factor(Quantity::Pressure);
        let preq = preq.unwrap_or(pmin + MINPDIFF);
        self.net.options.minimum_pressure = pmin * pf;
        self.net.options.required_pressure = preq * pf;
        self.pending_trace = trace_node;
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

impl<'a, 's> Reader<'a, 's> {
    // ----------------------------------------------------------------- times

    fn times(&mut self) {
        for line in self.s.of(Section::Times) {
            let at = At {
                line: line.no,
                section: Section::Times,
            };
            let t = self.tokens(line);
            let k = t[0];
            if t.len() < 2 {
                self.err(at, Some(k), "missing value");
                self.give_back(t);
                continue;
            }
            if starts_with_ci(k, "STAT") {
                let v = t[t.len() - 1].to_ascii_uppercase();
                let st = match v.as_str() {
                    "NONE" | "NO" => Some(Statistic::None),
                    _ if v.starts_with("AVG") || v.starts_with("AVERAGE") => {
                        Some(Statistic::Average)
                    }
                    _ if v.starts_with("MIN") => Some(Statistic::Minimum),
                    _ if v.starts_with("MAX") => Some(Statistic::Maximum),
                    _ if v.starts_with("RANGE") => Some(Statistic::Range),
                    _ => None,
                };
                match st {
                    Some(s) => self.net.times.statistic = s,
                    None => self.err(
                        at,
                        Some("STATISTIC"),
                        format!("expected NONE, AVERAGE, MINIMUM, MAXIMUM or RANGE, found \"{v}\""),
                    ),
                }
                self.give_back(t);
                continue;
            }
            let (name, vals): (&str, &[&str]) = if starts_with_ci(k, "PATTERN")
                || starts_with_ci(k, "REPORT")
                || starts_with_ci(k, "START")
                || starts_with_ci(k, "HYDRA")
                || starts_with_ci(k, "QUAL")
                || starts_with_ci(k, "RULE")
                || starts_with_ci(k, "MINIMUM")
            {
                (k, if t.len() > 2 { &t[2..] } else { &t[1..] })
            } else {
                (k, &t[1..])
            };
            let field = if t.len() > 2 {
                format!("{} {}", t[0], t[1]).to_ascii_uppercase()
            } else {
                name.to_ascii_uppercase()
            };
            let Some(secs) = super::time::parse_time_tokens(vals) else {
                self.err(at, Some(&field), format!("expected a time (hours, h:mm[:ss], or a number with SEC/MIN/HOURS/DAYS or AM/PM), found \"{}\"", vals.join(" ")));
                self.give_back(t);
                continue;
            };
            let tm = &mut self.net.times;
            let second = t.get(1).copied().unwrap_or("");
            if starts_with_ci(k, "DURA") {
                tm.duration = secs;
            } else if starts_with_ci(k, "HYDRA") {
                tm.hydraulic_step = secs;
            } else if starts_with_ci(k, "QUAL") {
                tm.quality_step = Some(secs);
            } else if starts_with_ci(k, "RULE") {
                tm.rule_step = Some(secs);
            } else if starts_with_ci(k, "MINIMUM") {
                // MINIMUM TRAVELTIME: no longer used by EPANET.
            } else if starts_with_ci(k, "PATTERN") {
                if starts_with_ci(second, "TIME") {
                    tm.pattern_step = secs;
                } else if starts_with_ci(second, "START") {
                    tm.pattern_start = secs;
                } else {
                    self.err(
                        at,
                        Some("PATTERN"),
                        format!("expected TIMESTEP or START, found \"{second}\""),
                    );
                }
            } else if starts_with_ci(k, "REPORT") {
                if starts_with_ci(second, "TIME") {
                    tm.report_step = secs;
                } else if starts_with_ci(second, "START") {
                    tm.report_start = secs;
                } else {
                    self.err(
                        at,
                        Some("REPORT"),
                        format!("expected TIMESTEP or START, found \"{second}\""),
                    );
                }
            } else if starts_with_ci(k, "START") {
                tm.start_clocktime = secs % 86400;
            } else {
                self.err(at, Some(k), format!("unknown time option \"{k}\""));
            }
            self.give_back(t);
        }
    }

    // ------------------------------------------------------ patterns, curves

    fn patterns(&mut self) {
        for line in self.s.of(Section::Patterns) {
            let at = At {
                line: line.no,
                section: Section::Patterns,
            };
            let t = self.tokens(line);
            let id = t[0];
            let idx = match self.pattern_ids.get(id) {
                Some(&i) => i,
                None => {
                    self.check_id(at, id);
                    self.pattern_ids.insert(id, self.net.patterns.len());
                    self.net.patterns.push(Pattern {
                        id: id.to_string(),
                        multipliers: Vec::new(),
                        comment: line.comment.map(str::to_string),
                    });
                    self.net.patterns.len() - 1
                }
            };
            if t.len() < 2 {
                self.err(at, Some("Multipliers"), "expected at least one multiplier");
            }
            for (k, tok) in t[1..].iter().enumerate() {
                if let Some(v) = self.num(at, &format!("Multiplier {}", k + 1), tok) {
                    self.net.patterns[idx].multipliers.push(v);
                }
            }
            self.give_back(t);
        }
    }

    fn curves(&mut self) {
        let comments = &self.s.comments[Section::Curves as usize];
        for line in self.s.of(Section::Curves) {
            let at = At {
                line: line.no,
                section: Section::Curves,
            };
            let t = self.tokens(line);
            let id = t[0];
            if t.len() < 3 {
                self.err(
                    at,
                    Some("X-Value"),
                    "expected an ID, an X value and a Y value",
                );
                self.give_back(t);
                continue;
            }
            let x = self.num(at, "X-Value", t[1]);
            let y = self.num(at, "Y-Value", t[2]);
            let idx = match self.curve_ids.get(id) {
                Some(&i) => i,
                None => {
                    self.check_id(at, id);
                    // The type may be declared in a comment line just above: ";PUMP: text".
                    let mut kind = CurveType::Generic;
                    let mut comment = line.comment.map(str::to_string);
                    if let Some(c) = comments
                        .iter()
                        .rev()
                        .find(|c| c.no < line.no && c.no + 1 >= line.no.saturating_sub(0))
                    {
                        if c.no + 1 == line.no {
                            if let Some((head, rest)) = c.text.split_once(':') {
                                if let Some(k) = CurveType::from_keyword(head.trim()) {
                                    kind = k;
                                    let rest = rest.trim();
                                    if !rest.is_empty() {
                                        comment = Some(rest.to_string());
                                    }
                                }
                            }
                        }
                    }
                    self.curve_ids.insert(id, self.net.curves.len());
                    self.net.curves.push(Curve {
                        id: id.to_string(),
                        kind,
                        points: Vec::new(),
                        comment,
                    });
                    self.net.curves.len() - 1
                }
            };
            if t.len() > 3 {
                if let Some(k) = CurveType::from_keyword(t[3]) {
                    self.net.curves[idx].kind = k;
                }
            }
            if let (Some(x), Some(y)) = (x, y) {
                self.net.curves[idx].points.push((x, y));
            }
            self.give_back(t);
        }
    }

    // ----------------------------------------------------------------- nodes

    fn add_node(&mut self, at: At, id: &'a str, node: Node) {
        if !self.check_id(at, id) {
            self.broken_nodes.entry(id).or_insert(at.line);
            return;
        }
        if let Some(&prev) = self.node_ids.get(id) {
            let prev_line = self.node_lines[prev];
            self.err(
                at,
                Some("ID"),
                format!("duplicate node ID \"{id}\" (first defined on line {prev_line})"),
            );
            return;
        }
        self.node_ids.insert(id, self.net.nodes.len());
        self.node_lines.push(at.line);
        self.net.nodes.push(node);
    }

    fn new_node(id: &str, elevation: f64, kind: NodeKind, comment: Option<&str>) -> Node {
        Node {
            id: id.to_string(),
            elevation,
            kind,
            initial_quality: 0.0,
            source: None,
            comment: comment.map(str::to_string),
            tag: None,
            coordinates: None,
        }
    }

    fn junctions(&mut self) {
        for line in self.s.of(Section::Junctions) {
            let at = At {
                line: line.no,
                section: Section::Junctions,
            };
            let t = self.tokens(line);
            let id = t[0];
            let el = match t.get(1) {
                Some(v) => self.num(at, "Elevation", v),
                None => Some(0.0),
            };
            let d = match t.get(2) {
                Some(v) => self.num(at, "Demand", v),
                None => Some(0.0),
            };
            let p = match t.get(3) {
                Some(v) => self.pattern_ref(at, "Pattern", v).ok(),
                None => Some(None),
            };
            let (Some(el), Some(d), Some(p)) = (el, d, p) else {
                self.broken_nodes.entry(id).or_insert(at.line);
                self.give_back(t);
                continue;
            };
            let j = Junction {
                demands: vec![Demand {
                    base: self.si(Quantity::Flow, d),
                    pattern: p,
                    category: None,
                }],
                emitter_coefficient: 0.0,
            };
            let node = Self::new_node(
                id,
                self.si(Quantity::Length, el),
                NodeKind::Junction(j),
                line.comment,
            );
            self.add_node(at, id, node);
            self.give_back(t);
        }
    }

    fn tanks_and_reservoirs(&mut self) {
        let mut lines: Vec<(Section, &Line<'a>)> = self
            .s
            .of(Section::Reservoirs)
            .iter()
            .map(|l| (Section::Reservoirs, l))
            .collect();
        lines.extend(
            self.s
                .of(Section::Tanks)
                .iter()
                .map(|l| (Section::Tanks, l)),
        );
        lines.sort_by_key(|(_, l)| l.no);
        for (section, line) in lines {
            self.tank_or_reservoir(section, line);
            let t = self.tokens(line);
            if !self.node_ids.contains_key(t[0]) {
                self.broken_nodes.entry(t[0]).or_insert(line.no);
            }
            self.give_back(t);
        }
    }

    fn tank_or_reservoir(&mut self, section: Section, line: &Line<'a>) {
        let at = At {
            line: line.no,
            section,
        };
        let t = self.tokens(line);
        let id = t[0];
        let n = t.len();
        if n < 2 {
            self.err(
                at,
                Some(if section == Section::Tanks {
                    "Elevation"
                } else {
                    "Head"
                }),
                "missing value",
            );
            self.give_back(t);
            return;
        }
        let Some(el) = self.num(
            at,
            if section == Section::Tanks {
                "Elevation"
            } else {
                "Head"
            },
            t[1],
        ) else {
            self.give_back(t);
            return;
        };
        let el = self.si(Quantity::Length, el);
        if n <= 3 {
            // A reservoir (EPANET decides by the number of fields).
            let pat = match t.get(2) {
                Some(v) => match self.pattern_ref(at, "Pattern", v) {
                    Ok(p) => p,
                    Err(()) => {
                        self.give_back(t);
                        return;
                    }
                },
                None => None,
            };
            let node = Self::new_node(
                id,
                el,
                NodeKind::Reservoir(Reservoir { head_pattern: pat }),
                line.comment,
            );
            self.add_node(at, id, node);
        } else {
            if n < 6 {
                self.err(
                    at,
                    Some("Diameter"),
                    "a tank needs ID, elevation, initial, minimum and maximum level and diameter",
                );
                self.give_back(t);
                return;
            }
            let names = [
                "",
                "",
                "InitLevel",
                "MinLevel",
                "MaxLevel",
                "Diameter",
                "MinVol",
            ];
            let mut vals = [0.0f64; 7];
            let mut ok = true;
            for i in 2..n.min(7) {
                match self.num_min(at, names[i], t[i], false) {
                    Some(v) => vals[i] = v,
                    None => ok = false,
                }
            }
            let curve = match t.get(7) {
                Some(v) => match self.curve_ref(at, "VolCurve", v) {
                    Ok(c) => c,
                    Err(()) => {
                        ok = false;
                        None
                    }
                },
                None => None,
            };
            let overflow = match t.get(8) {
                Some(v) if v.eq_ignore_ascii_case("YES") => true,
                Some(v) if v.eq_ignore_ascii_case("NO") => false,
                Some(v) => {
                    self.err(
                        at,
                        Some("Overflow"),
                        format!("expected YES or NO, found \"{v}\""),
                    );
                    ok = false;
                    false
                }
                None => false,
            };
            if !ok {
                self.give_back(t);
                return;
            }
            if let Some(c) = curve {
                self.net.curves[c].kind = CurveType::Volume;
            }
            let kind = if vals[5] == 0.0 {
                // EPANET treats a zero-diameter tank as a reservoir.
                NodeKind::Reservoir(Reservoir { head_pattern: None })
            } else {
                NodeKind::Tank(Tank {
                    initial_level: self.si(Quantity::Length, vals[2]),
                    min_level: self.si(Quantity::Length, vals[3]),
                    max_level: self.si(Quantity::Length, vals[4]),
                    diameter: self.si(Quantity::Length, vals[5]),
                    min_volume: self.si(Quantity::Volume, vals[6]),
                    volume_curve: curve,
                    can_overflow: overflow,
                    mixing: Mixing::default(),
                    bulk_coefficient: None,
                })
            };
            let node = Self::new_node(id, el, kind, line.comment);
            self.add_node(at, id, node);
        }
        self.give_back(t);
    }
}

impl<'a, 's> Reader<'a, 's> {
    // ----------------------------------------------------------------- links

    fn links(&mut self) {
        let mut lines: Vec<(Section, &Line<'a>)> = Vec::new();
        for s in [Section::Pipes, Section::Pumps, Section::Valves] {
            lines.extend(self.s.of(s).iter().map(|l| (s, l)));
        }
        lines.sort_by_key(|(_, l)| l.no);
        for (section, line) in lines {
            let at = At {
                line: line.no,
                section,
            };
            let t = self.tokens(line);
            let link = match section {
                Section::Pipes => self.pipe(at, &t),
                Section::Pumps => self.pump(at, &t),
                _ => self.valve(at, &t),
            };
            if let Some((kind, status, from, to)) = link {
                let id = t[0];
                if self.check_id(at, id) {
                    if let Some(&prev) = self.link_ids.get(id) {
                        let prev_line = self.link_lines[prev];
                        self.err(
                            at,
                            Some("ID"),
                            format!(
                                "duplicate link ID \"{id}\" (first defined on line {prev_line})"
                            ),
                        );
                    } else {
                        self.link_ids.insert(id, self.net.links.len());
                        self.link_lines.push(at.line);
                        self.net.links.push(Link {
                            id: id.to_string(),
                            from,
                            to,
                            kind,
                            initial_status: status,
                            comment: line.comment.map(str::to_string),
                            tag: None,
                            vertices: Vec::new(),
                        });
                    }
                }
            }
            if !self.link_ids.contains_key(t[0]) {
                self.broken_links.entry(t[0]).or_insert(at.line);
            }
            self.give_back(t);
        }
    }

    fn end_nodes(&mut self, at: At, t: &[&'a str]) -> Option<(usize, usize)> {
        if t.len() < 3 {
            self.err(at, Some("Node1"), "expected ID, start node and end node");
            return None;
        }
        let a = self.node_ref(at, "Node1", t[1]);
        let b = self.node_ref(at, "Node2", t[2]);
        let (a, b) = (a?, b?);
        if a == b {
            self.err(
                at,
                Some("Node2"),
                format!(
                    "link \"{}\" starts and ends at the same node \"{}\"",
                    t[0], t[1]
                ),
            );
            return None;
        }
        Some((a, b))
    }

    fn pipe(&mut self, at: At, t: &[&'a str]) -> Option<(LinkKind, LinkStatus, usize, usize)> {
        let ends = self.end_nodes(at, t);
        let si_units = self.units.flow.system() == crate::units::UnitSystem::Si;
        let mut length = if si_units { 100.0 } else { 330.0 };
        let mut diameter = if si_units { 254.0 } else { 10.0 };
        let mut rough = match self.net.options.headloss {
            HeadlossFormula::HazenWilliams => 130.0,
            HeadlossFormula::DarcyWeisbach => 0.0005,
            HeadlossFormula::ChezyManning => 0.01,
        };
        let mut ok = ends.is_some();
        if let Some(v) = t.get(3) {
            match self.num_min(at, "Length", v, true) {
                Some(v) => length = v,
                None => ok = false,
            }
        }
        if let Some(v) = t.get(4) {
            match self.num_min(at, "Diameter", v, true) {
                Some(v) => diameter = v,
                None => ok = false,
            }
        }
        if let Some(v) = t.get(5) {
            match self.num_min(at, "Roughness", v, true) {
                Some(v) => rough = v,
                None => ok = false,
            }
        }
        let mut minor = 0.0;
        let mut status = LinkStatus::Open;
        let mut cv = false;
        let status_word = |s: &str| -> Option<(LinkStatus, bool)> {
            if s.eq_ignore_ascii_case("CV") {
                Some((LinkStatus::Open, true))
            } else if s.eq_ignore_ascii_case("CLOSED") {
                Some((LinkStatus::Closed, false))
            } else if s.eq_ignore_ascii_case("OPEN") {
                Some((LinkStatus::Open, false))
            } else {
                None
            }
        };
        match (t.get(6), t.get(7)) {
            (Some(a), None) => match status_word(a) {
                Some((s, c)) => {
                    status = s;
                    cv = c;
                }
                None => match self.num_min(at, "MinorLoss", a, false) {
                    Some(v) => minor = v,
                    None => ok = false,
                },
            },
            (Some(a), Some(b)) => {
                match self.num_min(at, "MinorLoss", a, false) {
                    Some(v) => minor = v,
                    None => ok = false,
                }
                match status_word(b) {
                    Some((s, c)) => {
                        status = s;
                        cv = c;
                    }
                    None => {
                        self.err(
                            at,
                            Some("Status"),
                            format!("expected OPEN, CLOSED or CV, found \"{b}\""),
                        );
                        ok = false;
                    }
                }
            }
            _ => {}
        }
        if !ok {
            return None;
        }
        let (from, to) = ends?;
        let roughness = if self.net.options.headloss == HeadlossFormula::DarcyWeisbach {
            self.si(Quantity::DwRoughness, rough)
        } else {
            rough
        };
        Some((
            LinkKind::Pipe(Pipe {
                length: self.si(Quantity::Length, length),
                diameter: self.si(Quantity::Diameter, diameter),
                roughness,
                minor_loss: minor,
                check_valve: cv,
                leak_area: 0.0,
                leak_expansion: 0.0,
                bulk_coefficient: None,
                wall_coefficient: None,
            }),
            status,
            from,
            to,
        ))
    }

    fn pump(&mut self, at: At, t: &[&'a str]) -> Option<(LinkKind, LinkStatus, usize, usize)> {
        let ends = self.end_nodes(at, t);
        let mut ok = ends.is_some();
        let mut pump = Pump {
            power: None,
            head_curve: None,
            speed: 1.0,
            pattern: None,
            efficiency_curve: None,
            energy_price: None,
            price_pattern: None,
        };
        let mut m = 3;
        while m < t.len() {
            let k = t[m];
            let Some(v) = t.get(m + 1).copied() else {
                self.err(at, Some(k), format!("keyword \"{k}\" has no value"));
                ok = false;
                break;
            };
            if starts_with_ci(k, "POWER") {
                match self.num_min(at, "POWER", v, true) {
                    Some(p) => pump.power = Some(self.si(Quantity::Power, p)),
                    None => ok = false,
                }
            } else if starts_with_ci(k, "HEAD") {
                match self.curve_ref(at, "HEAD", v) {
                    Ok(Some(c)) => pump.head_curve = Some(c),
                    _ => ok = false,
                }
            } else if starts_with_ci(k, "PATTERN") {
                match self.pattern_ref(at, "PATTERN", v) {
                    Ok(p) => pump.pattern = p,
                    Err(()) => ok = false,
                }
            } else if starts_with_ci(k, "SPEED") {
                match self.num_min(at, "SPEED", v, false) {
                    Some(s) => pump.speed = s,
                    None => ok = false,
                }
            } else {
                self.err(
                    at,
                    Some(k),
                    format!("expected POWER, HEAD, SPEED or PATTERN, found \"{k}\""),
                );
                ok = false;
            }
            m += 2;
        }
        if !ok {
            return None;
        }
        if let Some(c) = pump.head_curve {
            self.net.curves[c].kind = CurveType::Pump;
        }
        let (from, to) = ends?;
        Some((LinkKind::Pump(pump), LinkStatus::Open, from, to))
    }

    fn valve(&mut self, at: At, t: &[&'a str]) -> Option<(LinkKind, LinkStatus, usize, usize)> {
        let ends = self.end_nodes(at, t);
        if t.len() < 5 {
            self.err(
                at,
                Some("Type"),
                "expected ID, start node, end node, diameter and valve type",
            );
            return None;
        }
        let (from, to) = ends?;
        let Some(kind) = ValveType::from_keyword(t[4]) else {
            self.err(
                at,
                Some("Type"),
                format!(
                    "expected PRV, PSV, PBV, FCV, TCV, GPV or PCV, found \"{}\"",
                    t[4]
                ),
            );
            return None;
        };
        let mut ok = true;
        // Illegal connections (EPANET errors 219 and 220).
        if matches!(kind, ValveType::Prv | ValveType::Psv | ValveType::Fcv) {
            for (field, n) in [("Node1", from), ("Node2", to)] {
                if !self.net.nodes[n].is_junction() {
                    self.err(
                        at,
                        Some(field),
                        format!(
                            "a {} cannot connect directly to tank or reservoir \"{}\"",
                            kind.keyword(),
                            self.net.nodes[n].id
                        ),
                    );
                    ok = false;
                }
            }
        }
        // EPANET 2.3 also forbids some valves sharing nodes (error 220), but
        // only when valves are added through its API: reading a file, it
        // accepts and solves them (checked with the oracle), and so do we.
        let diameter = self.num_min(at, "Diameter", t[3], true);
        let mut setting = 0.0;
        let mut curve = None;
        let mut status = LinkStatus::Active;
        if let Some(v) = t.get(5) {
            if kind == ValveType::Gpv {
                match self.curve_ref(at, "Setting", v) {
                    Ok(Some(c)) => {
                        curve = Some(c);
                        status = LinkStatus::Open;
                    }
                    _ => ok = false,
                }
            } else {
                match self.num(at, "Setting", v) {
                    Some(s) => setting = s,
                    None => ok = false,
                }
            }
        }
        let mut minor = 0.0;
        if let Some(v) = t.get(6) {
            match self.num_min(at, "MinorLoss", v, false) {
                Some(m) => minor = m,
                None => ok = false,
            }
        }
        if kind == ValveType::Pcv {
            if let Some(v) = t.get(7) {
                match self.curve_ref(at, "Curve", v) {
                    Ok(c) => {
                        curve = c;
                        if c.is_some() && setting > 100.0 {
                            setting = 100.0;
                        }
                    }
                    Err(()) => ok = false,
                }
            }
        }
        let diameter = diameter?;
        if !ok {
            return None;
        }
        if let Some(c) = curve {
            self.net.curves[c].kind = if kind == ValveType::Gpv {
                CurveType::Headloss
            } else {
                CurveType::Valve
            };
        }
        Some((
            LinkKind::Valve(Valve {
                kind,
                diameter: self.si(Quantity::Diameter, diameter),
                setting: self.si(kind.setting_quantity(), setting),
                minor_loss: minor,
                curve,
            }),
            status,
            from,
            to,
        ))
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

impl<'a, 's> Reader<'a, 's> {
    // ------------------------------------------------- node and link extras

    fn demands(&mut self) {
        let mut replaced = vec![false; self.net.nodes.len()];
        for line in self.s.of(Section::Demands) {
            let at = At {
                line: line.no,
                section: Section::Demands,
            };
            let t = self.tokens(line);
            if t.len() < 2 {
                self.err(
                    at,
                    Some("Demand"),
                    "expected a junction ID and a base demand",
                );
                self.give_back(t);
                continue;
            }
            let d = self.num(at, "Demand", t[1]);
            let j = self.node_ref(at, "Junction", t[0]);
            let p = match t.get(2) {
                Some(v) => self.pattern_ref(at, "Pattern", v).ok(),
                None => Some(None),
            };
            let (Some(d), Some(j), Some(p)) = (d, j, p) else {
                self.give_back(t);
                continue;
            };
            let base = self.si(Quantity::Flow, d);
            let category = line.comment.map(str::to_string);
            if let NodeKind::Junction(junc) = &mut self.net.nodes[j].kind {
                let dem = Demand {
                    base,
                    pattern: p,
                    category,
                };
                if !replaced[j] {
                    // The first [DEMANDS] entry replaces the [JUNCTIONS] demand.
                    replaced[j] = true;
                    junc.demands.truncate(0);
                }
                junc.demands.push(dem);
            } else {
                self.err(
                    at,
                    Some("Junction"),
                    format!(
                        "\"{}\" is not a junction; only junctions have demands",
                        t[0]
                    ),
                );
            }
            self.give_back(t);
        }
    }

    fn emitters(&mut self) {
        let u = self.units;
        let exp = self.net.options.emitter_exponent;
        let f = u.factor(Quantity::Flow) / u.factor(Quantity::Pressure).powf(exp);
        for line in self.s.of(Section::Emitters) {
            let at = At {
                line: line.no,
                section: Section::Emitters,
            };
            let t = self.tokens(line);
            if t.len() < 2 {
                self.err(
                    at,
                    Some("Coefficient"),
                    "expected a junction ID and an emitter coefficient",
                );
            } else {
                let j = self.node_ref(at, "Junction", t[0]);
                let k = self.num_min(at, "Coefficient", t[1], false);
                if let (Some(j), Some(k)) = (j, k) {
                    if !(k * f).is_finite() {
                        self.err(
                            at,
                            Some("Coefficient"),
                            format!("coefficient {} with EMITTER EXPONENT {exp} is out of range in SI units", t[1]),
                        );
                    } else if let NodeKind::Junction(junc) = &mut self.net.nodes[j].kind {
                        junc.emitter_coefficient = k * f;
                    } else {
                        self.err(
                            at,
                            Some("Junction"),
                            format!(
                                "\"{}\" is not a junction; only junctions have emitters",
                                t[0]
                            ),
                        );
                    }
                }
            }
            self.give_back(t);
        }
    }

    fn leakage(&mut self) {
        let (fa, fe) = leakage_factors(&self.units);
        for line in self.s.of(Section::Leakage) {
            let at = At {
                line: line.no,
                section: Section::Leakage,
            };
            let t = self.tokens(line);
            if t.len() < 3 {
                self.err(
                    at,
                    Some("C1"),
                    "expected a pipe ID, a leak area and an expansion rate",
                );
            } else {
                let l = self.link_ref(at, "Pipe", t[0]);
                let c1 = self.num_min(at, "C1", t[1], false);
                let c2 = self.num_min(at, "C2", t[2], false);
                if let (Some(l), Some(c1), Some(c2)) = (l, c1, c2) {
                    if let LinkKind::Pipe(p) = &mut self.net.links[l].kind {
                        p.leak_area = c1 * fa;
                        p.leak_expansion = c2 * fe;
                    } else {
                        self.err(
                            at,
                            Some("Pipe"),
                            format!("\"{}\" is not a pipe; only pipes leak", t[0]),
                        );
                    }
                }
            }
            self.give_back(t);
        }
    }

    fn status(&mut self) {
        for line in self.s.of(Section::Status) {
            let at = At {
                line: line.no,
                section: Section::Status,
            };
            let t = self.tokens(line);
            if t.len() < 2 {
                self.err(
                    at,
                    Some("Status"),
                    "expected a link ID and a status or setting",
                );
                self.give_back(t);
                continue;
            }
            let v = t[t.len() - 1];
            let action = if v.eq_ignore_ascii_case("OPEN") {
                Some(LinkAction::Status(LinkStatus::Open))
            } else if v.eq_ignore_ascii_case("CLOSED") {
                Some(LinkAction::Status(LinkStatus::Closed))
            } else {
                self.num_min(at, "Status/Setting", v, false)
                    .map(LinkAction::Setting)
            };
            let Some(action) = action else {
                self.give_back(t);
                continue;
            };
            let targets: Vec<usize> = if t.len() == 2 {
                match self.link_ref(at, "Link", t[0]) {
                    Some(l) => vec![l],
                    None => vec![],
                }
            } else {
                (0..self.net.links.len())
                    .filter(|&i| in_range(&self.net.links[i].id, t[0], t[1]))
                    .collect()
            };
            for l in targets {
                self.apply_initial_status(at, l, action, t.len() == 2);
            }
            self.give_back(t);
        }
    }

    fn apply_initial_status(&mut self, at: At, l: usize, action: LinkAction, single: bool) {
        let units = self.units;
        let link = &mut self.net.links[l];
        match &mut link.kind {
            LinkKind::Pipe(p) => {
                if p.check_valve {
                    if single {
                        let id = link.id.clone();
                        self.err(
                            at,
                            Some("Link"),
                            format!("the status of check valve \"{id}\" cannot be set"),
                        );
                    }
                    return;
                }
                if let LinkAction::Status(s) = action {
                    link.initial_status = s;
                }
            }
            LinkKind::Pump(p) => match action {
                LinkAction::Setting(x) => {
                    p.speed = x;
                    link.initial_status = if x == 0.0 {
                        LinkStatus::Closed
                    } else {
                        LinkStatus::Open
                    };
                }
                LinkAction::Status(s) => {
                    p.speed = if s == LinkStatus::Open { 1.0 } else { 0.0 };
                    link.initial_status = s;
                }
            },
            LinkKind::Valve(v) => match action {
                LinkAction::Setting(x) => {
                    if v.kind == ValveType::Gpv {
                        if single {
                            let id = link.id.clone();
                            self.err(
                                at,
                                Some("Link"),
                                format!("GPV \"{id}\" takes OPEN or CLOSED, not a setting"),
                            );
                        }
                        return;
                    }
                    v.setting = units.to_si(v.kind.setting_quantity(), x);
                    link.initial_status = LinkStatus::Active;
                }
                LinkAction::Status(s) => link.initial_status = s,
            },
        }
    }
}

/// SI factors for EPANET 2.3 leakage: C1 in mm² per 100 length units of
/// pipe → m² per m; C2 in mm² per 100 length units per length unit of head
/// → m² per m per m.
pub(crate) fn leakage_factors(u: &Units) -> (f64, f64) {
    let l = u.factor(Quantity::Length);
    (1.0e-6 / (100.0 * l), 1.0e-6 / (100.0 * l * l))
}

impl<'a, 's> Reader<'a, 's> {
    // -------------------------------------------------------------- controls

    /// SI value of a link setting written in file units.
    fn setting_si(&self, l: usize, x: f64) -> f64 {
        match &self.net.links[l].kind {
            LinkKind::Valve(v) => self.units.to_si(v.kind.setting_quantity(), x),
            _ => x,
        }
    }

    fn controls(&mut self) {
        for line in self.s.of(Section::Controls) {
            let at = At {
                line: line.no,
                section: Section::Controls,
            };
            let t0 = self.tokens(line);
            let mut t: &[&'a str] = &t0;
            let mut enabled = true;
            if t.last().is_some_and(|s| s.eq_ignore_ascii_case("DISABLED")) {
                enabled = false;
                t = &t[..t.len() - 1];
            }
            if let Some(c) = self.control(at, t, enabled) {
                self.net.controls.push(c);
            }
            self.give_back(t0);
        }
    }

    fn control(&mut self, at: At, t: &[&'a str], enabled: bool) -> Option<Control> {
        if t.len() < 6 {
            self.err(at, None, "expected LINK id setting IF NODE id ABOVE/BELOW value, or LINK id setting AT TIME/CLOCKTIME time");
            return None;
        }
        let l = self.link_ref(at, "Link", t[1])?;
        let link = &self.net.links[l];
        let is_pump = matches!(link.kind, LinkKind::Pump(_));
        let is_pipe = matches!(link.kind, LinkKind::Pipe(_));
        if link.pipe().is_some_and(|p| p.check_valve) {
            self.err(
                at,
                Some("Link"),
                format!("check valve \"{}\" cannot be controlled", t[1]),
            );
            return None;
        }
        let is_gpv = link.valve().is_some_and(|v| v.kind == ValveType::Gpv);
        let action = if t[2].eq_ignore_ascii_case("OPEN") {
            LinkAction::Status(LinkStatus::Open)
        } else if t[2].eq_ignore_ascii_case("CLOSED") {
            LinkAction::Status(LinkStatus::Closed)
        } else if is_gpv {
            self.err(
                at,
                Some("Setting"),
                format!("GPV \"{}\" takes OPEN or CLOSED, not a setting", t[1]),
            );
            return None;
        } else {
            let x = self.num(at, "Setting", t[2])?;
            if (is_pump || is_pipe) && x < 0.0 {
                self.err(
                    at,
                    Some("Setting"),
                    format!("expected a setting not below 0, found {}", t[2]),
                );
                return None;
            }
            LinkAction::Setting(self.setting_si(l, x))
        };
        let kind = t[4];
        let condition =
            if kind.eq_ignore_ascii_case("TIME") || kind.eq_ignore_ascii_case("CLOCKTIME") {
                let secs = super::time::parse_time(t[5], t.get(6).copied());
                let Some(secs) = secs else {
                    self.err(
                        at,
                        Some("Time"),
                        format!("expected a time, found \"{}\"", t[5..].join(" ")),
                    );
                    return None;
                };
                if kind.eq_ignore_ascii_case("TIME") {
                    ControlCondition::AtTime(secs)
                } else {
                    ControlCondition::AtClockTime(secs % 86400)
                }
            } else {
                if t.len() < 8 {
                    self.err(at, None, "expected IF NODE id ABOVE/BELOW value");
                    return None;
                }
                let n = self.node_ref(at, "Node", t[5])?;
                let v = self.num(at, "Value", t[7])?;
                let q = if self.net.nodes[n].is_junction() {
                    Quantity::Pressure
                } else {
                    Quantity::Length
                };
                let v = self.si(q, v);
                if t[6].eq_ignore_ascii_case("ABOVE") {
                    ControlCondition::NodeAbove(n, v)
                } else if t[6].eq_ignore_ascii_case("BELOW") {
                    ControlCondition::NodeBelow(n, v)
                } else {
                    self.err(
                        at,
                        Some("Condition"),
                        format!("expected ABOVE or BELOW, found \"{}\"", t[6]),
                    );
                    return None;
                }
            };
        Some(Control {
            link: l,
            action,
            condition,
            enabled,
        })
    }

    // ----------------------------------------------------------------- rules

    fn rules(&mut self) {
        #[derive(PartialEq)]
        enum Part {
            None,
            If,
            Then,
            Else,
        }
        let mut part = Part::None;
        let mut current: Option<(Rule, At, bool)> = None;
        let lines = self.s.of(Section::Rules);
        for line in lines {
            let at = At {
                line: line.no,
                section: Section::Rules,
            };
            let t0 = self.tokens(line);
            let t: &[&'a str] = &t0;
            let k = t[0].to_ascii_uppercase();
            if k == "RULE" {
                if let Some((r, rat, ok)) = current.take() {
                    self.finish_rule(r, rat, ok);
                }
                let Some(id) = t.get(1) else {
                    self.err(at, Some("Rule"), "RULE needs an ID");
                    self.give_back(t0);
                    continue;
                };
                self.check_id(at, id);
                if self.net.rules.iter().any(|r| r.id == *id) {
                    self.err(at, Some("Rule"), format!("duplicate rule ID \"{id}\""));
                }
                current = Some((
                    Rule {
                        id: id.to_string(),
                        premises: vec![],
                        then_actions: vec![],
                        else_actions: vec![],
                        priority: None,
                        enabled: true,
                    },
                    at,
                    true,
                ));
                part = Part::None;
                self.give_back(t0);
                continue;
            }
            let Some((rule, _, ok)) = current.as_mut() else {
                self.err(at, None, "rule clause outside a RULE");
                self.give_back(t0);
                continue;
            };
            let bad = |r: &mut Self, msg: String| {
                r.err(at, Some(&k), msg);
            };
            match k.as_str() {
                "IF" | "AND" | "OR" if k == "IF" || part == Part::If => {
                    if k == "IF" {
                        if part != Part::None {
                            *ok = false;
                            bad(self, "IF must be the rule's first clause".into());
                        }
                        part = Part::If;
                    }
                    let conj = match k.as_str() {
                        "IF" => Conjunction::If,
                        "AND" => Conjunction::And,
                        _ => Conjunction::Or,
                    };
                    let premise = self.premise(at, t, conj);
                    let Some((rule, _, ok)) = current.as_mut() else {
                        unreachable!()
                    };
                    match premise {
                        Some(p) => rule.premises.push(p),
                        None => *ok = false,
                    }
                }
                "THEN" | "ELSE" | "AND" => {
                    if k == "THEN" {
                        if part != Part::If {
                            *ok = false;
                            bad(self, "THEN must follow the IF clauses".into());
                        }
                        part = Part::Then;
                    } else if k == "ELSE" {
                        if part != Part::Then {
                            *ok = false;
                            bad(self, "ELSE must follow the THEN clauses".into());
                        }
                        part = Part::Else;
                    } else if part == Part::None {
                        *ok = false;
                        bad(self, "AND before IF".into());
                    }
                    let action = self.rule_action(at, t);
                    let Some((rule, _, ok)) = current.as_mut() else {
                        unreachable!()
                    };
                    match action {
                        Some(a) if part == Part::Else => rule.else_actions.push(a),
                        Some(a) => rule.then_actions.push(a),
                        None => *ok = false,
                    }
                }
                "OR" => {
                    *ok = false;
                    bad(self, "OR may only join IF clauses".into());
                }
                "PRIORITY" => match t.get(1).and_then(|v| parse_number(v)) {
                    Some(p) => rule.priority = Some(p),
                    None => {
                        *ok = false;
                        bad(
                            self,
                            format!("expected a number, found \"{}\"", t.get(1).unwrap_or(&"")),
                        );
                    }
                },
                "DISABLED" => rule.enabled = false,
                _ => {
                    *ok = false;
                    bad(
                        self,
                        format!(
                            "expected RULE, IF, AND, OR, THEN, ELSE or PRIORITY, found \"{}\"",
                            t[0]
                        ),
                    );
                }
            }
            self.give_back(t0);
        }
        if let Some((r, rat, ok)) = current.take() {
            self.finish_rule(r, rat, ok);
        }
    }

    fn finish_rule(&mut self, r: Rule, at: At, ok: bool) {
        if !ok {
            return;
        }
        if r.premises.is_empty() || r.then_actions.is_empty() {
            self.err(
                at,
                Some("Rule"),
                format!(
                    "rule \"{}\" needs at least one IF clause and one THEN clause",
                    r.id
                ),
            );
            return;
        }
        self.net.rules.push(r);
    }

    fn premise(&mut self, at: At, t: &[&'a str], conjunction: Conjunction) -> Option<Premise> {
        if t.len() < 2 {
            self.err(at, None, "incomplete condition");
            return None;
        }
        let obj = t[1].to_ascii_uppercase();
        let (object, rest): (RuleObject, &[&'a str]) = if obj == "SYSTEM" {
            (RuleObject::System, &t[2..])
        } else {
            let Some(id) = t.get(2) else {
                self.err(at, Some("Object"), "missing object ID");
                return None;
            };
            if ["NODE", "JUNCTION", "RESERVOIR", "TANK"]
                .iter()
                .any(|w| w.starts_with(obj.as_str()) || obj.starts_with(&w[..4]))
            {
                (RuleObject::Node(self.node_ref(at, "Object", id)?), &t[3..])
            } else if ["LINK", "PIPE", "PUMP", "VALVE"]
                .iter()
                .any(|w| obj.starts_with(w))
            {
                (RuleObject::Link(self.link_ref(at, "Object", id)?), &t[3..])
            } else {
                self.err(at, Some("Object"), format!("expected NODE, JUNCTION, RESERVOIR, TANK, LINK, PIPE, PUMP, VALVE or SYSTEM, found \"{}\"", t[1]));
                return None;
            }
        };
        if rest.len() < 3 {
            self.err(at, None, "expected variable, relation and value");
            return None;
        }
        let Some(variable) = RuleVariable::from_keyword(rest[0]) else {
            self.err(
                at,
                Some("Variable"),
                format!("unknown variable \"{}\"", rest[0]),
            );
            return None;
        };
        let Some(op) = RelOp::parse(rest[1]) else {
            self.err(
                at,
                Some("Relation"),
                format!(
                    "expected =, <>, <, >, <=, >=, IS, NOT, BELOW or ABOVE, found \"{}\"",
                    rest[1]
                ),
            );
            return None;
        };
        let vals = &rest[2..];
        let value = match variable {
            RuleVariable::Status => {
                let s = vals[0].to_ascii_uppercase();
                RuleValue::Status(match s.as_str() {
                    "OPEN" => LinkStatus::Open,
                    "CLOSED" => LinkStatus::Closed,
                    "ACTIVE" => LinkStatus::Active,
                    _ => {
                        self.err(
                            at,
                            Some("Value"),
                            format!("expected OPEN, CLOSED or ACTIVE, found \"{}\"", vals[0]),
                        );
                        return None;
                    }
                })
            }
            RuleVariable::Time
            | RuleVariable::ClockTime
            | RuleVariable::FillTime
            | RuleVariable::DrainTime => {
                match super::time::parse_time(vals[0], vals.get(1).copied()) {
                    Some(s) => RuleValue::Number(s as f64),
                    None => {
                        self.err(
                            at,
                            Some("Value"),
                            format!("expected a time, found \"{}\"", vals.join(" ")),
                        );
                        return None;
                    }
                }
            }
            _ => {
                let x = self.num(at, "Value", vals[0])?;
                let q = premise_quantity(&self.net, object, variable);
                RuleValue::Number(match (object, variable) {
                    (RuleObject::Link(l), RuleVariable::Setting) => self.setting_si(l, x),
                    _ => self.units.to_si(q, x),
                })
            }
        };
        Some(Premise {
            conjunction,
            object,
            variable,
            op,
            value,
        })
    }

    fn rule_action(&mut self, at: At, t: &[&'a str]) -> Option<RuleAction> {
        // THEN LINK id STATUS|SETTING =|IS value
        if t.len() < 6 {
            self.err(at, None, "expected LINK id STATUS/SETTING = value");
            return None;
        }
        let obj = t[1].to_ascii_uppercase();
        if !["LINK", "PIPE", "PUMP", "VALVE"]
            .iter()
            .any(|w| obj.starts_with(w))
        {
            self.err(
                at,
                Some("Object"),
                format!(
                    "actions act on links (LINK, PIPE, PUMP, VALVE), found \"{}\"",
                    t[1]
                ),
            );
            return None;
        }
        let l = self.link_ref(at, "Object", t[2])?;
        if self.net.links[l].pipe().is_some_and(|p| p.check_valve) {
            self.err(
                at,
                Some("Object"),
                format!("check valve \"{}\" cannot be controlled", t[2]),
            );
            return None;
        }
        let var = t[3].to_ascii_uppercase();
        let v = t[5];
        let action = if var == "STATUS" {
            let s = v.to_ascii_uppercase();
            LinkAction::Status(match s.as_str() {
                "OPEN" => LinkStatus::Open,
                "CLOSED" => LinkStatus::Closed,
                "ACTIVE" => LinkStatus::Active,
                _ => {
                    self.err(
                        at,
                        Some("Value"),
                        format!("expected OPEN, CLOSED or ACTIVE, found \"{v}\""),
                    );
                    return None;
                }
            })
        } else if var == "SETTING" {
            let x = self.num(at, "Value", v)?;
            if x < 0.0 && !matches!(self.net.links[l].kind, LinkKind::Valve(_)) {
                self.err(
                    at,
                    Some("Value"),
                    format!("expected a setting not below 0, found {v}"),
                );
                return None;
            }
            LinkAction::Setting(self.setting_si(l, x))
        } else {
            self.err(
                at,
                Some("Variable"),
                format!("expected STATUS or SETTING, found \"{}\"", t[3]),
            );
            return None;
        };
        Some(RuleAction { link: l, action })
    }
}

/// The unit of a numeric rule premise.
pub(crate) fn premise_quantity(
    net: &Network,
    object: RuleObject,
    variable: RuleVariable,
) -> Quantity {
    match variable {
        RuleVariable::Demand | RuleVariable::Flow => Quantity::Flow,
        RuleVariable::Head | RuleVariable::Grade | RuleVariable::Level => Quantity::Length,
        RuleVariable::Pressure => Quantity::Pressure,
        RuleVariable::Power => Quantity::Power,
        RuleVariable::Setting => match object {
            RuleObject::Link(l) => match &net.links[l].kind {
                LinkKind::Valve(v) => v.kind.setting_quantity(),
                _ => Quantity::None,
            },
            _ => Quantity::None,
        },
        _ => Quantity::None,
    }
}

impl<'a, 's> Reader<'a, 's> {
    // ------------------------------------------------------ energy, quality

    fn energy(&mut self) {
        for line in self.s.of(Section::Energy) {
            let at = At {
                line: line.no,
                section: Section::Energy,
            };
            let t0 = self.tokens(line);
            let t: &[&'a str] = &t0;
            let n = t.len();
            if n < 3 {
                self.err(
                    at,
                    None,
                    "expected GLOBAL/PUMP id PRICE/PATTERN/EFFIC value, or DEMAND CHARGE value",
                );
                self.give_back(t0);
                continue;
            }
            if starts_with_ci(t[0], "DEMAND") {
                if let Some(v) = self.num_min(at, "DEMAND CHARGE", t[2], false) {
                    self.net.energy.demand_charge = v;
                }
                self.give_back(t0);
                continue;
            }
            let pump = if starts_with_ci(t[0], "GLOBAL") {
                None
            } else if starts_with_ci(t[0], "PUMP") {
                if n < 4 {
                    self.err(at, None, "expected PUMP id PRICE/PATTERN/EFFIC value");
                    self.give_back(t0);
                    continue;
                }
                match self
                    .link_ids
                    .get(t[1])
                    .copied()
                    .filter(|&l| self.net.links[l].pump().is_some())
                {
                    Some(l) => Some(l),
                    None => {
                        if !self.broken_links.contains_key(t[1]) {
                            self.err(at, Some("Pump"), format!("\"{}\" is not a pump", t[1]));
                        }
                        self.give_back(t0);
                        continue;
                    }
                }
            } else {
                self.err(
                    at,
                    None,
                    format!("expected GLOBAL, PUMP or DEMAND, found \"{}\"", t[0]),
                );
                self.give_back(t0);
                continue;
            };
            let (key, val) = (t[n - 2], t[n - 1]);
            if starts_with_ci(key, "PRICE") {
                if let Some(v) = self.num_min(at, "PRICE", val, false) {
                    match pump {
                        None => self.net.energy.global_price = v,
                        Some(l) => pump_mut(&mut self.net, l).energy_price = Some(v),
                    }
                }
            } else if starts_with_ci(key, "PATTERN") {
                if let Ok(p) = self.pattern_ref(at, "PATTERN", val) {
                    match pump {
                        None => self.net.energy.global_pattern = p,
                        Some(l) => pump_mut(&mut self.net, l).price_pattern = p,
                    }
                }
            } else if starts_with_ci(key, "EFFIC") {
                match pump {
                    None => {
                        if let Some(v) = self.num_min(at, "EFFIC", val, true) {
                            self.net.energy.global_efficiency = v;
                        }
                    }
                    Some(l) => {
                        if let Ok(Some(c)) = self.curve_ref(at, "EFFIC", val) {
                            self.net.curves[c].kind = CurveType::Efficiency;
                            pump_mut(&mut self.net, l).efficiency_curve = Some(c);
                        }
                    }
                }
            } else {
                self.err(
                    at,
                    Some(key),
                    format!("expected PRICE, PATTERN or EFFIC, found \"{key}\""),
                );
            }
            self.give_back(t0);
        }
    }

    fn quality(&mut self) {
        for line in self.s.of(Section::Quality) {
            let at = At {
                line: line.no,
                section: Section::Quality,
            };
            let t = self.tokens(line);
            match t.len() {
                0 | 1 => {}
                2 => {
                    let n = self.node_ref(at, "Node", t[0]);
                    let v = self.num_min(at, "InitQual", t[1], false);
                    if let (Some(n), Some(v)) = (n, v) {
                        self.net.nodes[n].initial_quality = v;
                    }
                }
                _ => {
                    if let Some(v) = self.num_min(at, "InitQual", t[2], false) {
                        for node in self
                            .net
                            .nodes
                            .iter_mut()
                            .filter(|nd| in_range(&nd.id, t[0], t[1]))
                        {
                            node.initial_quality = v;
                        }
                    }
                }
            }
            self.give_back(t);
        }
    }

    fn sources(&mut self) {
        for line in self.s.of(Section::Sources) {
            let at = At {
                line: line.no,
                section: Section::Sources,
            };
            let t = self.tokens(line);
            if t.len() < 2 {
                self.err(
                    at,
                    None,
                    "expected node, type, strength and optional pattern",
                );
                self.give_back(t);
                continue;
            }
            let n = self.node_ref(at, "Node", t[0]);
            let types = [
                ("CONCEN", SourceType::Concen),
                ("MASS", SourceType::Mass),
                ("SETPOINT", SourceType::Setpoint),
                ("FLOWPACED", SourceType::FlowPaced),
            ];
            let (kind, i) = match types.iter().find(|(w, _)| starts_with_ci(t[1], w)) {
                Some(&(_, k)) => (k, 2),
                None => (SourceType::Concen, 1),
            };
            let strength = match t.get(i) {
                Some(v) => self.num(at, "Strength", v),
                None => {
                    self.err(at, Some("Strength"), "missing source strength");
                    None
                }
            };
            let pattern = match t.get(i + 1) {
                Some(v) => self.pattern_ref(at, "Pattern", v).ok(),
                None => Some(None),
            };
            if let (Some(n), Some(strength), Some(pattern)) = (n, strength, pattern) {
                self.net.nodes[n].source = Some(Source {
                    kind,
                    strength,
                    pattern,
                });
            }
            self.give_back(t);
        }
    }

    fn reactions(&mut self) {
        for line in self.s.of(Section::Reactions) {
            let at = At {
                line: line.no,
                section: Section::Reactions,
            };
            let t = self.tokens(line);
            let n = t.len();
            if n < 3 {
                self.give_back(t);
                continue;
            }
            let k = t[0];
            let Some(y) = self.num(at, k, t[n - 1]) else {
                self.give_back(t);
                continue;
            };
            let r = &mut self.net.reactions;
            if starts_with_ci(k, "ORDER") {
                if starts_with_ci(t[1], "BULK") {
                    r.order_bulk = y;
                } else if starts_with_ci(t[1], "TANK") {
                    r.order_tank = y;
                } else if starts_with_ci(t[1], "WALL") {
                    if y == 0.0 || y == 1.0 {
                        r.order_wall = y;
                    } else {
                        self.err(
                            at,
                            Some("ORDER WALL"),
                            format!("expected 0 or 1, found {y}"),
                        );
                    }
                } else {
                    self.err(
                        at,
                        Some("ORDER"),
                        format!("expected BULK, WALL or TANK, found \"{}\"", t[1]),
                    );
                }
            } else if starts_with_ci(k, "ROUGHNESS") {
                r.roughness_correlation = y;
            } else if starts_with_ci(k, "LIMITING") {
                r.limiting_potential = y;
            } else if starts_with_ci(k, "GLOBAL") {
                if starts_with_ci(t[1], "BULK") {
                    r.global_bulk = y;
                } else if starts_with_ci(t[1], "WALL") {
                    r.global_wall = y;
                } else {
                    self.err(
                        at,
                        Some("GLOBAL"),
                        format!("expected BULK or WALL, found \"{}\"", t[1]),
                    );
                }
            } else if starts_with_ci(k, "BULK") || starts_with_ci(k, "WALL") {
                let bulk = starts_with_ci(k, "BULK");
                let targets: Vec<usize> = if n == 3 {
                    self.link_ids.get(t[1]).copied().into_iter().collect()
                } else {
                    (0..self.net.links.len())
                        .filter(|&i| in_range(&self.net.links[i].id, t[1], t[2]))
                        .collect()
                };
                for l in targets {
                    if let LinkKind::Pipe(p) = &mut self.net.links[l].kind {
                        if bulk {
                            p.bulk_coefficient = Some(y);
                        } else {
                            p.wall_coefficient = Some(y);
                        }
                    }
                }
            } else if starts_with_ci(k, "TANK") {
                let targets: Vec<usize> = if n == 3 {
                    self.node_ids.get(t[1]).copied().into_iter().collect()
                } else {
                    (0..self.net.nodes.len())
                        .filter(|&i| in_range(&self.net.nodes[i].id, t[1], t[2]))
                        .collect()
                };
                for i in targets {
                    if let NodeKind::Tank(tk) = &mut self.net.nodes[i].kind {
                        tk.bulk_coefficient = Some(y);
                    }
                }
            } else {
                self.err(at, Some(k), format!("expected ORDER, GLOBAL, BULK, WALL, TANK, LIMITING or ROUGHNESS, found \"{k}\""));
            }
            self.give_back(t);
        }
    }

    fn mixing(&mut self) {
        for line in self.s.of(Section::Mixing) {
            let at = At {
                line: line.no,
                section: Section::Mixing,
            };
            let t = self.tokens(line);
            if t.len() >= 2 {
                let n = self.node_ref(at, "Tank", t[0]);
                let models = [
                    ("MIXED", MixingModel::Mixed),
                    ("2COMP", MixingModel::TwoComp),
                    ("FIFO", MixingModel::Fifo),
                    ("LIFO", MixingModel::Lifo),
                ];
                let m = models
                    .iter()
                    .find(|(w, _)| starts_with_ci(t[1], w))
                    .map(|&(_, m)| m);
                if m.is_none() {
                    self.err(
                        at,
                        Some("Model"),
                        format!("expected MIXED, 2COMP, FIFO or LIFO, found \"{}\"", t[1]),
                    );
                }
                let mut f = 1.0;
                if m == Some(MixingModel::TwoComp) && t.len() == 3 {
                    f = self.num(at, "Fraction", t[2]).unwrap_or(1.0);
                    if f == 0.0 {
                        f = 1.0;
                    }
                }
                if let (Some(n), Some(m)) = (n, m) {
                    if let NodeKind::Tank(tk) = &mut self.net.nodes[n].kind {
                        tk.mixing = Mixing {
                            model: m,
                            fraction: f,
                        };
                    }
                }
            }
            self.give_back(t);
        }
    }

    // ------------------------------------------------------------------ map

    fn coordinates(&mut self) {
        // Like EPANET, map data for unknown elements or bad numbers is skipped:
        // it never changes a simulation.
        for line in self.s.of(Section::Coordinates) {
            let t = self.tokens(line);
            if t.len() >= 3 {
                if let (Some(&n), Some(x), Some(y)) = (
                    self.node_ids.get(t[0]),
                    parse_number(t[1]),
                    parse_number(t[2]),
                ) {
                    self.net.nodes[n].coordinates = Some((x, y));
                }
            }
            self.give_back(t);
        }
    }

    fn vertices(&mut self) {
        for line in self.s.of(Section::Vertices) {
            let t = self.tokens(line);
            if t.len() >= 3 {
                if let (Some(&l), Some(x), Some(y)) = (
                    self.link_ids.get(t[0]),
                    parse_number(t[1]),
                    parse_number(t[2]),
                ) {
                    self.net.links[l].vertices.push((x, y));
                }
            }
            self.give_back(t);
        }
    }

    fn labels(&mut self) {
        for line in self.s.of(Section::Labels) {
            let t = self.tokens(line);
            if t.len() >= 3 {
                if let (Some(x), Some(y)) = (parse_number(t[0]), parse_number(t[1])) {
                    self.net.labels.push(Label {
                        x,
                        y,
                        text: t[2].to_string(),
                        anchor: t.get(3).map(|s| s.to_string()),
                    });
                }
            }
            self.give_back(t);
        }
    }

    fn tags(&mut self) {
        for line in self.s.of(Section::Tags) {
            let at = At {
                line: line.no,
                section: Section::Tags,
            };
            let t = self.tokens(line);
            if t.len() >= 3 {
                if starts_with_ci(t[0], "NODE") {
                    if let Some(n) = self.node_ref(at, "ID", t[1]) {
                        self.net.nodes[n].tag = Some(t[2].to_string());
                    }
                } else if starts_with_ci(t[0], "LINK") {
                    if let Some(l) = self.link_ref(at, "ID", t[1]) {
                        self.net.links[l].tag = Some(t[2].to_string());
                    }
                } else {
                    self.err(
                        at,
                        Some("Type"),
                        format!("expected NODE or LINK, found \"{}\"", t[0]),
                    );
                }
            }
            self.give_back(t);
        }
    }

    // ------------------------------------------------------------- validate

    fn validate(&mut self) {
        if let Some((at, id)) = self.pending_trace.take() {
            match self.node_ids.get(id) {
                Some(&n) => self.net.options.quality = QualityMode::Trace { node: n },
                None => self.err(
                    at,
                    Some("QUALITY"),
                    format!("undefined trace node \"{id}\""),
                ),
            }
        }
        // Curves: increasing X (EPANET error 230).
        let curve_lines: HashMap<&str, usize> = self
            .s
            .of(Section::Curves)
            .iter()
            .rev()
            .filter_map(|l| l.data.split_whitespace().next().map(|id| (id, l.no)))
            .collect();
        for ci in 0..self.net.curves.len() {
            let c = &self.net.curves[ci];
            if c.points.windows(2).any(|w| w[1].0 <= w[0].0) {
                let at = At {
                    line: curve_lines.get(c.id.as_str()).copied().unwrap_or(0),
                    section: Section::Curves,
                };
                let id = c.id.clone();
                self.err(
                    at,
                    Some("X-Value"),
                    format!("curve \"{id}\" has X values that do not increase"),
                );
            }
        }
        // Pumps need a head curve or a power; tank levels must be consistent.
        for li in 0..self.net.links.len() {
            let at = At {
                line: self.link_lines[li],
                section: Section::Pumps,
            };
            let l = &self.net.links[li];
            if let LinkKind::Pump(p) = &l.kind {
                if p.power.is_none() && p.head_curve.is_none() {
                    let id = l.id.clone();
                    self.err(
                        at,
                        Some("Parameters"),
                        format!("pump \"{id}\" has neither a HEAD curve nor a POWER"),
                    );
                } else if let Some(c) = p.head_curve {
                    if let Some(msg) = pump_curve_problem(&self.net.curves[c].points) {
                        let (id, cid) = (l.id.clone(), self.net.curves[c].id.clone());
                        self.err(
                            at,
                            Some("HEAD"),
                            format!("pump \"{id}\": head curve \"{cid}\" {msg}"),
                        );
                    }
                }
            }
        }
        for ni in 0..self.net.nodes.len() {
            let node = &self.net.nodes[ni];
            if let NodeKind::Tank(t) = &node.kind {
                let at = At {
                    line: self.node_lines[ni],
                    section: Section::Tanks,
                };
                let mut msg = None;
                if t.initial_level > t.max_level
                    || t.min_level > t.max_level
                    || t.initial_level < t.min_level
                {
                    msg = Some("levels must satisfy minimum <= initial <= maximum".to_string());
                } else if let Some(c) = t.volume_curve {
                    let pts = &self.net.curves[c].points;
                    let l = self.units.factor(Quantity::Length);
                    if pts.is_empty()
                        || t.min_level < pts[0].0 * l - 1e-9
                        || t.max_level > pts[pts.len() - 1].0 * l + 1e-9
                    {
                        msg = Some(format!(
                            "levels lie outside volume curve \"{}\"",
                            self.net.curves[c].id
                        ));
                    }
                }
                if let Some(m) = msg {
                    let id = node.id.clone();
                    self.err(at, Some("Levels"), format!("tank \"{id}\": {m}"));
                }
            }
        }
        // Every node must be connected to a link (EPANET error 233).
        if self.errors.is_empty() {
            let mut linked = vec![false; self.net.nodes.len()];
            for l in &self.net.links {
                linked[l.from] = true;
                linked[l.to] = true;
            }
            for (ni, used) in linked.iter().enumerate() {
                if !used {
                    let sec = if self.net.nodes[ni].is_junction() {
                        Section::Junctions
                    } else {
                        Section::Tanks
                    };
                    let at = At {
                        line: self.node_lines[ni],
                        section: sec,
                    };
                    let id = self.net.nodes[ni].id.clone();
                    self.err(
                        at,
                        Some("ID"),
                        format!("node \"{id}\" is not connected to any link"),
                    );
                }
            }
        }
    }
}

fn pump_mut(net: &mut Network, l: usize) -> &mut Pump {
    match &mut net.links[l].kind {
        LinkKind::Pump(p) => p,
        _ => unreachable!("checked to be a pump"),
    }
}

/// EPANET's acceptance test for a pump head curve (error 227).
pub(crate) fn pump_curve_problem(pts: &[(f64, f64)]) -> Option<&'static str> {
    match pts.len() {
        0 => Some("has no points"),
        1 => {
            if pts[0].0 <= 0.0 || pts[0].1 <= 0.0 {
                Some("has a single point that is not a positive flow and head")
            } else {
                None
            }
        }
        n => {
            let three_power = n == 3 && pts[0].0 == 0.0;
            if three_power {
                let (h0, h1, h2) = (pts[0].1, pts[1].1, pts[2].1);
                let (q1, q2) = (pts[1].0, pts[2].0);
                if !(h0 > 0.0 && h0 > h1 && h1 > h2 && q1 > 0.0 && q2 > q1) {
                    return Some("does not fall with flow as a pump curve must");
                }
                None
            } else if pts.windows(2).any(|w| w[1].1 >= w[0].1) {
                Some("has heads that do not fall with flow")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small network around the lines under test: J1, J2, R1, pipe P1 R1→J1, P2 J1→J2.
    fn net_with(extra: &str) -> Result<Network, InpErrors> {
        let base = "[JUNCTIONS]\nJ1 10 1\nJ2 10 2\n[RESERVOIRS]\nR1 100\n[PIPES]\nP1 R1 J1 1000 12 100\nP2 J1 J2 1000 12 100\n";
        parse_inp(&format!("{base}{extra}"), "t.inp")
    }

    fn ok(extra: &str) -> Network {
        net_with(extra).unwrap_or_else(|e| panic!("{e}"))
    }

    fn node<'n>(net: &'n Network, id: &str) -> &'n Node {
        &net.nodes[net.node_index(id).unwrap()]
    }

    fn link<'n>(net: &'n Network, id: &str) -> &'n Link {
        &net.links[net.link_index(id).unwrap()]
    }

    const GPM: f64 = 0.003785411784 / 60.0;

    #[test]
    fn demands_section_replaces_the_junction_demand() {
        let net = ok("[PATTERNS]\nPA 1 2\n[DEMANDS]\nJ1 5 PA ;fire\nJ1 7\n");
        let d = &node(&net, "J1").junction().unwrap().demands;
        assert_eq!(
            d.len(),
            2,
            "the [JUNCTIONS] demand is replaced, not added to"
        );
        assert_eq!(d[0].base, 5.0 * GPM);
        assert_eq!(d[0].pattern, Some(0));
        assert_eq!(d[0].category.as_deref(), Some("fire"));
        assert_eq!(d[1].base, 7.0 * GPM);
        // J2 has no [DEMANDS] line: its own demand stays.
        assert_eq!(
            node(&net, "J2").junction().unwrap().demands[0].base,
            2.0 * GPM
        );
        let e = net_with("[DEMANDS]\nR1 5\n").unwrap_err();
        assert!(e.to_string().contains("only junctions have demands"), "{e}");
    }

    #[test]
    fn status_on_pumps_valves_gpv_and_check_valves() {
        let extra = "[JUNCTIONS]\nJ3 0\nJ4 0\nJ5 0\n[CURVES]\nC1 100 50\nHL 0 0\nHL 10 5\n\
            [PUMPS]\nPU R1 J3 HEAD C1\n[VALVES]\nV1 J3 J4 12 PRV 50\nG1 J4 J5 12 GPV HL\n\
            [PIPES]\nCV1 J5 J2 10 12 100 0 CV\n";
        let net = ok(&format!("{extra}[STATUS]\nPU 0.8\nV1 CLOSED\nG1 OPEN\n"));
        let pu = link(&net, "PU");
        assert_eq!(pu.pump().unwrap().speed, 0.8);
        assert_eq!(pu.initial_status, LinkStatus::Open);
        assert_eq!(link(&net, "V1").initial_status, LinkStatus::Closed);
        assert_eq!(link(&net, "G1").initial_status, LinkStatus::Open);
        let net = ok(&format!("{extra}[STATUS]\nPU CLOSED\nV1 30\n"));
        assert_eq!(link(&net, "PU").initial_status, LinkStatus::Closed);
        assert_eq!(link(&net, "PU").pump().unwrap().speed, 0.0);
        let v1 = link(&net, "V1");
        assert_eq!(v1.initial_status, LinkStatus::Active);
        assert_eq!(
            v1.valve().unwrap().setting,
            Units {
                flow: FlowUnits::Gpm,
                pressure: PressureUnits::Psi,
                specific_gravity: 1.0
            }
            .to_si(Quantity::Pressure, 30.0)
        );
        let e = net_with(&format!("{extra}[STATUS]\nG1 5\nCV1 OPEN\n")).unwrap_err();
        assert_eq!(e.errors.len(), 2, "{e}");
        assert!(
            e.errors[0]
                .message
                .contains("GPV \"G1\" takes OPEN or CLOSED"),
            "{e}"
        );
        assert!(e.errors[1].message.contains("check valve \"CV1\""), "{e}");
    }

    #[test]
    fn reservoir_or_tank_by_field_count() {
        let net = ok("[PATTERNS]\nHP 1\n[TANKS]\nT1 50 3 1 5 20\nT2 50 HP\nT0 50 3 1 5 0\n[PIPES]\nP3 T1 J2 1 12 100\nP4 T2 J2 1 12 100\nP5 T0 J2 1 12 100\n");
        assert!(node(&net, "T1").tank().is_some());
        // Three fields under [TANKS] make a reservoir (with a head pattern), as in EPANET.
        assert!(
            matches!(&node(&net, "T2").kind, NodeKind::Reservoir(r) if r.head_pattern == Some(0))
        );
        // A zero diameter makes a reservoir too.
        assert!(matches!(node(&net, "T0").kind, NodeKind::Reservoir(_)));
        let e = net_with("[TANKS]\nT1 50 3 1\n").unwrap_err();
        assert_eq!(e.errors[0].field.as_deref(), Some("Diameter"), "{e}");
    }

    #[test]
    fn time_formats_in_times_section() {
        let net = ok("[TIMES]\nDuration 1:30\nHydraulic Timestep 0:05:00\nPattern Timestep 2 hours\nReport Timestep 90 MIN\nReport Start 3600 SEC\nStart ClockTime 1:30 PM\nQuality Timestep 0.5\n");
        let t = &net.times;
        assert_eq!(t.duration, 5400);
        assert_eq!(t.hydraulic_step, 300);
        assert_eq!(t.pattern_step, 7200);
        assert_eq!(t.report_step, 5400);
        assert_eq!(t.report_start, 3600);
        assert_eq!(t.start_clocktime, 13 * 3600 + 1800);
        assert_eq!(t.quality_step, Some(1800));
        let net = ok("[TIMES]\nDURATION 2 DAYS\nSTART CLOCKTIME 12 AM\n");
        assert_eq!((net.times.duration, net.times.start_clocktime), (172800, 0));
        let e = net_with("[TIMES]\nDURATION 1:7x\n").unwrap_err();
        assert_eq!(e.errors[0].field.as_deref(), Some("DURATION"));
    }

    #[test]
    fn units_us_and_si() {
        let net = ok("[OPTIONS]\nUNITS GPM\n");
        assert_eq!(node(&net, "J1").elevation, 10.0 * 0.3048);
        let p1 = link(&net, "P1").pipe().unwrap();
        assert_eq!(p1.length, 1000.0 * 0.3048);
        assert_eq!(p1.diameter, 12.0 * 0.0254);
        assert_eq!(node(&net, "J1").junction().unwrap().demands[0].base, GPM);
        let net = ok("[OPTIONS]\nUNITS LPS\n");
        assert_eq!(node(&net, "J1").elevation, 10.0);
        let p1 = link(&net, "P1").pipe().unwrap();
        assert_eq!(p1.length, 1000.0);
        assert_eq!(p1.diameter, 0.012);
        assert_eq!(node(&net, "J1").junction().unwrap().demands[0].base, 0.001);
        let net = ok("[OPTIONS]\nunits cms\nHeadloss D-W\n");
        assert_eq!(net.options.flow_units, FlowUnits::Cms);
        assert_eq!(node(&net, "J2").junction().unwrap().demands[0].base, 2.0);
    }

    #[test]
    fn rules_with_and_or_else_priority() {
        let net = ok("[RULES]\nRULE R1\nIF NODE J1 PRESSURE < 20\nAND LINK P1 FLOW > 5\nOR SYSTEM CLOCKTIME >= 6 AM\n\
            THEN PIPE P2 STATUS = CLOSED\nAND PIPE P1 STATUS = OPEN\nELSE PIPE P2 STATUS = OPEN\nPRIORITY 3\n\nRULE R2\nIF SYSTEM TIME > 2:00\nTHEN LINK P2 STATUS IS CLOSED\n");
        assert_eq!(net.rules.len(), 2);
        let r = &net.rules[0];
        let conj: Vec<Conjunction> = r.premises.iter().map(|p| p.conjunction).collect();
        assert_eq!(
            conj,
            vec![Conjunction::If, Conjunction::And, Conjunction::Or]
        );
        assert_eq!(r.then_actions.len(), 2);
        assert_eq!(r.else_actions.len(), 1);
        assert_eq!(r.priority, Some(3.0));
        assert_eq!(r.premises[2].value, RuleValue::Number(6.0 * 3600.0));
        assert_eq!(net.rules[1].premises[0].value, RuleValue::Number(7200.0));
        let e = net_with("[RULES]\nRULE X\nIF NODE J1 PRESSURE < 20\nELSE PIPE P2 STATUS = OPEN\n")
            .unwrap_err();
        assert!(e.errors[0].message.contains("ELSE must follow"), "{e}");
        let e = net_with("[RULES]\nRULE X\nIF NODE J1 PRESSURE < 20\nTHEN PIPE P2 STATUS = OPEN\nPRIORITY high\n").unwrap_err();
        assert_eq!(e.errors[0].field.as_deref(), Some("PRIORITY"), "{e}");
    }

    #[test]
    fn latin1_crlf_and_quoted_ids() {
        let text = b"[JUNCTIONS]\r\nJ\xe9 10 1\r\n\"J 2\" 10 1 ;quoted\r\n[RESERVOIRS]\r\nR1 100\r\n[PIPES]\r\nP1 R1 J\xe9 1000 12 100\r\nP2 J\xe9 \"J 2\" 1000 12 100\r\n[END]\r\n";
        let net = parse_inp_bytes(text, "t.inp").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            net.node_index("J\u{e9}").is_some(),
            "latin-1 byte 0xE9 is é"
        );
        let j2 = node(&net, "J 2");
        assert_eq!(j2.comment.as_deref(), Some("quoted"));
        assert_eq!(net.links[1].to, net.node_index("J 2").unwrap());
        // The same file in UTF-8 gives the same model.
        let utf8 = String::from_utf8_lossy(text).replace('\u{fffd}', "\u{e9}");
        assert!(parse_inp_bytes(utf8.as_bytes(), "t.inp").unwrap() == net);
    }

    #[test]
    fn section_headers_by_prefix() {
        let net = ok("[COORD]\nJ1 1 2\n[vertices]\nP1 3 4\n[Options]\nUnits LPS\n");
        assert_eq!(node(&net, "J1").coordinates, Some((1.0, 2.0)));
        assert_eq!(link(&net, "P1").vertices, vec![(3.0, 4.0)]);
        assert_eq!(net.options.flow_units, FlowUnits::Lps);
    }

    #[test]
    fn numbers_are_finite_and_within_range() {
        for ok in ["0", "-0", "1.5", "-2e3", "1e30", "1e-30", ".5", "5."] {
            assert!(parse_number(ok).is_some(), "{ok}");
        }
        for bad in [
            "", "x", "1,5", "nan", "inf", "-inf", "1e31", "1e-31", "1e-320", "1e999", "0x10",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn valve_connections_as_epanet_reads_them() {
        // A PRV/PSV/FCV may not touch a tank or reservoir (EPANET error 219)...
        let e = net_with("[VALVES]\nV1 R1 J2 12 PRV 50\n").unwrap_err();
        assert_eq!(e.errors[0].field.as_deref(), Some("Node1"), "{e}");
        // ...but valves sharing nodes are accepted when read from a file, as
        // EPANET 2.3 accepts (and solves) them; its error 220 is API-only.
        ok("[JUNCTIONS]\nJ3 0\nJ4 0\n[VALVES]\nV2 J2 J3 12 PRV 50\nV3 J4 J3 12 PRV 50\n[PIPES]\nP9 J1 J4 1 12 100\n");
    }

    #[test]
    fn a_file_without_nodes_is_no_network() {
        for text in [
            "",
            "\n; a comment\n[END]\n",
            "[TITLE]\nx\n[OPTIONS]\nUNITS LPS\n",
        ] {
            let e = parse_inp(text, "t.inp").unwrap_err();
            assert_eq!(e.errors.len(), 1, "{e}");
            assert!(e.to_string().contains("EPANET error 223"), "{e}");
        }
    }

    #[test]
    fn errors_are_listed_up_to_the_limit() {
        let bad: String = (0..MAX_ERRORS + 10).map(|i| format!("J{i} x\n")).collect();
        let e = parse_inp(&format!("[JUNCTIONS]\n{bad}"), "t.inp").unwrap_err();
        assert_eq!(e.errors.len(), MAX_ERRORS);
        assert!(e.truncated);
        assert!(e
            .to_string()
            .ends_with("(more errors not shown; the first 50 are listed)"));
    }

    #[test]
    fn a_broken_element_does_not_cascade_into_undefined_references() {
        let e = parse_inp("[JUNCTIONS]\nJ1 x\n[RESERVOIRS]\nR1 100\n[PIPES]\nP1 R1 J1 0 12 100\n[STATUS]\nP1 CLOSED\n", "t.inp").unwrap_err();
        let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
        assert_eq!(
            lines,
            vec![2, 6],
            "one error per bad line, none for references to them:\n{e}"
        );
    }
}
