//! Links in internal units as struct-of-arrays, with pump curve fits and
//! the valve list.

use super::{stat, LinkType, PrepareError, PumpData, PumpType, BIG, MISSING, TINY};
use crate::units::Ucf;
use network::{
    HeadlossFormula, Link, LinkKind, LinkStatus, Network, Pipe, Pump, Quantity, Valve, ValveType,
};

/// The link arrays of a [`super::Prepared`] (see its fields).
pub(super) struct Links {
    pub n1: Vec<usize>,
    pub n2: Vec<usize>,
    pub ltype: Vec<LinkType>,
    pub diam: Vec<f64>,
    pub len: Vec<f64>,
    pub km: Vec<f64>,
    pub kc: Vec<f64>,
    pub init_status: Vec<u8>,
    pub init_setting: Vec<f64>,
    pub pumps: Vec<PumpData>,
    pub link_pump: Vec<usize>,
    pub valves: Vec<usize>,
    pub valve_curve: Vec<Option<usize>>,
}

impl Links {
    /// Every link of `net` in internal units, in link order; fails on the
    /// first pump (in link order) without a usable curve.
    pub fn build(
        net: &Network,
        ucf: &Ucf,
        curves: &[Vec<(f64, f64)>],
    ) -> Result<Links, PrepareError> {
        let nlinks = net.links.len();
        let mut s = Links {
            n1: Vec::with_capacity(nlinks),
            n2: Vec::with_capacity(nlinks),
            ltype: Vec::with_capacity(nlinks),
            diam: Vec::with_capacity(nlinks),
            len: Vec::with_capacity(nlinks),
            km: Vec::with_capacity(nlinks),
            kc: Vec::with_capacity(nlinks),
            init_status: Vec::with_capacity(nlinks),
            init_setting: Vec::with_capacity(nlinks),
            pumps: Vec::new(),
            link_pump: vec![usize::MAX; nlinks],
            valves: Vec::new(),
            valve_curve: vec![None; nlinks],
        };
        for (k, l) in net.links.iter().enumerate() {
            s.n1.push(l.from);
            s.n2.push(l.to);
            let st = status_code(l.initial_status);
            match &l.kind {
                LinkKind::Pipe(p) => s.push_pipe(p, st, net.options.headloss, ucf),
                LinkKind::Pump(p) => {
                    s.push_link(LinkType::Pump, 0.0, 0.0, 0.0, p.speed, st);
                    s.link_pump[k] = s.pumps.len();
                    s.pumps.push(pump_data(k, l, p, ucf, curves)?);
                }
                LinkKind::Valve(v) => {
                    s.push_valve(l, v, st, ucf);
                    s.valves.push(k);
                    s.valve_curve[k] = v.curve;
                }
            }
        }
        Ok(s)
    }

    /// Appends one link's type, diameter, length, minor loss coefficient,
    /// and its `kc` (roughness, speed or setting), which is also its
    /// initial setting.
    fn push_link(&mut self, lt: LinkType, d: f64, len: f64, km: f64, kc: f64, st: u8) {
        self.ltype.push(lt);
        self.diam.push(d);
        self.len.push(len);
        self.km.push(km);
        self.kc.push(kc);
        self.init_status.push(st);
        self.init_setting.push(kc);
    }

    fn push_pipe(&mut self, p: &Pipe, st: u8, formula: HeadlossFormula, ucf: &Ucf) {
        let lt = if p.check_valve {
            LinkType::CvPipe
        } else {
            LinkType::Pipe
        };
        let d = ucf.internal(Quantity::Diameter, p.diameter);
        let len = ucf.internal(Quantity::Length, p.length);
        let km = 0.02517 * p.minor_loss / (d * d) / (d * d);
        let rough = if formula == HeadlossFormula::DarcyWeisbach {
            ucf.internal(Quantity::DwRoughness, p.roughness)
        } else {
            p.roughness
        };
        self.push_link(lt, d, len, km, rough, st);
    }

    fn push_valve(&mut self, l: &Link, v: &Valve, st: u8, ucf: &Ucf) {
        let t = valve_type(v.kind);
        let d = ucf.internal(Quantity::Diameter, v.diameter);
        let km = 0.02517 * v.minor_loss / (d * d) / (d * d);
        let setting = ucf.internal(v.kind.setting_quantity(), v.setting);
        // A valve fixed OPEN or CLOSED has no setting.
        let s = if l.initial_status == LinkStatus::Active || t == LinkType::Gpv {
            setting
        } else {
            MISSING
        };
        self.push_link(t, d, 0.0, km, s, st);
    }
}

fn valve_type(v: ValveType) -> LinkType {
    match v {
        ValveType::Prv => LinkType::Prv,
        ValveType::Psv => LinkType::Psv,
        ValveType::Pbv => LinkType::Pbv,
        ValveType::Fcv => LinkType::Fcv,
        ValveType::Tcv => LinkType::Tcv,
        ValveType::Gpv => LinkType::Gpv,
        ValveType::Pcv => LinkType::Pcv,
    }
}

/// The internal status code of a file status.
pub(super) fn status_code(s: LinkStatus) -> u8 {
    match s {
        LinkStatus::Open => stat::OPEN,
        LinkStatus::Closed => stat::CLOSED,
        LinkStatus::Active => stat::ACTIVE,
    }
}

/// Pump `k`'s curve in internal units (EPANET's `updatepumpparams`): a
/// power function fitted to a 1- or 3-point curve, a custom curve, or
/// constant power.
fn pump_data(
    k: usize,
    l: &Link,
    p: &Pump,
    ucf: &Ucf,
    curves: &[Vec<(f64, f64)>],
) -> Result<PumpData, PrepareError> {
    let mut pd = PumpData {
        link: k,
        ptype: PumpType::NoCurve,
        h0: 0.0,
        r: 0.0,
        n: 0.0,
        q0: 0.0,
        qmax: 0.0,
        hmax: 0.0,
        curve: p.head_curve,
        upat: p.pattern,
    };
    if let Some(c) = p.head_curve {
        let pts = &curves[c];
        let three = pts.len() == 3 && pts[0].0 == 0.0;
        if pts.len() == 1 || three {
            let (h0, q1, h1, q2, h2) = if pts.len() == 1 {
                (1.33334 * pts[0].1, pts[0].0, pts[0].1, 2.0 * pts[0].0, 0.0)
            } else {
                (pts[0].1, pts[1].0, pts[1].1, pts[2].0, pts[2].1)
            };
            let Some((a, b, c)) = powercurve(h0, h1, h2, q1, q2) else {
                return Err(PrepareError::BadPumpCurve(l.id.clone()));
            };
            pd.ptype = PumpType::PowerFunc;
            pd.h0 = -a / ucf.head;
            pd.r = -b * ucf.flow.powf(c) / ucf.head;
            pd.n = c;
            pd.q0 = q1 / ucf.flow;
            pd.qmax = (-a / b).powf(1.0 / c) / ucf.flow;
            pd.hmax = h0 / ucf.head;
        } else {
            if pts.is_empty() || pts.windows(2).any(|w| w[1].1 >= w[0].1) {
                return Err(PrepareError::BadPumpCurve(l.id.clone()));
            }
            pd.ptype = PumpType::Custom;
            let qmax = pts[pts.len() - 1].0;
            pd.qmax = qmax / ucf.flow;
            pd.q0 = (pts[0].0 + qmax) / 2.0 / ucf.flow;
            pd.hmax = pts[0].1 / ucf.head;
        }
    } else if let Some(pw) = p.power {
        let hp = ucf.internal(Quantity::Power, pw);
        pd.ptype = PumpType::ConstHp;
        pd.h0 = 0.0;
        pd.r = -8.814 * hp;
        pd.n = -1.0;
        pd.hmax = BIG;
        pd.qmax = BIG;
        pd.q0 = 1.0;
    } else {
        return Err(PrepareError::NoPumpCurve(l.id.clone()));
    }
    Ok(pd)
}

/// EPANET's `powercurve`: h = a + b·q^c through (0, h0), (q1, h1), (q2, h2).
fn powercurve(h0: f64, h1: f64, h2: f64, q1: f64, q2: f64) -> Option<(f64, f64, f64)> {
    if h0 < TINY || h0 - h1 < TINY || h1 - h2 < TINY || q1 < TINY || q2 - q1 < TINY {
        return None;
    }
    let a = h0;
    let h4 = h0 - h1;
    let h5 = h0 - h2;
    let c = (h5 / h4).ln() / (q2 / q1).ln();
    if c <= 0.0 || c > 20.0 {
        return None;
    }
    let b = -h4 / q1.powf(c);
    if b >= 0.0 {
        return None;
    }
    Some((a, b, c))
}
