//! EPANET 2.3 pipe leakage (`[LEAKAGE]`, the FAVAD model) in internal units.

use crate::units::{Ucf, MPERFT};
use network::{LinkKind, Network, Quantity};

/// EPANET's orifice coefficient 0.6·√(2g) in ft^½/s, times 10⁻⁶ (mm² → m²).
const LEAK_ORIFICE: f64 = 4.8149866e-6;

/// A leaking pipe (EPANET 2.3 `[LEAKAGE]`), internal units: each half of
/// the pipe leaks `c·(a + m·H)·√H` at its end node's pressure head H (ft).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakPipe {
    pub link: usize,
    pub c: f64,
    pub a: f64,
    pub m: f64,
}

/// The leakage fields of a [`super::Prepared`] (see its fields).
pub(super) struct Leakage {
    pub cfa: Vec<f64>,
    pub cva: Vec<f64>,
    pub pipes: Vec<LeakPipe>,
}

impl Leakage {
    /// `len`: each link's length in internal units.
    pub fn build(net: &Network, ucf: &Ucf, njuncs: usize, len: &[f64]) -> Leakage {
        let (cfa, cva) = leakage_coeffs(net, ucf, njuncs, len);
        let pipes = if !cfa.is_empty() {
            leak_pipes(net, ucf, njuncs, len)
        } else {
            Vec::new()
        };
        Leakage { cfa, cva, pipes }
    }
}

/// The leaking pipes with both ends not fixed-grade (see [`LeakPipe`]),
/// with the same unit conversions as [`leakage_coeffs`].
fn leak_pipes(net: &Network, ucf: &Ucf, njuncs: usize, len: &[f64]) -> Vec<LeakPipe> {
    let l = ucf.file.factor(Quantity::Length);
    let (fa, fe) = (1.0e-6 / (100.0 * l), 1.0e-6 / (100.0 * l * l));
    let mut v = Vec::new();
    for (k, link) in net.links.iter().enumerate() {
        let LinkKind::Pipe(p) = &link.kind else {
            continue;
        };
        if link.from >= njuncs && link.to >= njuncs {
            continue;
        }
        if p.leak_area == 0.0 && p.leak_expansion == 0.0 {
            continue;
        }
        let c1 = network::units::from_si_with(fa, p.leak_area);
        let c2 = network::units::from_si_with(fe, p.leak_expansion);
        v.push(LeakPipe {
            link: k,
            c: LEAK_ORIFICE * (len[k] * ucf.head / 100.0) / 2.0,
            a: c1 / (MPERFT * MPERFT),
            m: c2 / MPERFT,
        });
    }
    v
}

/// Per-junction leakage coefficients (EPANET 2.3 FAVAD model), or two empty
/// vectors when no pipe has a leak area or expansion rate.
///
/// A pipe's leak, Q = Co·L·(A₀ + m·H)·√H with L counted in 100-length-unit
/// sections, is split half to each junction end (all of it to the junction
/// when the other end is a tank or reservoir; nothing when both are). Per
/// junction the summed fixed-area coefficient a = ΣCo·L·A₀ and variable-area
/// coefficient b = ΣCo·L·m become cfa = 1/a² and cva = 1/b^(2/3). A₀ (mm²,
/// file value) is converted to ft²; m (mm² per length unit of head, file
/// value) is taken in mm² per ft of head ÷ 0.3048 m/ft whatever the units:
/// what EPANET 2.3.5 computes (measured against owa-epanet: the variable
/// area leak is 1/0.3048 times the published `leakage.c` formula in both
/// US and SI units, the fixed area leak matches it).
fn leakage_coeffs(net: &Network, ucf: &Ucf, njuncs: usize, len: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let any = net.links.iter().any(|l| match &l.kind {
        LinkKind::Pipe(p) => p.leak_area > 0.0 || p.leak_expansion > 0.0,
        _ => false,
    });
    if !any || njuncs == 0 {
        return (Vec::new(), Vec::new());
    }
    // The network keeps SI values; recover the file's C1, C2 exactly.
    let l = ucf.file.factor(Quantity::Length);
    let (fa, fe) = (1.0e-6 / (100.0 * l), 1.0e-6 / (100.0 * l * l));
    let mut ca = vec![0.0; njuncs];
    let mut cv = vec![0.0; njuncs];
    for (k, link) in net.links.iter().enumerate() {
        let LinkKind::Pipe(p) = &link.kind else {
            continue;
        };
        let (j1, j2) = (link.from < njuncs, link.to < njuncs);
        if !j1 && !j2 {
            continue;
        }
        if p.leak_area == 0.0 && p.leak_expansion == 0.0 {
            continue;
        }
        let c1 = network::units::from_si_with(fa, p.leak_area);
        let c2 = network::units::from_si_with(fe, p.leak_expansion);
        let mut c_area = LEAK_ORIFICE * c1 / (MPERFT * MPERFT);
        let mut c_expan = LEAK_ORIFICE * c2 / MPERFT;
        let mut sections = len[k] * ucf.head / 100.0;
        if j1 && j2 {
            sections *= 0.5;
        }
        c_area *= sections;
        c_expan *= sections;
        for (j, n) in [(j1, link.from), (j2, link.to)] {
            if j {
                ca[n] += c_area;
                cv[n] += c_expan;
            }
        }
    }
    for c in &mut ca {
        *c = if *c > 0.0 { 1.0 / (*c * *c) } else { 0.0 };
    }
    for c in &mut cv {
        *c = if *c > 0.0 {
            1.0 / c.powf(2.0 / 3.0)
        } else {
            0.0
        };
    }
    (ca, cv)
}
