//! Simple controls on time and tank levels, and rule-based controls
//! (premises, THEN/ELSE actions, priorities), as EPANET evaluates them.

use crate::coeffs::tank_volume;
use crate::prepared::{stat, ActionData, ControlType, LinkType, Prepared, PumpType, MISSING, TINY};
use crate::solver::State;
use network::{RelOp, RuleObject, RuleVariable};

/// Resets a constant-power pump's flow when it reopens.
fn reset_pump_flow(pr: &Prepared, s: &mut State, k: usize) {
    let p = &pr.pumps[pr.link_pump[k]];
    if p.ptype == PumpType::ConstHp {
        s.flow[k] = p.q0;
    }
}

/// EPANET's `setlinkstatus`: open (`true`) or close a link.
pub fn set_link_status(pr: &Prepared, s: &mut State, k: usize, open: bool) {
    let t = pr.ltype[k];
    if open {
        if t == LinkType::Pump {
            s.setting[k] = 1.0;
            if s.status[k] == stat::CLOSED {
                reset_pump_flow(pr, s, k);
            }
        }
        if t > LinkType::Pump && t != LinkType::Gpv {
            s.setting[k] = MISSING;
        }
        s.status[k] = stat::OPEN;
    } else {
        if t == LinkType::Pump {
            s.setting[k] = 0.0;
        }
        if t > LinkType::Pump && t != LinkType::Gpv {
            s.setting[k] = MISSING;
        }
        s.status[k] = stat::CLOSED;
    }
}

/// EPANET's `setlinksetting`: pump speed or valve setting (internal units).
pub fn set_link_setting(pr: &Prepared, s: &mut State, k: usize, value: f64) {
    match pr.ltype[k] {
        LinkType::Pump => {
            s.setting[k] = value;
            if value > 0.0 && s.status[k] <= stat::CLOSED {
                reset_pump_flow(pr, s, k);
                s.status[k] = stat::OPEN;
            }
            if value == 0.0 && s.status[k] > stat::CLOSED {
                s.status[k] = stat::CLOSED;
            }
        }
        LinkType::Fcv => {
            s.setting[k] = value;
            s.status[k] = stat::ACTIVE;
        }
        _ => {
            if s.setting[k] == MISSING && s.status[k] <= stat::CLOSED {
                s.status[k] = stat::OPEN;
            }
            s.setting[k] = value;
        }
    }
}

/// Applies simple controls on time and tank level at time `htime`.
pub fn apply_controls(pr: &Prepared, s: &mut State, htime: i64) -> usize {
    let mut setsum = 0;
    for c in &pr.controls {
        let k = c.link;
        let mut reset = false;
        if let Some(n) = c.node {
            if n >= pr.njuncs {
                let t = pr.node_tank[n];
                let h = s.head[n];
                let vplus = s.node_demand[n].abs();
                let v1 = tank_volume(pr, t, h);
                let v2 = tank_volume(pr, t, c.grade);
                if c.ctype == ControlType::LowLevel && v1 <= v2 + vplus {
                    reset = true;
                }
                if c.ctype == ControlType::HiLevel && v1 >= v2 - vplus {
                    reset = true;
                }
            }
        }
        if c.ctype == ControlType::Timer && c.time == htime {
            reset = true;
        }
        if c.ctype == ControlType::TimeOfDay && (htime + pr.times.tstart) % 86400 == c.time {
            reset = true;
        }
        if reset {
            let s1 = if s.status[k] <= stat::CLOSED {
                stat::CLOSED
            } else {
                stat::OPEN
            };
            let s2 = c.status;
            let k1 = s.setting[k];
            let k2 = if pr.ltype[k] > LinkType::Pipe {
                c.setting
            } else {
                k1
            };
            if pr.ltype[k] == LinkType::Pump && s1 == stat::CLOSED && s2 == stat::OPEN {
                reset_pump_flow(pr, s, k);
            }
            if s1 != s2 || k1 != k2 {
                s.status[k] = s2;
                s.setting[k] = k2;
                setsum += 1;
            }
        }
    }
    setsum
}

/// Time (s) until some simple control acts, if before `tstep`.
pub fn control_timestep(pr: &Prepared, s: &State, htime: i64, tstep: &mut i64) {
    for c in &pr.controls {
        let mut t: i64 = 0;
        if let Some(n) = c.node {
            if n < pr.njuncs {
                continue;
            }
            let j = pr.node_tank[n];
            let h = s.head[n];
            let q = s.node_demand[n];
            if q.abs() <= crate::prepared::QZERO {
                continue;
            }
            if (h < c.grade && c.ctype == ControlType::HiLevel && q > 0.0)
                || (h > c.grade && c.ctype == ControlType::LowLevel && q < 0.0)
            {
                let v = tank_volume(pr, j, c.grade) - s.tank_v[j];
                t = (v / q).round() as i64;
            }
        }
        if c.ctype == ControlType::Timer && c.time > htime {
            t = c.time - htime;
        }
        if c.ctype == ControlType::TimeOfDay {
            let t1 = (htime + pr.times.tstart) % 86400;
            let t2 = c.time;
            t = if t2 >= t1 { t2 - t1 } else { 86400 - t1 + t2 };
        }
        if t > 0 && t < *tstep {
            let k = c.link;
            if (pr.ltype[k] > LinkType::Pipe && s.setting[k] != c.setting)
                || s.status[k] != c.status
            {
                *tstep = t;
            }
        }
    }
}

fn check_time(pr: &Prepared, p: &crate::prepared::PremiseData, time1: i64, htime: i64) -> bool {
    let (t1, t2) = match p.variable {
        RuleVariable::Time => (time1, htime),
        RuleVariable::ClockTime => (
            (time1 + pr.times.tstart) % 86400,
            (htime + pr.times.tstart) % 86400,
        ),
        _ => return false,
    };
    let x = p.value as i64;
    match p.op {
        RelOp::Lt => t2 < x,
        RelOp::Le => t2 <= x,
        RelOp::Gt => t2 > x,
        RelOp::Ge => t2 >= x,
        RelOp::Eq | RelOp::Ne => {
            let flag = if t2 < t1 {
                x >= t1 || x <= t2
            } else {
                x >= t1 && x <= t2
            };
            if p.op == RelOp::Eq {
                flag
            } else {
                !flag
            }
        }
    }
}

fn check_status(s: &State, p: &crate::prepared::PremiseData) -> bool {
    let RuleObject::Link(k) = p.object else {
        return false;
    };
    let Some(want) = p.status else { return false };
    let i = s.status[k];
    let j = if i <= stat::CLOSED {
        stat::CLOSED
    } else if i == stat::ACTIVE {
        stat::ACTIVE
    } else {
        stat::OPEN
    };
    match p.op {
        RelOp::Eq => j == want,
        RelOp::Ne => j != want,
        _ => false,
    }
}

fn check_value(pr: &Prepared, s: &State, p: &crate::prepared::PremiseData, dsystem: f64) -> bool {
    let u = &pr.ucf;
    let tol = 1.0e-3;
    let x = match (p.variable, p.object) {
        (RuleVariable::Demand, RuleObject::System) => dsystem * u.flow,
        (RuleVariable::Demand, RuleObject::Node(i)) => s.node_demand[i] * u.flow,
        (RuleVariable::Head | RuleVariable::Grade, RuleObject::Node(i)) => s.head[i] * u.head,
        (RuleVariable::Pressure, RuleObject::Node(i)) => (s.head[i] - pr.el[i]) * u.pressure,
        (RuleVariable::Level, RuleObject::Node(i)) => (s.head[i] - pr.el[i]) * u.head,
        (RuleVariable::Flow, RuleObject::Link(k)) => s.flow[k].abs() * u.flow,
        (RuleVariable::Setting, RuleObject::Link(k)) => {
            if s.setting[k] == MISSING {
                return false;
            }
            let v = s.setting[k];
            match pr.ltype[k] {
                LinkType::Prv | LinkType::Psv | LinkType::Pbv => v * u.pressure,
                LinkType::Fcv => v * u.flow,
                _ => v,
            }
        }
        (RuleVariable::FillTime, RuleObject::Node(i)) => {
            if i < pr.njuncs {
                return false;
            }
            let j = pr.node_tank[i];
            let tk = &pr.tanks[j];
            if tk.a == 0.0 || s.node_demand[i] <= TINY {
                return false;
            }
            (tk.vmax - s.tank_v[j]) / s.node_demand[i]
        }
        (RuleVariable::DrainTime, RuleObject::Node(i)) => {
            if i < pr.njuncs {
                return false;
            }
            let j = pr.node_tank[i];
            let tk = &pr.tanks[j];
            if tk.a == 0.0 || s.node_demand[i] >= -TINY {
                return false;
            }
            (tk.vmin - s.tank_v[j]) / s.node_demand[i]
        }
        _ => return false,
    };
    let v = p.value;
    match p.op {
        RelOp::Eq => (x - v).abs() <= tol,
        RelOp::Ne => (x - v).abs() >= tol,
        RelOp::Lt => x <= v + tol,
        RelOp::Le => x <= v - tol,
        RelOp::Gt => x >= v - tol,
        RelOp::Ge => x >= v + tol,
    }
}

fn eval_premises(
    pr: &Prepared,
    s: &State,
    r: &crate::prepared::RuleData,
    time1: i64,
    htime: i64,
    dsystem: f64,
) -> bool {
    let mut result = true;
    for p in &r.premises {
        let check = |p: &crate::prepared::PremiseData| {
            if matches!(p.variable, RuleVariable::Time | RuleVariable::ClockTime) {
                check_time(pr, p, time1, htime)
            } else if p.status.is_some() {
                check_status(s, p)
            } else {
                check_value(pr, s, p, dsystem)
            }
        };
        if p.or {
            if !result {
                result = check(p);
            }
        } else {
            if !result {
                return false;
            }
            result = check(p);
        }
    }
    result
}

/// Evaluates all rules at time `htime` (interval of length `dt` just
/// elapsed); takes the actions of the highest-priority rules. Returns the
/// number of actions that changed something.
pub fn check_rules(pr: &Prepared, s: &mut State, htime: i64, dt: i64, dsystem: f64) -> usize {
    let time1 = htime - dt + 1;
    // (rule index, action) — EPANET prepends to its list, so it acts in reverse order.
    let mut list: Vec<(usize, &ActionData)> = Vec::new();
    for (i, r) in pr.rules.iter().enumerate() {
        let actions = if eval_premises(pr, s, r, time1, htime, dsystem) {
            &r.then_actions
        } else {
            &r.else_actions
        };
        for a in actions {
            if let Some(item) = list.iter_mut().find(|(_, b)| b.link == a.link) {
                if r.priority > pr.rules[item.0].priority {
                    *item = (i, a);
                }
            } else {
                list.push((i, a));
            }
        }
    }
    let mut n = 0;
    for &(_, a) in list.iter().rev() {
        let k = a.link;
        let st = s.status[k];
        let v = s.setting[k];
        let mut flag = false;
        if a.status == Some(stat::OPEN) && st <= stat::CLOSED {
            set_link_status(pr, s, k, true);
            flag = true;
        } else if a.status == Some(stat::CLOSED) && st > stat::CLOSED {
            set_link_status(pr, s, k, false);
            flag = true;
        } else if a.setting != MISSING {
            let x = crate::prepared::setting_internal(&pr.ucf, pr.ltype[k], a.setting);
            if (x - v).abs() > 1.0e-3 {
                set_link_setting(pr, s, k, x);
                flag = true;
            }
        }
        if flag {
            n += 1;
        }
    }
    n
}
