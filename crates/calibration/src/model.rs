//! The model driven by the measured boundary conditions, run over a period
//! for one parameter set.
//!
//! Tanks with a level series are set to the measured level at every row
//! before the step is solved (a tank is a fixed head within one solve, so
//! this is the detector's fixed-head drive, `tank_to_fixed_head`, at the
//! rows), but they stay tanks: controls conditioned on their level keep
//! acting on the links nobody measures (Net3's bypass pipe 330 follows
//! tank 1). Pumps with a flow series follow the measured on/off state, and
//! the controls and rules on them are removed
//! (`detection::netedit::drop_controls_on_link`, the detector's function),
//! as are those on links of uncertain status (their status is the
//! parameter). One run is one
//! extended-period simulation with the data's step as hydraulic and report
//! step, the patterns started at the data's first row.
//!
//! The runs are solved tighter than the model's own ACCURACY, so that a
//! finite difference is not convergence noise; but a model has a floor
//! below which its steps stop converging (MICROPOLIS: a relative flow
//! change of about 2·10⁻⁶), and a step stopped at its trial limit can hold
//! a wrong state (a pump switched on with no flow). So the accuracy is
//! settled once, on the nominal model: the tightest of 1·10⁻⁶, 3·10⁻⁶,
//! 1·10⁻⁵, … up to the model's own at which every measured step converges
//! (or, when none does, the one with the fewest unconverged steps); and a
//! step is a prediction only when it reaches that accuracy.

use crate::data::{held, Data, ObsKind};
use crate::params::{apply, ParamSet};
use crate::{CalibError, Options};
use detection::netedit::drop_controls_on_link;
use hydraulics::Simulation;
use network::Network;

/// A period's data and the driven model, ready to run parameter sets.
pub(crate) struct Engine<'a> {
    /// The driven model. Its ACCURACY is the runs' accuracy, settled on
    /// the nominal model: a step whose relative flow change stays above it
    /// is not solved.
    base: Network,
    data: &'a Data,
    /// (tank node, level per row).
    tanks: Vec<(usize, Vec<f64>)>,
    /// (link, open per row).
    pumps: Vec<(usize, Vec<bool>)>,
    /// What was changed in the model to drive it, one line each.
    pub(crate) notes: Vec<String>,
}

impl<'a> Engine<'a> {
    pub(crate) fn new(
        net: &Network,
        set: &ParamSet,
        data: &'a Data,
        opts: &Options,
    ) -> Result<Engine<'a>, CalibError> {
        if data.rows == 0 {
            return Err(CalibError::EmptyPeriod);
        }
        if data.step_s == 0 {
            return Err(CalibError::Data("the time step is 0 s".into()));
        }
        for o in &data.observations {
            if o.values.len() != data.rows {
                return Err(CalibError::Data(format!(
                    "sensor {}: {} values for {} rows",
                    o.name,
                    o.values.len(),
                    data.rows
                )));
            }
        }
        let mut base = net.clone();
        let mut notes = Vec::new();
        let own_accuracy = base.options.accuracy;
        // The model runs through the whole period: an unbalanced step goes
        // on (EPANET's UNBALANCED CONTINUE 10, as the detector's model does)
        // instead of halting the run.
        if base.options.unbalanced == network::Unbalanced::Stop {
            base.options.unbalanced = network::Unbalanced::Continue(10);
            notes.push(
                "the model's UNBALANCED STOP is run as UNBALANCED CONTINUE 10 (a calibration runs the model through the whole period)"
                    .to_string(),
            );
        }
        let mut tanks = Vec::new();
        for s in &data.tank_levels {
            let id = &net.nodes[s.element].id;
            let levels = held(&s.values).ok_or_else(|| {
                CalibError::Data(format!("tank {id}: no level reading in the period"))
            })?;
            if net.nodes[s.element].tank().is_none() {
                return Err(CalibError::Data(format!(
                    "{id} has a level series but is no tank"
                )));
            }
            tanks.push((s.element, levels));
        }
        let mut pumps = Vec::new();
        for s in &data.pump_flows {
            let id = &net.links[s.element].id;
            let flows = held(&s.values).ok_or_else(|| {
                CalibError::Data(format!("pump {id}: no flow reading in the period"))
            })?;
            let removed = drop_controls_on_link(&mut base, s.element);
            if !removed.is_empty() {
                notes.push(format!(
                    "pump {id} follows its measured flow: {removed} acting on it no longer act"
                ));
            }
            pumps.push((
                s.element,
                flows.iter().map(|&q| q > opts.pump_on_flow).collect(),
            ));
        }
        for &k in &set.pump_speed {
            if !pumps.iter().any(|p| p.0 == k) {
                return Err(CalibError::Data(format!(
                    "pump {}: its speed is a parameter, but it has no flow reading (the \
                     model drives a fitted pump by its measured on/off state)",
                    net.links[k].id
                )));
            }
        }
        for (i, n) in net.nodes.iter().enumerate() {
            if n.is_tank() && !tanks.iter().any(|t| t.0 == i) {
                notes.push(format!(
                    "tank {} has no level reading: it follows the model from its initial level",
                    n.id
                ));
            }
        }
        for (k, l) in net.links.iter().enumerate() {
            if matches!(l.kind, network::LinkKind::Pump(_)) && !pumps.iter().any(|p| p.0 == k) {
                notes.push(format!(
                    "pump {} has no flow reading: it follows the model's controls",
                    l.id
                ));
            }
        }
        for &k in &set.uncertain_links {
            let removed = drop_controls_on_link(&mut base, k);
            if !removed.is_empty() {
                notes.push(format!(
                    "link {} has an uncertain status: {removed} acting on it no longer act",
                    net.links[k].id
                ));
            }
        }
        let t = &mut base.times;
        t.duration = (data.rows as u64 - 1) * data.step_s;
        t.hydraulic_step = data.step_s;
        t.report_step = data.step_s;
        t.report_start = 0;
        t.pattern_start += data.start_s;
        t.start_clocktime = (t.start_clocktime + data.start_s) % 86_400;
        let mut engine = Engine {
            base,
            data,
            tanks,
            pumps,
            notes,
        };
        if let Some(a) = opts.accuracy.filter(|&a| a < own_accuracy) {
            engine.settle_accuracy(set, a, own_accuracy)?;
        }
        Ok(engine)
    }

    /// Chooses the accuracy of the runs: the tightest of `tight`, then
    /// steps of √10 up to `own` (the model's), at which every measured
    /// step of the nominal model converges; failing that, the one with
    /// the fewest unconverged steps (the tighter on a tie).
    fn settle_accuracy(&mut self, set: &ParamSet, tight: f64, own: f64) -> Result<(), CalibError> {
        let ones = |n: usize| vec![1.0; n];
        let open: Vec<bool> = set
            .uncertain_links
            .iter()
            .map(|&k| crate::params::initially_open(&self.base, k))
            .collect();
        let mut ladder = Vec::new();
        let mut a = tight;
        while a < own * (1.0 - 1e-9) {
            ladder.push(a);
            a *= 10f64.sqrt();
        }
        ladder.push(own);
        let mut best: Option<(usize, f64)> = None;
        for &a in &ladder {
            self.base.options.accuracy = a;
            let unsolved = self
                .run_full(
                    set,
                    &ones(set.roughness.len()),
                    &ones(set.demand.len()),
                    &ones(set.pump_speed.len()),
                    &open,
                )?
                .unsolved;
            if best.is_none_or(|(u, _)| unsolved < u) {
                best = Some((unsolved, a));
            }
            if unsolved == 0 {
                break;
            }
        }
        let (unsolved, a) = best.expect("the ladder holds the model's own accuracy");
        self.base.options.accuracy = a;
        if a > tight {
            let rest = if unsolved > 0 {
                format!("; {unsolved} measured step(s) converge at no accuracy tried and are not predicted")
            } else {
                String::new()
            };
            self.notes.push(format!(
                "the model's steps do not all converge to a relative flow change of {tight:.0e}: the calibration runs at {a:.1e} (the model's own ACCURACY is {own:.0e}){rest}"
            ));
        }
        Ok(())
    }

    /// One run with these parameter values: the predicted value of every
    /// observation (without sensor offsets), the state of the links at
    /// each row, and the number of measured steps not solved to the run
    /// accuracy.
    pub(crate) fn run_full(
        &self,
        set: &ParamSet,
        rough: &[f64],
        demand: &[f64],
        speed: &[f64],
        open: &[bool],
    ) -> Result<Run, CalibError> {
        let net = apply(&self.base, set, rough, demand, speed, open);
        // The speed a measured pump runs at when it is on: its model speed
        // (1 when it starts closed) times its factor. Opening a pump by
        // status alone restarts it at speed 1, as EPANET does.
        let on_speed: Vec<f64> = self
            .pumps
            .iter()
            .map(|(k, _)| {
                let base = self.base.links[*k].pump().map_or(1.0, |p| {
                    if p.speed > 0.0 {
                        p.speed
                    } else {
                        1.0
                    }
                });
                let f = set
                    .pump_speed
                    .iter()
                    .position(|q| q == k)
                    .and_then(|i| speed.get(i))
                    .copied()
                    .unwrap_or(1.0);
                base * f
            })
            .collect();
        let mut sim = Simulation::from_network(net).map_err(CalibError::Prepare)?;
        let rows = self.data.rows;
        let step = self.data.step_s;
        let obs = &self.data.observations;
        let mut out = vec![f64::NAN; obs.len() * rows];
        // The time of the last step solved: the end of the period unless
        // the model stopped early.
        let mut last_t;
        let mut unsolved = 0;
        let mut states = vec![0u64; rows];
        loop {
            let t = sim.time_s();
            last_t = t;
            let r = (t / step) as usize;
            let on_grid = t % step == 0 && r < rows;
            if on_grid {
                for (i, lv) in &self.tanks {
                    sim.set_tank_level(*i, lv[r]);
                }
                for ((k, open), &s) in self.pumps.iter().zip(&on_speed) {
                    sim.set_link_open(*k, open[r]);
                    if open[r] && s != 1.0 {
                        sim.set_link_setting(*k, s);
                    }
                }
            }
            let step_report = sim.run().map_err(|e| CalibError::Sim {
                time_s: t,
                source: e,
            })?;
            // A step not solved to the run accuracy after its trials, or a
            // value outside the sensor's range, is no prediction (NaN).
            let solved = step_report.relative_error <= self.base.options.accuracy;
            if on_grid {
                unsolved += usize::from(!solved);
                states[r] = link_states(&sim);
                for (o, ob) in obs.iter().enumerate() {
                    let v = match ob.kind {
                        ObsKind::Pressure => sim.pressure_m(ob.element),
                        ObsKind::Flow => sim.flow_lps(ob.element) / 1000.0,
                    };
                    let readable = solved && ob.range.is_none_or(|(lo, hi)| v >= lo && v <= hi);
                    out[o * rows + r] = if readable { v } else { f64::NAN };
                }
            }
            if sim.next() == 0 {
                break;
            }
        }
        let period_s = (rows as u64 - 1) * step;
        if last_t < period_s {
            return Err(CalibError::Stopped {
                time_s: last_t,
                period_s,
            });
        }
        Ok(Run {
            pred: out,
            states,
            unsolved,
        })
    }
}

/// One run of the driven model.
pub(crate) struct Run {
    /// Predicted values, observation-major (`[o * rows + r]`), NaN where
    /// no prediction.
    pub(crate) pred: Vec<f64>,
    /// Per row, a fingerprint of every link's state (open, closed, active):
    /// two runs with equal fingerprints at a row are on the same branch
    /// of the model's discrete states there.
    pub(crate) states: Vec<u64>,
    /// Measured steps not solved to the run accuracy.
    pub(crate) unsolved: usize,
}

/// A fingerprint (FNV-1a) of the state of every link.
fn link_states(sim: &Simulation) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for k in 0..sim.link_count() {
        let v = match sim.link_state(k) {
            hydraulics::LinkState::Open => 1u64,
            hydraulics::LinkState::Closed => 2,
            hydraulics::LinkState::Active => 3,
        };
        h = (h ^ v).wrapping_mul(0x0100_0000_01b3);
    }
    h
}
