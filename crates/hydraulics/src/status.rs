//! Status logic of check valves, pumps, control valves, links to full or
//! empty tanks, and pressure-switch controls — EPANET's rules, applied in
//! EPANET's order during the gradient iterations.

use crate::prepared::{stat, ControlType, LinkType, Prepared, PumpType, BIG, MISSING, TINY};
use crate::solver::State;

/// Updates PRV and PSV status; true if any changed.
pub fn valve_status(pr: &Prepared, s: &mut State) -> bool {
    let mut change = false;
    let (htol, qtol) = (pr.opts.htol, pr.opts.qtol);
    for &k in &pr.valves {
        if s.setting[k] == MISSING {
            continue;
        }
        let (n1, n2) = (pr.n1[k], pr.n2[k]);
        let st = s.status[k];
        let (h1, h2) = (s.head[n1], s.head[n2]);
        let q = s.flow[k];
        let hml = pr.km[k] * q * q;
        let new = match pr.ltype[k] {
            LinkType::Prv => {
                let hset = pr.el[n2] + s.setting[k];
                match st {
                    stat::ACTIVE => {
                        if q < -qtol {
                            stat::CLOSED
                        } else if h1 - hml < hset - htol {
                            stat::OPEN
                        } else {
                            stat::ACTIVE
                        }
                    }
                    stat::OPEN => {
                        if q < -qtol {
                            stat::CLOSED
                        } else if h2 >= hset + htol {
                            stat::ACTIVE
                        } else {
                            stat::OPEN
                        }
                    }
                    stat::CLOSED => {
                        if h1 >= hset + htol && h2 < hset - htol {
                            stat::ACTIVE
                        } else if h1 < hset - htol && h1 > h2 + htol {
                            stat::OPEN
                        } else {
                            stat::CLOSED
                        }
                    }
                    stat::XPRESSURE => {
                        if q < -qtol {
                            stat::CLOSED
                        } else {
                            st
                        }
                    }
                    _ => st,
                }
            }
            LinkType::Psv => {
                let hset = pr.el[n1] + s.setting[k];
                match st {
                    stat::ACTIVE => {
                        if q < -qtol {
                            stat::CLOSED
                        } else if h2 + hml > hset + htol {
                            stat::OPEN
                        } else {
                            stat::ACTIVE
                        }
                    }
                    stat::OPEN => {
                        if q < -qtol {
                            stat::CLOSED
                        } else if h1 < hset - htol {
                            stat::ACTIVE
                        } else {
                            stat::OPEN
                        }
                    }
                    stat::CLOSED => {
                        if h2 > hset + htol && h1 > h2 + htol {
                            stat::OPEN
                        } else if h1 >= hset + htol && h1 > h2 + htol {
                            stat::ACTIVE
                        } else {
                            stat::CLOSED
                        }
                    }
                    stat::XPRESSURE => {
                        if q < -qtol {
                            stat::CLOSED
                        } else {
                            st
                        }
                    }
                    _ => st,
                }
            }
            _ => continue,
        };
        s.status[k] = new;
        if new != st {
            change = true;
        }
    }
    change
}

fn cv_status(pr: &Prepared, st: u8, dh: f64, q: f64) -> u8 {
    let (htol, qtol) = (pr.opts.htol, pr.opts.qtol);
    if dh.abs() > htol {
        if dh < -htol || q < -qtol {
            stat::CLOSED
        } else {
            stat::OPEN
        }
    } else if q < -qtol {
        stat::CLOSED
    } else {
        st
    }
}

fn pump_status(pr: &Prepared, s: &State, k: usize, dh: f64) -> u8 {
    let p = &pr.pumps[pr.link_pump[k]];
    let hmax = if p.ptype == PumpType::ConstHp {
        // EPANET 2.3: a constant-power pump without forward flow is shut
        // (TEMPCLOSED, reported CLOSED); it is reopened at the next check.
        if s.flow[k] < TINY {
            return stat::TEMPCLOSED;
        }
        BIG
    } else {
        s.setting[k] * s.setting[k] * p.hmax
    };
    if dh > hmax + pr.opts.htol {
        stat::XHEAD
    } else {
        stat::OPEN
    }
}

fn fcv_status(pr: &Prepared, s: &State, k: usize, st: u8, h1: f64, h2: f64) -> u8 {
    if h1 - h2 < -pr.opts.htol || s.flow[k] < -pr.opts.qtol {
        stat::XFCV
    } else if st == stat::XFCV && s.flow[k] >= s.setting[k] {
        stat::ACTIVE
    } else if st == stat::ACTIVE && (h1 - h2) / (s.flow[k] * s.flow[k]) < pr.km[k] {
        // EPANET 2.3: an active valve's loss coefficient cannot fall below
        // its fully open one.
        stat::XFCV
    } else {
        st
    }
}

/// Closes link `k` when it fills full tank node `n` or drains it empty
/// (`q` = the link's flow out of the tank), as EPANET 2.3's `tankstatus`.
fn tank_link_status(pr: &Prepared, s: &mut State, k: usize, n: usize, q: f64) {
    if s.status[k] <= stat::CLOSED {
        return;
    }
    let tk = &pr.tanks[pr.node_tank[n]];
    if tk.a == 0.0 {
        return;
    }
    let fills_full = s.head[n] >= tk.hmax && !tk.can_overflow && q < 0.0;
    let drains_empty = s.head[n] <= tk.hmin && q > 0.0;
    if fills_full || drains_empty {
        s.status[k] = stat::TEMPCLOSED;
    }
}

/// Status of pumps, check valves, FCVs and links to tanks; true if any changed.
pub fn link_status(pr: &Prepared, s: &mut State) -> bool {
    let mut change = false;
    let nj = pr.njuncs;
    // Other links keep their status here: a pipe or valve between two
    // junctions is never XHEAD (pumps only) nor TEMPCLOSED (links to tanks).
    debug_assert!((0..pr.nlinks).all(|k| {
        pr.status_links.binary_search(&(k as u32)).is_ok()
            || !matches!(s.status[k], stat::XHEAD | stat::TEMPCLOSED)
    }));
    for &k in &pr.status_links {
        let k = k as usize;
        let (n1, n2) = (pr.n1[k], pr.n2[k]);
        let dh = s.head[n1] - s.head[n2];
        let st = s.status[k];
        if st == stat::XHEAD || st == stat::TEMPCLOSED {
            s.status[k] = stat::OPEN;
        }
        match pr.ltype[k] {
            LinkType::CvPipe => s.status[k] = cv_status(pr, s.status[k], dh, s.flow[k]),
            LinkType::Pump if s.status[k] >= stat::OPEN && s.setting[k] > 0.0 => {
                s.status[k] = pump_status(pr, s, k, -dh);
            }
            LinkType::Fcv if s.setting[k] != MISSING => {
                s.status[k] = fcv_status(pr, s, k, st, s.head[n1], s.head[n2]);
            }
            _ => {}
        }
        if n1 >= nj {
            tank_link_status(pr, s, k, n1, s.flow[k]);
        }
        if n2 >= nj {
            tank_link_status(pr, s, k, n2, -s.flow[k]);
        }
        if st != s.status[k] {
            change = true;
        }
    }
    change
}

/// Applies controls triggered by junction pressures; true if any acted.
pub fn pressure_switch(pr: &Prepared, s: &mut State) -> bool {
    let mut any = false;
    let htol = pr.opts.htol;
    for c in &pr.controls {
        let Some(n) = c.node else { continue };
        if n >= pr.njuncs {
            continue;
        }
        let reset = match c.ctype {
            ControlType::LowLevel => s.head[n] <= c.grade + htol,
            ControlType::HiLevel => s.head[n] >= c.grade - htol,
            _ => false,
        };
        if !reset {
            continue;
        }
        let k = c.link;
        let st = s.status[k];
        let lt = pr.ltype[k];
        let change = (lt == LinkType::Pipe && st != c.status)
            || (lt == LinkType::Pump && s.setting[k] != c.setting)
            || (lt >= LinkType::Prv
                && (s.setting[k] != c.setting || (s.setting[k] == MISSING && st != c.status)));
        if change {
            s.status[k] = c.status;
            if lt > LinkType::Pipe {
                s.setting[k] = c.setting;
            }
            any = true;
        }
    }
    any
}

/// When node `n` makes the matrix singular and belongs to an active
/// PRV/PSV/FCV, that valve is fixed (XPRESSURE/XFCV); true if so.
pub fn bad_valve(pr: &Prepared, s: &mut State, n: usize) -> bool {
    for &k in &pr.valves {
        if n == pr.n1[k] || n == pr.n2[k] {
            let t = pr.ltype[k];
            if matches!(t, LinkType::Prv | LinkType::Psv | LinkType::Fcv)
                && s.status[k] == stat::ACTIVE
            {
                s.status[k] = if t == LinkType::Fcv {
                    stat::XFCV
                } else {
                    stat::XPRESSURE
                };
                return true;
            }
            return false;
        }
    }
    false
}
