//! Writes a [`Network`] as EPANET `.inp` text in the model's own units, so
//! that reading it back gives an identical model.

use super::reader::{leakage_factors, premise_quantity};
use super::time::format_time;
use crate::control::*;
use crate::link::*;
use crate::network::Network;
use crate::node::*;
use crate::options::*;
use crate::units::{from_si_with, Quantity, Units};
use std::fmt::Write;

/// The `.inp` text of a network.
pub fn write_inp(net: &Network) -> String {
    let mut w = Writer {
        net,
        u: net.units(),
        out: String::with_capacity(64 * (net.nodes.len() + net.links.len()) + 4096),
    };
    w.all();
    w.out
}

struct Writer<'n> {
    net: &'n Network,
    u: Units,
    out: String,
}

fn comment(c: &Option<String>) -> String {
    match c {
        Some(c) => format!(" ;{c}"),
        None => String::new(),
    }
}

/// IDs and free text are quoted when they would not read back as one token:
/// empty, with blanks or `;`, or starting with `[` (a section header). A
/// token holding a `"` came unquoted from the file (quotes cannot be
/// escaped), so it is written as it was.
fn q(s: &str) -> String {
    if !s.contains('"')
        && (s.is_empty() || s.starts_with('[') || s.contains([' ', '\t', '\r', ';']))
    {
        format!("\"{s}\"")
    } else {
        s.to_string()
    }
}

impl<'n> Writer<'n> {
    fn v(&self, qt: Quantity, si: f64) -> f64 {
        self.u.from_si(qt, si)
    }

    fn header(&mut self, name: &str) {
        let _ = writeln!(self.out, "\n[{name}]");
    }

    fn pattern_id(&self, p: Option<usize>) -> &str {
        p.map(|i| self.net.patterns[i].id.as_str()).unwrap_or("")
    }

    fn all(&mut self) {
        let net = self.net;
        self.out.push_str("[TITLE]\n");
        for t in &net.title {
            let _ = writeln!(self.out, "{t}");
        }
        self.nodes();
        self.links();
        self.tags();
        self.demands();
        self.status();
        self.patterns();
        self.curves();
        self.controls();
        self.rules();
        self.energy();
        self.emitters();
        self.leakage();
        self.quality();
        self.reactions();
        self.mixing();
        self.times();
        self.header("REPORT");
        for r in &net.report {
            let _ = writeln!(self.out, "{r}");
        }
        self.options();
        self.map();
        self.out.push_str("\n[END]\n");
    }

    fn nodes(&mut self) {
        let net = self.net;
        self.header("JUNCTIONS");
        for n in net.nodes.iter() {
            let NodeKind::Junction(j) = &n.kind else {
                continue;
            };
            let el = self.v(Quantity::Length, n.elevation);
            let (d, p) = match j.demands.first() {
                Some(d) => (
                    self.v(Quantity::Flow, d.base),
                    self.pattern_id(d.pattern).to_string(),
                ),
                None => (0.0, String::new()),
            };
            let _ = writeln!(
                self.out,
                "{} {} {} {}{}",
                q(&n.id),
                el,
                d,
                q_opt(&p),
                comment(&n.comment)
            );
        }
        // Reservoirs and tanks in model order, switching headers as needed.
        let mut current = "";
        for n in net.nodes.iter() {
            match &n.kind {
                NodeKind::Junction(_) => {}
                NodeKind::Reservoir(r) => {
                    if current != "RESERVOIRS" {
                        current = "RESERVOIRS";
                        self.header(current);
                    }
                    let h = self.v(Quantity::Length, n.elevation);
                    let p = self.pattern_id(r.head_pattern).to_string();
                    let _ = writeln!(
                        self.out,
                        "{} {} {}{}",
                        q(&n.id),
                        h,
                        q_opt(&p),
                        comment(&n.comment)
                    );
                }
                NodeKind::Tank(t) => {
                    if current != "TANKS" {
                        current = "TANKS";
                        self.header(current);
                    }
                    let l = |x| self.v(Quantity::Length, x);
                    let curve = t
                        .volume_curve
                        .map(|c| q(&net.curves[c].id))
                        .unwrap_or_else(|| "*".into());
                    let _ = writeln!(
                        self.out,
                        "{} {} {} {} {} {} {} {} {}{}",
                        q(&n.id),
                        l(n.elevation),
                        l(t.initial_level),
                        l(t.min_level),
                        l(t.max_level),
                        l(t.diameter),
                        self.v(Quantity::Volume, t.min_volume),
                        curve,
                        if t.can_overflow { "YES" } else { "NO" },
                        comment(&n.comment)
                    );
                }
            }
        }
        if current.is_empty() {
            self.header("RESERVOIRS");
        }
    }

    fn links(&mut self) {
        let net = self.net;
        let mut current = "";
        for l in &net.links {
            let section = match l.kind {
                LinkKind::Pipe(_) => "PIPES",
                LinkKind::Pump(_) => "PUMPS",
                LinkKind::Valve(_) => "VALVES",
            };
            if section != current {
                current = section;
                self.header(section);
            }
            let (a, b) = (q(&net.nodes[l.from].id), q(&net.nodes[l.to].id));
            match &l.kind {
                LinkKind::Pipe(p) => {
                    let rough = if net.options.headloss == HeadlossFormula::DarcyWeisbach {
                        self.v(Quantity::DwRoughness, p.roughness)
                    } else {
                        p.roughness
                    };
                    let status = if p.check_valve {
                        "CV"
                    } else if l.initial_status == LinkStatus::Closed {
                        "CLOSED"
                    } else {
                        "OPEN"
                    };
                    let _ = writeln!(
                        self.out,
                        "{} {a} {b} {} {} {} {} {}{}",
                        q(&l.id),
                        self.v(Quantity::Length, p.length),
                        self.v(Quantity::Diameter, p.diameter),
                        rough,
                        p.minor_loss,
                        status,
                        comment(&l.comment)
                    );
                }
                LinkKind::Pump(p) => {
                    let mut s = format!("{} {a} {b}", q(&l.id));
                    if let Some(c) = p.head_curve {
                        let _ = write!(s, " HEAD {}", q(&net.curves[c].id));
                    }
                    if let Some(pw) = p.power {
                        let _ = write!(s, " POWER {}", self.v(Quantity::Power, pw));
                    }
                    if p.speed != 1.0 {
                        let _ = write!(s, " SPEED {}", p.speed);
                    }
                    if let Some(pt) = p.pattern {
                        let _ = write!(s, " PATTERN {}", q(&net.patterns[pt].id));
                    }
                    let _ = writeln!(self.out, "{s}{}", comment(&l.comment));
                }
                LinkKind::Valve(v) => {
                    let setting = if v.kind == ValveType::Gpv {
                        v.curve
                            .map(|c| q(&net.curves[c].id))
                            .unwrap_or_else(|| "0".into())
                    } else {
                        self.v(v.kind.setting_quantity(), v.setting).to_string()
                    };
                    let curve = match (v.kind, v.curve) {
                        (ValveType::Pcv, Some(c)) => format!(" {}", q(&net.curves[c].id)),
                        _ => String::new(),
                    };
                    let _ = writeln!(
                        self.out,
                        "{} {a} {b} {} {} {} {}{}{}",
                        q(&l.id),
                        self.v(Quantity::Diameter, v.diameter),
                        v.kind.keyword(),
                        setting,
                        v.minor_loss,
                        curve,
                        comment(&l.comment)
                    );
                }
            }
        }
        for s in ["PIPES", "PUMPS", "VALVES"] {
            if !net.links.iter().any(|l| match l.kind {
                LinkKind::Pipe(_) => s == "PIPES",
                LinkKind::Pump(_) => s == "PUMPS",
                LinkKind::Valve(_) => s == "VALVES",
            }) {
                self.header(s);
            }
        }
    }

    fn tags(&mut self) {
        let net = self.net;
        self.header("TAGS");
        for n in &net.nodes {
            if let Some(t) = &n.tag {
                let _ = writeln!(self.out, "NODE {} {}", q(&n.id), q(t));
            }
        }
        for l in &net.links {
            if let Some(t) = &l.tag {
                let _ = writeln!(self.out, "LINK {} {}", q(&l.id), q(t));
            }
        }
    }

    fn demands(&mut self) {
        let net = self.net;
        self.header("DEMANDS");
        for n in &net.nodes {
            let Some(j) = n.junction() else { continue };
            if j.demands.len() > 1 || j.demands.first().is_some_and(|d| d.category.is_some()) {
                for d in &j.demands {
                    let p = self.pattern_id(d.pattern).to_string();
                    let p = if p.is_empty() && d.category.is_some() {
                        String::new()
                    } else {
                        p
                    };
                    let _ = writeln!(
                        self.out,
                        "{} {} {}{}",
                        q(&n.id),
                        self.v(Quantity::Flow, d.base),
                        q_opt(&p),
                        comment(&d.category)
                    );
                }
            }
        }
    }

    fn status(&mut self) {
        let net = self.net;
        self.header("STATUS");
        for l in &net.links {
            let s = match &l.kind {
                LinkKind::Pipe(_) => None,
                LinkKind::Pump(_) => (l.initial_status == LinkStatus::Closed).then_some("CLOSED"),
                LinkKind::Valve(v) => {
                    let default = if v.kind == ValveType::Gpv && v.curve.is_some() {
                        LinkStatus::Open
                    } else {
                        LinkStatus::Active
                    };
                    (l.initial_status != default).then_some(l.initial_status.keyword())
                }
            };
            if let Some(s) = s {
                let _ = writeln!(self.out, "{} {s}", q(&l.id));
            }
        }
    }

    fn patterns(&mut self) {
        let net = self.net;
        self.header("PATTERNS");
        for p in &net.patterns {
            for (k, chunk) in p.multipliers.chunks(12).enumerate() {
                let vals: Vec<String> = chunk.iter().map(|m| m.to_string()).collect();
                let c = if k == 0 {
                    comment(&p.comment)
                } else {
                    String::new()
                };
                let _ = writeln!(self.out, "{} {}{c}", q(&p.id), vals.join(" "));
            }
        }
    }

    fn curves(&mut self) {
        let net = self.net;
        self.header("CURVES");
        for c in &net.curves {
            let _ = writeln!(
                self.out,
                ";{}: {}",
                c.kind.keyword(),
                c.comment.as_deref().unwrap_or("")
            );
            for (x, y) in &c.points {
                let _ = writeln!(self.out, "{} {x} {y}", q(&c.id));
            }
        }
    }

    fn setting_file(&self, l: usize, x: f64) -> f64 {
        match &self.net.links[l].kind {
            LinkKind::Valve(v) => self.v(v.kind.setting_quantity(), x),
            _ => x,
        }
    }

    fn action_text(&self, l: usize, a: &LinkAction) -> String {
        match a {
            LinkAction::Status(s) => s.keyword().to_string(),
            LinkAction::Setting(x) => self.setting_file(l, *x).to_string(),
        }
    }

    fn controls(&mut self) {
        let net = self.net;
        self.header("CONTROLS");
        for c in &net.controls {
            let link = q(&net.links[c.link].id);
            let act = self.action_text(c.link, &c.action);
            let cond = match c.condition {
                ControlCondition::AtTime(t) => format!("AT TIME {}", format_time(t)),
                ControlCondition::AtClockTime(t) => format!("AT CLOCKTIME {}", format_time(t)),
                ControlCondition::NodeAbove(n, v) | ControlCondition::NodeBelow(n, v) => {
                    let qt = if net.nodes[n].is_junction() {
                        Quantity::Pressure
                    } else {
                        Quantity::Length
                    };
                    let word = if matches!(c.condition, ControlCondition::NodeAbove(..)) {
                        "ABOVE"
                    } else {
                        "BELOW"
                    };
                    format!("IF NODE {} {word} {}", q(&net.nodes[n].id), self.v(qt, v))
                }
            };
            let dis = if c.enabled { "" } else { " DISABLED" };
            let _ = writeln!(self.out, "LINK {link} {act} {cond}{dis}");
        }
    }

    fn link_word(&self, l: usize) -> &'static str {
        match self.net.links[l].kind {
            LinkKind::Pipe(_) => "PIPE",
            LinkKind::Pump(_) => "PUMP",
            LinkKind::Valve(_) => "VALVE",
        }
    }

    fn rules(&mut self) {
        let net = self.net;
        self.header("RULES");
        for r in &net.rules {
            let _ = writeln!(self.out, "\nRULE {}", q(&r.id));
            for p in &r.premises {
                let conj = match p.conjunction {
                    Conjunction::If => "IF",
                    Conjunction::And => "AND",
                    Conjunction::Or => "OR",
                };
                let obj = match p.object {
                    RuleObject::System => "SYSTEM".to_string(),
                    RuleObject::Node(n) => {
                        let w = match net.nodes[n].kind {
                            NodeKind::Junction(_) => "JUNCTION",
                            NodeKind::Reservoir(_) => "RESERVOIR",
                            NodeKind::Tank(_) => "TANK",
                        };
                        format!("{w} {}", q(&net.nodes[n].id))
                    }
                    RuleObject::Link(l) => format!("{} {}", self.link_word(l), q(&net.links[l].id)),
                };
                let val = match (p.variable, p.value) {
                    (_, RuleValue::Status(s)) => s.keyword().to_string(),
                    (
                        RuleVariable::Time
                        | RuleVariable::ClockTime
                        | RuleVariable::FillTime
                        | RuleVariable::DrainTime,
                        RuleValue::Number(x),
                    ) => format_time(x as u64),
                    (RuleVariable::Setting, RuleValue::Number(x)) => match p.object {
                        RuleObject::Link(l) => self.setting_file(l, x).to_string(),
                        _ => x.to_string(),
                    },
                    (v, RuleValue::Number(x)) => {
                        self.v(premise_quantity(net, p.object, v), x).to_string()
                    }
                };
                let _ = writeln!(
                    self.out,
                    "{conj} {obj} {} {} {val}",
                    p.variable.keyword(),
                    p.op.symbol()
                );
            }
            for (i, a) in r.then_actions.iter().enumerate() {
                self.action_line(if i == 0 { "THEN" } else { "AND" }, a);
            }
            for (i, a) in r.else_actions.iter().enumerate() {
                self.action_line(if i == 0 { "ELSE" } else { "AND" }, a);
            }
            if let Some(p) = r.priority {
                let _ = writeln!(self.out, "PRIORITY {p}");
            }
            if !r.enabled {
                let _ = writeln!(self.out, "DISABLED");
            }
        }
    }

    fn action_line(&mut self, word: &str, a: &RuleAction) {
        let var = match a.action {
            LinkAction::Status(_) => "STATUS",
            LinkAction::Setting(_) => "SETTING",
        };
        let line = format!(
            "{word} {} {} {var} = {}",
            self.link_word(a.link),
            q(&self.net.links[a.link].id),
            self.action_text(a.link, &a.action)
        );
        let _ = writeln!(self.out, "{line}");
    }

    fn energy(&mut self) {
        let net = self.net;
        let e = &net.energy;
        self.header("ENERGY");
        let _ = writeln!(self.out, "GLOBAL EFFIC {}", e.global_efficiency);
        let _ = writeln!(self.out, "GLOBAL PRICE {}", e.global_price);
        if let Some(p) = e.global_pattern {
            let _ = writeln!(self.out, "GLOBAL PATTERN {}", q(&net.patterns[p].id));
        }
        let _ = writeln!(self.out, "DEMAND CHARGE {}", e.demand_charge);
        for l in &net.links {
            let Some(p) = l.pump() else { continue };
            if let Some(c) = p.efficiency_curve {
                let _ = writeln!(self.out, "PUMP {} EFFIC {}", q(&l.id), q(&net.curves[c].id));
            }
            if let Some(x) = p.energy_price {
                let _ = writeln!(self.out, "PUMP {} PRICE {x}", q(&l.id));
            }
            if let Some(pt) = p.price_pattern {
                let _ = writeln!(
                    self.out,
                    "PUMP {} PATTERN {}",
                    q(&l.id),
                    q(&net.patterns[pt].id)
                );
            }
        }
    }

    fn emitters(&mut self) {
        let net = self.net;
        self.header("EMITTERS");
        let f = self.u.factor(Quantity::Flow)
            / self
                .u
                .factor(Quantity::Pressure)
                .powf(net.options.emitter_exponent);
        for n in &net.nodes {
            if let Some(j) = n.junction() {
                if j.emitter_coefficient != 0.0 {
                    let _ = writeln!(
                        self.out,
                        "{} {}",
                        q(&n.id),
                        from_si_with(f, j.emitter_coefficient)
                    );
                }
            }
        }
    }

    fn leakage(&mut self) {
        let net = self.net;
        let (fa, fe) = leakage_factors(&self.u);
        let leaky: Vec<_> = net
            .links
            .iter()
            .filter_map(|l| {
                l.pipe()
                    .filter(|p| p.leak_area != 0.0 || p.leak_expansion != 0.0)
                    .map(|p| (l, p))
            })
            .collect();
        if leaky.is_empty() {
            return;
        }
        self.header("LEAKAGE");
        for (l, p) in leaky {
            let _ = writeln!(
                self.out,
                "{} {} {}",
                q(&l.id),
                from_si_with(fa, p.leak_area),
                from_si_with(fe, p.leak_expansion)
            );
        }
    }

    fn quality(&mut self) {
        let net = self.net;
        self.header("QUALITY");
        for n in &net.nodes {
            if n.initial_quality != 0.0 {
                let _ = writeln!(self.out, "{} {}", q(&n.id), n.initial_quality);
            }
        }
        self.header("SOURCES");
        for n in &net.nodes {
            if let Some(s) = &n.source {
                let p = self.pattern_id(s.pattern).to_string();
                let _ = writeln!(
                    self.out,
                    "{} {} {} {}",
                    q(&n.id),
                    s.kind.keyword(),
                    s.strength,
                    q_opt(&p)
                );
            }
        }
    }

    fn reactions(&mut self) {
        let net = self.net;
        let r = &net.reactions;
        self.header("REACTIONS");
        let _ = writeln!(self.out, "ORDER BULK {}", r.order_bulk);
        let _ = writeln!(self.out, "ORDER WALL {}", r.order_wall);
        let _ = writeln!(self.out, "ORDER TANK {}", r.order_tank);
        let _ = writeln!(self.out, "GLOBAL BULK {}", r.global_bulk);
        let _ = writeln!(self.out, "GLOBAL WALL {}", r.global_wall);
        let _ = writeln!(self.out, "LIMITING POTENTIAL {}", r.limiting_potential);
        let _ = writeln!(
            self.out,
            "ROUGHNESS CORRELATION {}",
            r.roughness_correlation
        );
        for l in &net.links {
            if let Some(p) = l.pipe() {
                if let Some(k) = p.bulk_coefficient {
                    let _ = writeln!(self.out, "BULK {} {k}", q(&l.id));
                }
                if let Some(k) = p.wall_coefficient {
                    let _ = writeln!(self.out, "WALL {} {k}", q(&l.id));
                }
            }
        }
        for n in &net.nodes {
            if let Some(k) = n.tank().and_then(|t| t.bulk_coefficient) {
                let _ = writeln!(self.out, "TANK {} {k}", q(&n.id));
            }
        }
    }

    fn mixing(&mut self) {
        let net = self.net;
        self.header("MIXING");
        for n in &net.nodes {
            if let Some(t) = n.tank() {
                if t.mixing != Mixing::default() {
                    let _ = writeln!(
                        self.out,
                        "{} {} {}",
                        q(&n.id),
                        t.mixing.model.keyword(),
                        t.mixing.fraction
                    );
                }
            }
        }
    }

    fn times(&mut self) {
        let t = &self.net.times;
        self.header("TIMES");
        let mut lines = vec![
            format!("DURATION {}", format_time(t.duration)),
            format!("HYDRAULIC TIMESTEP {}", format_time(t.hydraulic_step)),
        ];
        if let Some(s) = t.quality_step {
            lines.push(format!("QUALITY TIMESTEP {}", format_time(s)));
        }
        if let Some(s) = t.rule_step {
            lines.push(format!("RULE TIMESTEP {}", format_time(s)));
        }
        lines.push(format!("PATTERN TIMESTEP {}", format_time(t.pattern_step)));
        lines.push(format!("PATTERN START {}", format_time(t.pattern_start)));
        lines.push(format!("REPORT TIMESTEP {}", format_time(t.report_step)));
        lines.push(format!("REPORT START {}", format_time(t.report_start)));
        lines.push(format!(
            "START CLOCKTIME {}",
            format_time(t.start_clocktime)
        ));
        let st = match t.statistic {
            Statistic::None => "NONE",
            Statistic::Average => "AVERAGE",
            Statistic::Minimum => "MINIMUM",
            Statistic::Maximum => "MAXIMUM",
            Statistic::Range => "RANGE",
        };
        lines.push(format!("STATISTIC {st}"));
        for l in lines {
            let _ = writeln!(self.out, "{l}");
        }
    }

    fn options(&mut self) {
        let net = self.net;
        let o = &net.options;
        self.header("OPTIONS");
        let mut lines = vec![
            format!("UNITS {}", o.flow_units.keyword()),
            format!("PRESSURE {}", o.pressure_units.keyword()),
            format!("HEADLOSS {}", o.headloss.keyword()),
            format!("SPECIFIC GRAVITY {}", o.specific_gravity),
            format!("VISCOSITY {}", o.viscosity),
            format!("TRIALS {}", o.trials),
            format!("ACCURACY {}", o.accuracy),
            match o.unbalanced {
                Unbalanced::Stop => "UNBALANCED STOP".to_string(),
                Unbalanced::Continue(n) => format!("UNBALANCED CONTINUE {n}"),
            },
            format!("PATTERN {}", q(&o.default_pattern)),
            format!("DEMAND MULTIPLIER {}", o.demand_multiplier),
            format!("EMITTER EXPONENT {}", o.emitter_exponent),
            match &o.quality {
                QualityMode::None => "QUALITY NONE".to_string(),
                QualityMode::Age => "QUALITY AGE".to_string(),
                QualityMode::Trace { node } => format!("QUALITY TRACE {}", q(&net.nodes[*node].id)),
                QualityMode::Chemical { name, units } => {
                    format!("QUALITY {} {}", q(name), q(units))
                }
            },
            format!("DIFFUSIVITY {}", o.diffusivity),
            format!("CHECKFREQ {}", o.check_freq),
            format!("MAXCHECK {}", o.max_check),
            format!("DAMPLIMIT {}", o.damp_limit),
            format!("HEADERROR {}", self.v(Quantity::Length, o.head_error)),
            format!("FLOWCHANGE {}", self.v(Quantity::Flow, o.flow_change)),
            format!("DEMAND MODEL {}", o.demand_model.keyword()),
            format!(
                "MINIMUM PRESSURE {}",
                self.v(Quantity::Pressure, o.minimum_pressure)
            ),
            format!("PRESSURE EXPONENT {}", o.pressure_exponent),
        ];
        // REQUIRED PRESSURE is left out when it is the reader's default
        // (MINIMUM + 0.1): written out, rounding could make the two closer
        // than the 0.1 EPANET requires.
        let pmin = self.v(Quantity::Pressure, o.minimum_pressure);
        if o.required_pressure != (pmin + 0.1) * self.u.factor(Quantity::Pressure) {
            lines.push(format!(
                "REQUIRED PRESSURE {}",
                self.v(Quantity::Pressure, o.required_pressure)
            ));
        }
        if let Some(t) = o.tolerance {
            lines.push(format!("TOLERANCE {t}"));
        }
        if !o.backflow_allowed {
            lines.push("BACKFLOW ALLOWED NO".to_string());
        }
        if let Some((mode, f)) = &o.hydraulics_file {
            lines.push(format!("HYDRAULICS {mode} {}", q(f)));
        }
        if let Some(f) = &o.map_file {
            lines.push(format!("MAP {}", q(f)));
        }
        for l in lines {
            let _ = writeln!(self.out, "{l}");
        }
    }

    fn map(&mut self) {
        let net = self.net;
        self.header("COORDINATES");
        for n in &net.nodes {
            if let Some((x, y)) = n.coordinates {
                let _ = writeln!(self.out, "{} {x} {y}", q(&n.id));
            }
        }
        self.header("VERTICES");
        for l in &net.links {
            for (x, y) in &l.vertices {
                let _ = writeln!(self.out, "{} {x} {y}", q(&l.id));
            }
        }
        self.header("LABELS");
        for lb in &net.labels {
            let anchor = lb
                .anchor
                .as_deref()
                .map(|a| format!(" {}", q(a)))
                .unwrap_or_default();
            // EPANET writes label text quoted; text holding a `"` cannot be.
            let text = if lb.text.contains('"') {
                lb.text.clone()
            } else {
                format!("\"{}\"", lb.text)
            };
            let _ = writeln!(self.out, "{} {} {text}{anchor}", lb.x, lb.y);
        }
        self.header("BACKDROP");
        for b in &net.backdrop {
            let _ = writeln!(self.out, "{b}");
        }
    }
}

fn q_opt(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        q(s)
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use crate::inp::{parse_inp, write_inp};

    fn round_trip(text: &str) {
        let net = parse_inp(text, "t.inp").unwrap_or_else(|e| panic!("{e}"));
        let again = parse_inp(&write_inp(&net), "w.inp").unwrap_or_else(|e| panic!("{e}"));
        assert!(again == net, "read → write → read changed the model");
    }

    const NET: &str = "[JUNCTIONS]\nJ1 10 1\n[RESERVOIRS]\nR1 100\n[PIPES]\nP1 R1 J1 1000 12 100\n";

    #[test]
    fn default_required_pressure_is_not_written() {
        // REQUIRED defaults to MINIMUM + 0.1; written as 8.1 it would be
        // rejected (8.1 - 8 < 0.1 in floating point, as in EPANET).
        round_trip(&format!(
            "[OPTIONS]\nDEMAND MODEL PDA\nMINIMUM PRESSURE 8\n{NET}"
        ));
        round_trip(&format!(
            "[OPTIONS]\nMINIMUM PRESSURE 8\nREQUIRED PRESSURE 20\n{NET}"
        ));
    }

    #[test]
    fn ids_and_labels_that_need_or_cannot_take_quotes() {
        round_trip(&format!("{NET}[JUNCTIONS]\n\"a b\" 1\n\"[x\" 2\nq\"t 3\n[PIPES]\nP2 J1 \"a b\" 1 1 1\nP3 J1 \"[x\" 1 1 1\nP4 J1 q\"t 1 1 1\n[LABELS]\n1 2 LA\"KE\n3 4 \"a b\"\n"));
    }
}
