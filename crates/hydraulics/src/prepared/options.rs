//! Solver options, time steps, patterns and curves of a [`super::Prepared`].

use super::{Opts, TimeData, VISCOS};
use crate::units::Ucf;
use network::{DemandModel, HeadlossFormula, Network, Quantity, Unbalanced};

/// The solver options in internal units (EPANET's hydraulic options).
pub(super) fn opts(net: &Network, ucf: &Ucf) -> Opts {
    let o = &net.options;
    let hexp = if o.headloss == HeadlossFormula::HazenWilliams {
        1.852
    } else {
        2.0
    };
    let qexp = 1.0 / o.emitter_exponent;
    Opts {
        formula: o.headloss,
        hexp,
        viscos: o.viscosity * VISCOS,
        hacc: o.accuracy,
        htol: 0.0005,
        qtol: 0.0001,
        rqtol: 1.0e-7,
        max_iter: o.trials as i64,
        extra_iter: match o.unbalanced {
            Unbalanced::Stop => -1,
            Unbalanced::Continue(n) => n as i64,
        },
        check_freq: o.check_freq as i64,
        max_check: o.max_check as i64,
        damp_limit: o.damp_limit,
        head_error_limit: ucf.internal(Quantity::Length, o.head_error),
        flow_change_limit: ucf.internal(Quantity::Flow, o.flow_change),
        dmult: o.demand_multiplier,
        qexp,
        pda: o.demand_model == DemandModel::Pda,
        pmin: ucf.internal(Quantity::Pressure, o.minimum_pressure),
        preq: ucf.internal(Quantity::Pressure, o.required_pressure),
        pexp: o.pressure_exponent,
        emit_backflow: o.backflow_allowed,
    }
}

/// The time steps, in seconds.
pub(super) fn times(net: &Network) -> TimeData {
    let t = &net.times;
    let hstep = t.effective_hydraulic_step() as i64;
    TimeData {
        dur: t.duration as i64,
        hstep,
        pstep: t.effective_pattern_step() as i64,
        pstart: t.pattern_start as i64,
        rstep: t.effective_report_step() as i64,
        rstart: t.effective_report_start() as i64,
        tstart: t.start_clocktime as i64,
        rulestep: {
            let r = t.rule_step.filter(|&r| r > 0).unwrap_or(hstep as u64 / 10) as i64;
            r.min(hstep).max(1)
        },
    }
}

/// Each pattern's multipliers (an empty pattern is a constant 1).
pub(super) fn patterns(net: &Network) -> Vec<Vec<f64>> {
    net.patterns
        .iter()
        .map(|p| {
            if p.multipliers.is_empty() {
                vec![1.0]
            } else {
                p.multipliers.clone()
            }
        })
        .collect()
}

/// Each curve's points, in file units.
pub(super) fn curves(net: &Network) -> Vec<Vec<(f64, f64)>> {
    net.curves.iter().map(|c| c.points.clone()).collect()
}
