//! Reads `[OPTIONS]` (the units first, as input2.c's `netsize` does, then
//! every other option), `[TIMES]` and `[ENERGY]`: input3.c's `optiondata`,
//! `timedata` and `energydata`.

use super::{At, Reader};
use crate::inp::lexer::{starts_with_ci, Section};
use crate::link::*;
use crate::network::Network;
use crate::options::*;
use crate::pattern::CurveType;
use crate::units::{FlowUnits, PressureUnits, Quantity, Units};

impl<'a, 's> Reader<'a, 's> {
    pub(super) fn options(&mut self) {
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

    pub(super) fn times(&mut self) {
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
            let Some(secs) = crate::inp::time::parse_time_tokens(vals) else {
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

    pub(super) fn energy(&mut self) {
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
}

fn pump_mut(net: &mut Network, l: usize) -> &mut Pump {
    match &mut net.links[l].kind {
        LinkKind::Pump(p) => p,
        _ => unreachable!("checked to be a pump"),
    }
}
