//! A network prepared for solving: every value in EPANET's internal units,
//! in flat arrays, plus the fill-reducing ordering and symbolic
//! factorization of its matrix. Built once per topology and shared (`Arc`)
//! by every [`crate::Simulation`] cloned from it.

mod controls;
mod leakage;
mod links;
mod matrix;
mod nodes;
mod options;

use crate::sparse::{PatternError, Slot, Symbolic};
use crate::units::Ucf;
use leakage::Leakage;
use links::Links;
use matrix::{LinkSets, Matrix};
use network::{HeadlossFormula, Network, RelOp, RuleObject, RuleVariable};
use nodes::Nodes;
use std::sync::Arc;

pub use leakage::LeakPipe;

/// EPANET's marker for "no setting" (a valve fixed open or closed).
pub const MISSING: f64 = -1.0e10;
pub const BIG: f64 = 1.0e10;
pub const TINY: f64 = 1.0e-6;
pub const QZERO: f64 = 1.0e-6;
pub const CBIG: f64 = 1.0e8;
pub const CSMALL: f64 = 1.0e-6;
/// Kinematic viscosity of water at 20 °C, ft²/s.
pub const VISCOS: f64 = 1.1e-5;

/// Link status codes, ordered as EPANET orders them (`<= CLOSED` means closed).
pub mod stat {
    pub const XHEAD: u8 = 0;
    pub const TEMPCLOSED: u8 = 1;
    pub const CLOSED: u8 = 2;
    pub const OPEN: u8 = 3;
    pub const ACTIVE: u8 = 4;
    pub const XFLOW: u8 = 5;
    pub const XFCV: u8 = 6;
    pub const XPRESSURE: u8 = 7;
}

/// Link types, ordered as EPANET orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkType {
    CvPipe,
    Pipe,
    Pump,
    Prv,
    Psv,
    Pbv,
    Fcv,
    Tcv,
    Gpv,
    Pcv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpType {
    ConstHp,
    PowerFunc,
    Custom,
    NoCurve,
}

#[derive(Debug, Clone)]
pub struct PumpData {
    pub link: usize,
    pub ptype: PumpType,
    pub h0: f64,
    pub r: f64,
    pub n: f64,
    pub q0: f64,
    pub qmax: f64,
    pub hmax: f64,
    pub curve: Option<usize>,
    pub upat: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct TankData {
    pub node: usize,
    /// Cross-section area, ft²; 0 for a reservoir.
    pub a: f64,
    pub hmin: f64,
    pub hmax: f64,
    pub h0: f64,
    pub vmin: f64,
    pub vmax: f64,
    pub v0: f64,
    pub vcurve: Option<usize>,
    /// Head pattern (reservoirs).
    pub pat: Option<usize>,
    pub can_overflow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    LowLevel,
    HiLevel,
    Timer,
    TimeOfDay,
}

#[derive(Debug, Clone)]
pub struct ControlData {
    pub link: usize,
    pub node: Option<usize>,
    pub ctype: ControlType,
    pub status: u8,
    pub setting: f64,
    pub time: i64,
    pub grade: f64,
}

#[derive(Debug, Clone)]
pub struct PremiseData {
    pub or: bool,
    pub object: RuleObject,
    pub variable: RuleVariable,
    pub op: RelOp,
    /// File-unit value (EPANET compares rules in the file's units); seconds for times.
    pub value: f64,
    pub status: Option<u8>,
}

#[derive(Debug, Clone)]
pub struct ActionData {
    pub link: usize,
    /// OPEN / CLOSED / ACTIVE, or none for a setting.
    pub status: Option<u8>,
    /// File-unit setting or MISSING.
    pub setting: f64,
}

#[derive(Debug, Clone)]
pub struct RuleData {
    pub premises: Vec<PremiseData>,
    pub then_actions: Vec<ActionData>,
    pub else_actions: Vec<ActionData>,
    pub priority: f64,
}

#[derive(Debug, Clone)]
pub struct Opts {
    pub formula: HeadlossFormula,
    pub hexp: f64,
    pub viscos: f64,
    pub hacc: f64,
    pub htol: f64,
    pub qtol: f64,
    pub rqtol: f64,
    pub max_iter: i64,
    pub extra_iter: i64,
    pub check_freq: i64,
    pub max_check: i64,
    pub damp_limit: f64,
    pub head_error_limit: f64,
    pub flow_change_limit: f64,
    pub dmult: f64,
    pub qexp: f64,
    pub pda: bool,
    pub pmin: f64,
    pub preq: f64,
    pub pexp: f64,
    pub emit_backflow: bool,
}

#[derive(Debug, Clone)]
pub struct TimeData {
    pub dur: i64,
    pub hstep: i64,
    pub pstep: i64,
    pub pstart: i64,
    pub rstep: i64,
    pub rstart: i64,
    pub tstart: i64,
    pub rulestep: i64,
}

/// Why a network cannot be prepared for simulation.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("the network has no reservoir or tank (EPANET error 224)")]
    NoFixedHead,
    #[error("the network has fewer than two nodes (EPANET error 223)")]
    TooFewNodes,
    #[error("pump \"{0}\" has an invalid head curve (EPANET error 227)")]
    BadPumpCurve(String),
    #[error("pump \"{0}\" has no head curve or power (EPANET error 226)")]
    NoPumpCurve(String),
    #[error("matrix pattern: {0}")]
    Pattern(String),
}

impl From<PatternError> for PrepareError {
    fn from(e: PatternError) -> Self {
        PrepareError::Pattern(format!("{e:?}"))
    }
}

/// Everything the solver needs, in internal units, shared by simulations.
#[derive(Debug)]
pub struct Prepared {
    pub net: Arc<Network>,
    pub ucf: Ucf,
    pub njuncs: usize,
    pub nnodes: usize,
    pub nlinks: usize,
    pub el: Vec<f64>,
    pub dem_ptr: Vec<usize>,
    pub dem_base: Vec<f64>,
    pub dem_pat: Vec<Option<usize>>,
    /// `dem_pat` as an index into a per-step table of pattern factors, the
    /// pattern count standing for "no pattern" (factor 1).
    pub dem_pat_idx: Vec<u32>,
    pub ke: Vec<f64>,
    /// EPANET 2.3 pipe leakage as two emitter-like terms per junction
    /// (`leakage.c`): fixed-area H = cfa·Q² and variable-area
    /// H = cva·Q^(2/3). Both empty when no pipe leaks (`has_leakage` false).
    pub leak_cfa: Vec<f64>,
    pub leak_cva: Vec<f64>,
    pub has_leakage: bool,
    /// The leaking pipes, by link index, for their own leakage flow.
    pub leak_pipes: Vec<LeakPipe>,
    pub tanks: Vec<TankData>,
    /// Tank index of each node (`usize::MAX` for junctions).
    pub node_tank: Vec<usize>,
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
    /// Link indices of valves, in EPANET's valve order.
    pub valves: Vec<usize>,
    pub valve_curve: Vec<Option<usize>>,
    pub curves: Vec<Vec<(f64, f64)>>,
    pub patterns: Vec<Vec<f64>>,
    pub controls: Vec<ControlData>,
    pub rules: Vec<RuleData>,
    pub opts: Opts,
    pub times: TimeData,
    pub symbolic: Arc<Symbolic>,
    /// Link indices of pipes (check-valve pipes included), and of all other links.
    pub pipes: Vec<usize>,
    pub others: Vec<usize>,
    /// Per pipe (same order as `pipes`): relative roughness / 3.7 and
    /// viscosity × diameter, for the Darcy-Weisbach friction factor.
    pub dw_e37: Vec<f64>,
    pub dw_s: Vec<f64>,

    /// Links incident to each junction, in link order (CSR over `inc`).
    /// Assembly gathers per junction instead of scattering per link.
    pub inc_ptr: Vec<u32>,
    pub inc: Vec<Incidence>,
    /// Links between two junctions and their off-diagonal slots.
    pub jj_links: Vec<(u32, Slot)>,
    /// Per link: [`link_flag`] bits for the flow update.
    pub link_flags: Vec<u8>,
    /// Links with a tank or reservoir at an end, in link order.
    pub fixed_links: Vec<u32>,
    /// Links whose status `link_status` can change, in link order: check
    /// valves, pumps, FCVs and links to a tank or reservoir. (Only these can
    /// hold the temporary XHEAD / TEMPCLOSED states that it resets.)
    pub status_links: Vec<u32>,
    /// Off-diagonal slot of each link between two junctions, else `NONE`.
    pub link_slot: Vec<Slot>,
    pub diag_slot: Vec<Slot>,
}

/// One link seen from one of its junctions (8 bytes, for the assembly loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incidence {
    /// Link index; bit 31 set when the junction is the link's end node
    /// (the link's flow leaves through the other end: sign −1).
    pub link_neg: u32,
    /// The node at the other end; [`Incidence::FIXED`] set when it is a
    /// tank or reservoir (index in the low bits).
    pub other: u32,
}

impl Incidence {
    pub const NEG: u32 = 1 << 31;
    pub const FIXED: u32 = 1 << 31;
}

/// Bits of [`Prepared::link_flags`].
pub mod link_flag {
    /// A constant-power pump (its flow change is limited).
    pub const CONST_HP: u8 = 1;
}

/// EPANET's `interp`: linear, clamped at the ends.
pub fn interp(pts: &[(f64, f64)], xx: f64) -> f64 {
    let n = pts.len();
    if n == 0 {
        return 0.0;
    }
    if xx <= pts[0].0 {
        return pts[0].1;
    }
    for k in 1..n {
        if pts[k].0 >= xx {
            let dx = pts[k].0 - pts[k - 1].0;
            let dy = pts[k].1 - pts[k - 1].1;
            if dx.abs() < TINY {
                return pts[k].1;
            }
            return pts[k].1 - (pts[k].0 - xx) * dy / dx;
        }
    }
    pts[n - 1].1
}

/// Interpolation with X and Y swapped (volume → level).
pub fn interp_inverse(pts: &[(f64, f64)], yy: f64) -> f64 {
    let n = pts.len();
    if n == 0 {
        return 0.0;
    }
    if yy <= pts[0].1 {
        return pts[0].0;
    }
    for k in 1..n {
        if pts[k].1 >= yy {
            let dx = pts[k].1 - pts[k - 1].1;
            let dy = pts[k].0 - pts[k - 1].0;
            if dx.abs() < TINY {
                return pts[k].0;
            }
            return pts[k].0 - (pts[k].1 - yy) * dy / dx;
        }
    }
    pts[n - 1].0
}

impl Prepared {
    pub fn new(net: Arc<Network>) -> Result<Prepared, PrepareError> {
        let ucf = Ucf::new(net.units());
        let nnodes = net.nodes.len();
        let nlinks = net.links.len();
        let njuncs = net.nodes.iter().take_while(|n| n.is_junction()).count();
        if nnodes < 2 {
            return Err(PrepareError::TooFewNodes);
        }
        if njuncs == nnodes {
            return Err(PrepareError::NoFixedHead);
        }
        let opts = options::opts(&net, &ucf);
        let times = options::times(&net);
        let patterns = options::patterns(&net);
        let curves = options::curves(&net);
        let nodes = Nodes::build(&net, &ucf, &curves, opts.qexp);
        let links = Links::build(&net, &ucf, &curves)?;
        let controls = controls::controls(&net, &ucf, njuncs, &nodes.el, &links.ltype);
        let rules = controls::rules(&net, &ucf, &links.ltype);
        let matrix = Matrix::build(njuncs, nnodes, &links.n1, &links.n2)?;
        let (inc_ptr, inc) = matrix::incidence(njuncs, &links.n1, &links.n2);
        let sets = LinkSets::build(&links, njuncs, opts.viscos);
        let leakage = Leakage::build(&net, &ucf, njuncs, &links.len);
        let dem_pat_idx = (nodes.dem_pat.iter())
            .map(|p| p.unwrap_or(patterns.len()) as u32)
            .collect();
        Ok(Prepared {
            net: net.clone(),
            ucf,
            njuncs,
            nnodes,
            nlinks,
            el: nodes.el,
            dem_ptr: nodes.dem_ptr,
            dem_base: nodes.dem_base,
            dem_pat_idx,
            dem_pat: nodes.dem_pat,
            ke: nodes.ke,
            has_leakage: !leakage.cfa.is_empty(),
            leak_cfa: leakage.cfa,
            leak_cva: leakage.cva,
            leak_pipes: leakage.pipes,
            tanks: nodes.tanks,
            node_tank: nodes.node_tank,
            n1: links.n1,
            n2: links.n2,
            ltype: links.ltype,
            diam: links.diam,
            len: links.len,
            km: links.km,
            kc: links.kc,
            init_status: links.init_status,
            init_setting: links.init_setting,
            pumps: links.pumps,
            link_pump: links.link_pump,
            valves: links.valves,
            valve_curve: links.valve_curve,
            curves,
            patterns,
            controls,
            rules,
            opts,
            times,
            symbolic: Arc::new(matrix.symbolic),
            inc_ptr,
            inc,
            jj_links: matrix.jj_links,
            link_flags: sets.link_flags,
            fixed_links: sets.fixed_links,
            status_links: sets.status_links,
            pipes: sets.pipes,
            others: sets.others,
            dw_e37: sets.dw_e37,
            dw_s: sets.dw_s,
            link_slot: matrix.link_slot,
            diag_slot: matrix.diag_slot,
        })
    }

    /// Flow resistance coefficient of a link (EPANET's `resistcoeff`).
    pub fn resistance(&self, k: usize) -> f64 {
        self.resistance_with(
            k,
            &mut PowMemo::new(self.opts.hexp),
            &mut PowMemo::new(4.871),
        )
    }

    /// [`resistance`](Self::resistance) with memoised powers of the
    /// roughness (`e^hexp`) and diameter (`d^4.871`, `(d/4)^−1.333`): pipes
    /// share a few standard values, and the same `powf` of the same input
    /// gives the same bits.
    fn resistance_with(&self, k: usize, pe: &mut PowMemo, pd: &mut PowMemo) -> f64 {
        match self.ltype[k] {
            LinkType::Pipe | LinkType::CvPipe => {
                let (e, d, l) = (self.kc[k], self.diam[k], self.len[k]);
                match self.opts.formula {
                    HeadlossFormula::HazenWilliams => 4.727 * l / pe.pow(e) / pd.pow(d),
                    HeadlossFormula::DarcyWeisbach => {
                        let a = std::f64::consts::PI * d * d / 4.0;
                        l / 2.0 / 32.2 / d / (a * a)
                    }
                    HeadlossFormula::ChezyManning => {
                        let x = 4.0 * e / (1.49 * std::f64::consts::PI * d * d);
                        x * x * pd.pow(d / 4.0) * l
                    }
                }
            }
            LinkType::Pump => CBIG,
            _ => CSMALL,
        }
    }

    /// The resistance of every link.
    pub fn resistances(&self) -> Vec<f64> {
        let mut pe = PowMemo::new(self.opts.hexp);
        let dexp = if self.opts.formula == HeadlossFormula::ChezyManning {
            -1.333
        } else {
            4.871
        };
        let mut pd = PowMemo::new(dexp);
        (0..self.nlinks)
            .map(|k| self.resistance_with(k, &mut pe, &mut pd))
            .collect()
    }
}

/// `x.powf(exp)` through a small direct-mapped cache keyed by the bits of `x`.
struct PowMemo {
    exp: f64,
    keys: [u64; 64],
    vals: [f64; 64],
    valid: u64,
}

impl PowMemo {
    fn new(exp: f64) -> Self {
        PowMemo {
            exp,
            keys: [0; 64],
            vals: [0.0; 64],
            valid: 0,
        }
    }

    #[inline]
    fn pow(&mut self, x: f64) -> f64 {
        let b = x.to_bits();
        let h = (b ^ (b >> 29) ^ (b >> 43)) as usize & 63;
        if self.valid & (1 << h) != 0 && self.keys[h] == b {
            return self.vals[h];
        }
        let v = x.powf(self.exp);
        self.keys[h] = b;
        self.vals[h] = v;
        self.valid |= 1 << h;
        v
    }
}

/// Internal value of a file-unit valve setting.
pub fn setting_internal(ucf: &Ucf, lt: LinkType, xf: f64) -> f64 {
    match lt {
        LinkType::Prv | LinkType::Psv | LinkType::Pbv => xf / ucf.pressure,
        LinkType::Fcv => xf / ucf.flow,
        _ => xf,
    }
}
