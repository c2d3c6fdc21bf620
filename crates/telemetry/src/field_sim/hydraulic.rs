//! A live hydraulic simulation as the truth of the simulated field.
//!
//! [`HydraulicTruth`] runs the `hydraulics` crate's extended-period
//! simulation of the network against the wall clock: simulated time =
//! (wall − start) × `speed`, and simulated time 0 is midnight on the
//! model's clock (a model whose START CLOCKTIME is not midnight starts at
//! the midnight before, its patterns at the values its clock gives then:
//! [`network::Network::start_at_midnight`], as the detector aligns a model
//! to data that start at a midnight). It serves, for every sensor of the map, the
//! reading of its element (SI):
//!
//! | kind | element | reading |
//! |---|---|---|
//! | pressure | node | pressure head, m (head − elevation) |
//! | flow | link | link flow, m³/s (signed, start → end node) |
//! | flow | node | node outflow (demand + emitters), m³/s |
//! | tank level | tank | level above the tank bottom, m |
//! | demand | node | customer demand, m³/s (emitter/leak outflow excluded: an AMR meter does not see a leak) |
//! | demand | link | link flow, m³/s |
//!
//! **Time.** The solver advances in EPANET's variable steps (hydraulic,
//! pattern, report, tank-fill and control times). As EPANET reports it, a
//! solved state holds until the next solved step: the source serves the
//! last step at or before the current simulated time (no interpolation,
//! which would smear pattern steps). The model runs in cycles of its
//! duration: past the end it restarts at time 0 (tank levels and link
//! statuses back to their initial values; leaks stay on). A model with
//! duration 0 is solved once and held (steady state).
//!
//! **Leaks** ([`Leak`], `PIPE:L/s@TIME`). The model has no leak element in
//! a pipe, so a leak is an emitter (q = C·p^n, the model's emitter exponent,
//! 0.5 by default) at one end node of the pipe: of the end nodes that are
//! junctions, the one nearer to the pipe's midpoint (by coordinates, along
//! its vertices; the start node on a tie or without coordinates). C is set
//! once, at leak start: C = q / p^n with p the node's pressure at leak start
//! (at least 1 m). As the leak itself lowers that pressure, p is taken from
//! the state solved with the leak (a few fixed-point re-solves from the
//! pre-leak pressure, to 0.5 %), so the leak flows the target at onset.
//! Approximations: the leak sits at a node, not inside the pipe; its flow is
//! exact only at onset, and afterwards follows the node's pressure over the
//! day (q ∝ p^n), as a real leak does rather than a fixed draw. It starts at the hydraulic step in progress at TIME (that step is solved
//! again with the leak, so the served values change at TIME), and stays on
//! from then on, across cycles too. TIME is on the simulated clock since the
//! field started (not wrapped), so a leak after the model's duration starts
//! in a later cycle.

use super::TruthSource;
use crate::sensor_map::{Element, Kind, SensorMap};
use crate::time::now_ms;
use hydraulics::Simulation;
use network::{Network, NodeKind};

/// A leak to add: `lps` litres per second out of pipe `link` from
/// simulated time `start_s` (seconds since the field started) on.
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    pub link: String,
    pub lps: f64,
    pub start_s: f64,
}

impl Leak {
    /// Parses `PIPE:L/s@TIME` (TIME as [`parse_sim_time`]), e.g. `p257:5@2:30`.
    pub fn parse(spec: &str) -> Result<Leak, String> {
        let err =
            |why: &str| format!("leak '{spec}': {why} (expected PIPE:L/s@TIME, e.g. p257:5@2:30)");
        let (left, time) = spec.rsplit_once('@').ok_or_else(|| err("no '@TIME'"))?;
        let (link, rate) = left.rsplit_once(':').ok_or_else(|| err("no ':L/s'"))?;
        if link.is_empty() {
            return Err(err("no pipe ID"));
        }
        let lps: f64 = rate
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| err("the flow must be a number of L/s > 0"))?;
        let start_s = parse_sim_time(time).map_err(|e| err(&e))?;
        Ok(Leak {
            link: link.to_string(),
            lps,
            start_s,
        })
    }
}

/// A simulated time: seconds (`5400`, `90.5`) or `H:MM[:SS]` (`1:30`,
/// `36:00`, `0:05:30`; hours may exceed 23).
pub fn parse_sim_time(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let bad = || format!("'{s}' is not a time (seconds, or H:MM[:SS])");
    let parts: Vec<&str> = s.split(':').collect();
    let t = match parts.as_slice() {
        [secs] => secs.parse::<f64>().map_err(|_| bad())?,
        [h, m] | [h, m, _] => {
            let h: u64 = h.parse().map_err(|_| bad())?;
            let m: u64 = m.parse().map_err(|_| bad())?;
            let sec: f64 = match parts.get(2) {
                Some(x) => x.parse().map_err(|_| bad())?,
                None => 0.0,
            };
            if m >= 60 || !(0.0..60.0).contains(&sec) {
                return Err(bad());
            }
            (h * 3600 + m * 60) as f64 + sec
        }
        _ => return Err(bad()),
    };
    if t.is_finite() && t >= 0.0 {
        Ok(t)
    } else {
        Err(bad())
    }
}

#[derive(Debug, Clone, Copy)]
enum Reading {
    Pressure(usize),
    LinkFlow(usize),
    NodeOutflow(usize),
    TankLevel(usize),
    Demand(usize),
    Nothing,
}

#[derive(Debug, Clone)]
struct LeakAt {
    leak: Leak,
    node: usize,
}

/// The truth of a running hydraulic simulation (see the module docs).
pub struct HydraulicTruth {
    /// Solved at the step served now.
    sim: Simulation,
    /// `sim` advanced to its next step (not solved yet).
    ahead: Option<Simulation>,
    /// No further step in this cycle (end of the model, or a failed solve).
    ended: bool,
    duration_s: f64,
    cycle: u64,
    readings: Vec<Reading>,
    /// Sorted by start time.
    leaks: Vec<LeakAt>,
    next_leak: usize,
    /// Emitter coefficient per node (m³/s per m^n): the model's own plus leaks.
    emitters: Vec<f64>,
    emitter_exp: f64,
    start_wall: i64,
    speed: f64,
}

/// The junction end of `link` where its leak goes (see the module docs).
pub fn leak_node(net: &Network, link: usize) -> Option<usize> {
    let l = &net.links[link];
    let (a, b) = (l.from, l.to);
    let ja = net.nodes[a].is_junction();
    let jb = net.nodes[b].is_junction();
    match (ja, jb) {
        (false, false) => None,
        (true, false) => Some(a),
        (false, true) => Some(b),
        (true, true) => {
            let (Some(pa), Some(pb)) = (net.nodes[a].coordinates, net.nodes[b].coordinates) else {
                return Some(a);
            };
            let mut pts = vec![pa];
            pts.extend(l.vertices.iter().copied());
            pts.push(pb);
            let seg =
                |p: (f64, f64), q: (f64, f64)| ((q.0 - p.0).powi(2) + (q.1 - p.1).powi(2)).sqrt();
            let total: f64 = pts.windows(2).map(|w| seg(w[0], w[1])).sum();
            let mut mid = pa;
            let mut left = total / 2.0;
            for w in pts.windows(2) {
                let d = seg(w[0], w[1]);
                if d >= left && d > 0.0 {
                    let f = left / d;
                    mid = (
                        w[0].0 + f * (w[1].0 - w[0].0),
                        w[0].1 + f * (w[1].1 - w[0].1),
                    );
                    break;
                }
                left -= d;
            }
            if seg(pb, mid) < seg(pa, mid) - 1e-9 * total.max(1.0) {
                Some(b)
            } else {
                Some(a)
            }
        }
    }
}

/// Why a hydraulic truth cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    /// A setting or the sensor map does not fit the model.
    #[error("{0}")]
    Setup(String),
    #[error("cannot prepare the network")]
    Prepare(#[from] hydraulics::PrepareError),
    #[error("the hydraulic simulation fails at time 0")]
    Sim(#[from] hydraulics::SimError),
}

impl HydraulicTruth {
    /// Prepares the simulation of `net` for the sensors of `map` (validated
    /// against `net`), with `leaks`, running `speed` simulated seconds per
    /// wall-clock second from now. Solves time 0.
    pub fn new(
        net: Network,
        map: &SensorMap,
        leaks: &[Leak],
        speed: f64,
    ) -> Result<HydraulicTruth, TruthError> {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(TruthError::Setup(format!("speed {speed}: must be > 0")));
        }
        let mut net = net;
        net.start_at_midnight();
        let readings = map
            .sensors
            .iter()
            .map(|s| {
                let idx = match &s.element {
                    Element::Node(id) => net.node_index(id),
                    Element::Link(id) => net.link_index(id),
                };
                let Some(i) = idx else {
                    return Err(TruthError::Setup(format!(
                        "sensor '{}': no element '{}' in the network",
                        s.tag,
                        s.element.id()
                    )));
                };
                Ok(match (&s.element, s.kind) {
                    (Element::Node(_), Kind::Pressure) => Reading::Pressure(i),
                    (Element::Node(_), Kind::Flow) => Reading::NodeOutflow(i),
                    (Element::Node(_), Kind::TankLevel) => Reading::TankLevel(i),
                    (Element::Node(_), Kind::Demand) => Reading::Demand(i),
                    (Element::Link(_), Kind::Flow | Kind::Demand) => Reading::LinkFlow(i),
                    (Element::Link(_), Kind::Pressure | Kind::TankLevel) => Reading::Nothing,
                })
            })
            .collect::<Result<Vec<_>, TruthError>>()?;
        let mut at = Vec::new();
        for l in leaks {
            let k = net.link_index(&l.link).ok_or_else(|| {
                TruthError::Setup(format!("leak: no pipe '{}' in the network", l.link))
            })?;
            let node = leak_node(&net, k).ok_or_else(|| {
                TruthError::Setup(format!(
                    "leak: neither end of '{}' is a junction (a leak needs one)",
                    l.link
                ))
            })?;
            at.push(LeakAt {
                leak: l.clone(),
                node,
            });
        }
        at.sort_by(|a, b| a.leak.start_s.total_cmp(&b.leak.start_s));
        let emitters = net
            .nodes
            .iter()
            .map(|n| match &n.kind {
                NodeKind::Junction(j) => j.emitter_coefficient,
                _ => 0.0,
            })
            .collect();
        let emitter_exp = net.options.emitter_exponent;
        let duration_s = net.times.duration as f64;
        let mut sim = Simulation::from_network(net)?;
        sim.run()?;
        Ok(HydraulicTruth {
            sim,
            ahead: None,
            ended: duration_s <= 0.0,
            duration_s,
            cycle: 0,
            readings,
            leaks: at,
            next_leak: 0,
            emitters,
            emitter_exp,
            start_wall: now_ms(),
            speed,
        })
    }

    /// Sets the wall time (epoch ms) at which simulated time 0 is.
    pub fn with_start_wall(mut self, t_ms: i64) -> HydraulicTruth {
        self.start_wall = t_ms;
        self
    }

    /// Simulated seconds since the field started at wall time `t_ms`.
    pub fn sim_time_s(&self, t_ms: i64) -> f64 {
        ((t_ms - self.start_wall) as f64 / 1000.0 * self.speed).max(0.0)
    }

    /// Model time (s, within the cycle) of the state served now.
    pub fn model_time_s(&self) -> u64 {
        self.sim.time_s()
    }

    /// The leaks as (pipe, node ID where its emitter sits).
    pub fn leak_nodes(&self) -> Vec<(String, String)> {
        self.leaks
            .iter()
            .map(|l| {
                (
                    l.leak.link.clone(),
                    self.sim.network().nodes[l.node].id.clone(),
                )
            })
            .collect()
    }

    /// The simulation at the state served now.
    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }

    /// Steps the simulation to absolute simulated time `abs` (s).
    fn advance_to(&mut self, abs: f64) {
        if self.duration_s <= 0.0 {
            return;
        }
        let cycle = (abs / self.duration_s).floor() as u64;
        let mt = abs - cycle as f64 * self.duration_s;
        if cycle != self.cycle || mt < self.sim.time_s() as f64 {
            self.cycle = cycle;
            self.sim.init(false);
            self.ahead = None;
            self.ended = false;
            if let Err(e) = self.sim.run() {
                tracing::warn!("field-sim: hydraulic solve failed, holding the last values: {e}");
                self.ended = true;
            }
        }
        while !self.ended {
            if self.ahead.is_none() {
                let mut a = self.sim.clone();
                if a.next() == 0 {
                    self.ended = true;
                    break;
                }
                self.ahead = Some(a);
            }
            if self.ahead.as_ref().is_some_and(|a| a.time_s() as f64 > mt) {
                break;
            }
            let mut a = self.ahead.take().unwrap();
            match a.run() {
                Ok(_) => self.sim = a,
                Err(e) => {
                    tracing::warn!(
                        "field-sim: hydraulic solve failed, holding the last values until the model restarts: {e}"
                    );
                    self.ended = true;
                }
            }
        }
    }

    /// Turns leak `i` on at the state served now and solves that step again.
    fn start_leak(&mut self, i: usize) {
        let LeakAt { leak, node } = self.leaks[i].clone();
        let q = leak.lps / 1000.0;
        let n = self.emitter_exp;
        let p0 = self.sim.pressure_m(node);
        let mut c = q / p0.max(1.0).powf(n);
        self.ahead = None;
        for it in 0..6 {
            self.sim.set_emitter(node, self.emitters[node] + c);
            if let Err(e) = self.sim.run() {
                tracing::warn!(
                    "field-sim: hydraulic solve with the leak at {} failed: {e}",
                    leak.link
                );
                self.ended = true;
                break;
            }
            let c_new = q / self.sim.pressure_m(node).max(1.0).powf(n);
            if (c_new - c).abs() <= 0.005 * c || it == 5 {
                break;
            }
            c = c_new;
        }
        self.emitters[node] += c;
        let p = self.sim.pressure_m(node);
        tracing::info!(
            "field-sim: leak at pipe {} from {:.0} s: emitter at node {} (C = {c:.3e} m³/s/m^{n}), \
             {:.2} L/s at onset (target {}), pressure {p0:.2} → {p:.2} m",
            leak.link,
            leak.start_s,
            self.sim.network().nodes[node].id,
            c * 1000.0 * p.max(0.0).powf(n),
            leak.lps,
        );
    }

    /// Steps to absolute simulated time `abs` (s), starting the leaks due.
    pub fn advance(&mut self, abs: f64) {
        while let Some(l) = self.leaks.get(self.next_leak) {
            if l.leak.start_s > abs {
                break;
            }
            let s = l.leak.start_s;
            self.advance_to(s);
            self.start_leak(self.next_leak);
            self.next_leak += 1;
        }
        self.advance_to(abs);
    }

    /// The readings of the state served now.
    pub fn read(&self, out: &mut [Option<f64>]) {
        let s = &self.sim;
        for (o, r) in out.iter_mut().zip(&self.readings) {
            let v = match *r {
                Reading::Pressure(i) => Some(s.pressure_m(i)),
                Reading::LinkFlow(k) => Some(s.flow_lps(k) / 1000.0),
                Reading::NodeOutflow(i) => Some(s.demand_lps(i) / 1000.0),
                Reading::TankLevel(i) => s.tank_level_m(i),
                Reading::Demand(i) => Some((s.demand_lps(i) - s.emitter_flow_lps(i)) / 1000.0),
                Reading::Nothing => None,
            };
            *o = v.filter(|v| v.is_finite());
        }
    }
}

impl TruthSource for HydraulicTruth {
    fn values_at(&mut self, t_ms: i64, out: &mut [Option<f64>]) {
        let abs = self.sim_time_s(t_ms);
        self.advance(abs);
        self.read(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leak_specs_and_times() {
        assert_eq!(
            Leak::parse("p257:5@2:30").unwrap(),
            Leak {
                link: "p257".into(),
                lps: 5.0,
                start_s: 9000.0
            }
        );
        let l = Leak::parse("a:b:0.5@90").unwrap();
        assert_eq!((l.link.as_str(), l.lps, l.start_s), ("a:b", 0.5, 90.0));
        assert_eq!(parse_sim_time("36:00").unwrap(), 129_600.0);
        assert_eq!(parse_sim_time("0:05:30").unwrap(), 330.0);
        for bad in [
            "p1@1:00",
            "p1:x@1:00",
            "p1:-2@0",
            "p1:2",
            ":2@0",
            "p1:2@1:75",
            "p1:2@-5",
            "p1:2@soon",
        ] {
            assert!(Leak::parse(bad).is_err(), "{bad}");
        }
    }
}
