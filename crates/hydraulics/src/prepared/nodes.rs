//! Nodes in internal units: elevations, demands, emitters, tanks and
//! reservoirs.

use super::{interp, TankData};
use crate::units::Ucf;
use network::{Network, NodeKind, Quantity, Reservoir, Tank};

/// The node arrays of a [`super::Prepared`] (see its fields).
pub(super) struct Nodes {
    pub el: Vec<f64>,
    pub dem_ptr: Vec<usize>,
    pub dem_base: Vec<f64>,
    pub dem_pat: Vec<Option<usize>>,
    pub ke: Vec<f64>,
    pub tanks: Vec<TankData>,
    pub node_tank: Vec<usize>,
}

impl Nodes {
    /// Every node of `net` in internal units; `qexp` is the emitter flow
    /// exponent (1 / the file's emitter exponent), `curves` the file's curves.
    pub fn build(net: &Network, ucf: &Ucf, curves: &[Vec<(f64, f64)>], qexp: f64) -> Nodes {
        let u = net.units();
        let nnodes = net.nodes.len();
        let default_pat = net.default_pattern();
        let mut n = Nodes {
            el: Vec::with_capacity(nnodes),
            dem_ptr: vec![0usize],
            dem_base: Vec::new(),
            dem_pat: Vec::new(),
            ke: vec![0.0; nnodes],
            tanks: Vec::new(),
            node_tank: vec![usize::MAX; nnodes],
        };
        let emitter_file_factor = u.factor(Quantity::Flow)
            / u.factor(Quantity::Pressure)
                .powf(net.options.emitter_exponent);
        for (i, node) in net.nodes.iter().enumerate() {
            let el_f = ucf.file(Quantity::Length, node.elevation);
            let el_i = el_f / ucf.head;
            n.el.push(el_i);
            match &node.kind {
                NodeKind::Junction(j) => {
                    for d in &j.demands {
                        n.dem_base.push(ucf.internal(Quantity::Flow, d.base));
                        n.dem_pat.push(d.pattern.or(default_pat));
                    }
                    n.dem_ptr.push(n.dem_base.len());
                    if j.emitter_coefficient > 0.0 {
                        let kf = network::units::from_si_with(
                            emitter_file_factor,
                            j.emitter_coefficient,
                        );
                        n.ke[i] = ucf.flow.powf(qexp) / ucf.pressure / kf.powf(qexp);
                    }
                }
                NodeKind::Reservoir(r) => {
                    n.node_tank[i] = n.tanks.len();
                    n.tanks.push(reservoir(i, el_i, r));
                }
                NodeKind::Tank(tk) => {
                    n.node_tank[i] = n.tanks.len();
                    n.tanks.push(tank(i, el_i, tk, ucf, curves));
                }
            }
        }
        n
    }
}

/// A reservoir as a tank of no area at head `el_i` (internal units).
fn reservoir(i: usize, el_i: f64, r: &Reservoir) -> TankData {
    TankData {
        node: i,
        a: 0.0,
        hmin: 0.0,
        hmax: 0.0,
        h0: el_i,
        vmin: 0.0,
        vmax: 0.0,
        v0: 0.0,
        vcurve: None,
        pat: r.head_pattern,
        can_overflow: false,
    }
}

/// A tank's levels and volumes in internal units (EPANET's `inittanks`
/// computations: volumes from the diameter, or from the volume curve).
fn tank(i: usize, el_i: f64, tk: &Tank, ucf: &Ucf, curves: &[Vec<(f64, f64)>]) -> TankData {
    let lf = |x: f64| ucf.file(Quantity::Length, x);
    let (init, minl, maxl) = (lf(tk.initial_level), lf(tk.min_level), lf(tk.max_level));
    let mut diam = lf(tk.diameter);
    let area = std::f64::consts::PI * diam * diam / 4.0;
    let minvol = ucf.file(Quantity::Volume, tk.min_volume);
    let mut vmin = area * minl;
    if minvol > 0.0 {
        vmin = minvol;
    }
    let mut v0 = vmin + area * (init - minl);
    let mut vmax = vmin + area * (maxl - minl);
    if let Some(c) = tk.volume_curve {
        let pts = &curves[c];
        if pts.len() >= 2 {
            vmin = interp(pts, minl);
            vmax = interp(pts, maxl);
            v0 = interp(pts, init);
            let n = pts.len() - 1;
            let a = (pts[n].1 - pts[0].1) / (pts[n].0 - pts[0].0);
            diam = (4.0 * a / std::f64::consts::PI).sqrt();
        }
    }
    let d_ft = diam / ucf.head;
    TankData {
        node: i,
        a: std::f64::consts::PI * d_ft * d_ft / 4.0,
        hmin: el_i + minl / ucf.head,
        hmax: el_i + maxl / ucf.head,
        h0: el_i + init / ucf.head,
        vmin: vmin / ucf.volume,
        vmax: vmax / ucf.volume,
        v0: v0 / ucf.volume,
        vcurve: tk.volume_curve,
        pat: None,
        can_overflow: tk.can_overflow,
    }
}
