//! The solver's matrix pattern (fill-reducing ordering and symbolic
//! factorization), the junctions' incidence lists and the link subsets the
//! solver loops over.

use super::links::Links;
use super::{link_flag, Incidence, LinkType, PrepareError, PumpType};
use crate::sparse::{Slot, Symbolic, NONE};

/// The matrix fields of a [`super::Prepared`] (see its fields).
pub(super) struct Matrix {
    pub symbolic: Symbolic,
    pub link_slot: Vec<Slot>,
    pub diag_slot: Vec<Slot>,
    pub jj_links: Vec<(u32, Slot)>,
}

impl Matrix {
    /// The pattern of couplings between junctions: each link between two
    /// junctions couples them.
    pub fn build(
        njuncs: usize,
        nnodes: usize,
        n1: &[usize],
        n2: &[usize],
    ) -> Result<Matrix, PrepareError> {
        let nlinks = n1.len();
        let mut couplings = Vec::new();
        let mut coupled_links = Vec::new();
        for k in 0..nlinks {
            if n1[k] < njuncs && n2[k] < njuncs {
                couplings.push((n1[k], n2[k]));
                coupled_links.push(k);
            }
        }
        let symbolic = Symbolic::new(njuncs, &couplings)?;
        let slots = symbolic.offdiag_slots(&couplings)?;
        let mut link_slot = vec![NONE; nlinks];
        for (i, &k) in coupled_links.iter().enumerate() {
            link_slot[k] = slots[i];
        }
        let diag_slot = (0..njuncs).map(|i| symbolic.diag_slot(i)).collect();
        if nnodes >= (1 << 31) || nlinks >= (1 << 31) {
            return Err(PrepareError::Pattern("too many nodes or links".into()));
        }
        let jj_links: Vec<(u32, Slot)> = (0..nlinks)
            .filter(|&k| link_slot[k] != NONE)
            .map(|k| (k as u32, link_slot[k]))
            .collect();
        Ok(Matrix {
            symbolic,
            link_slot,
            diag_slot,
            jj_links,
        })
    }
}

/// Incidence lists by counting sort: each junction's links in link order,
/// as (`inc_ptr`, `inc`) in CSR form.
pub(super) fn incidence(njuncs: usize, n1: &[usize], n2: &[usize]) -> (Vec<u32>, Vec<Incidence>) {
    let nlinks = n1.len();
    let mut inc_ptr = vec![0u32; njuncs + 1];
    for k in 0..nlinks {
        if n1[k] < njuncs {
            inc_ptr[n1[k] + 1] += 1;
        }
        if n2[k] < njuncs {
            inc_ptr[n2[k] + 1] += 1;
        }
    }
    for i in 0..njuncs {
        inc_ptr[i + 1] += inc_ptr[i];
    }
    let mut fill: Vec<u32> = inc_ptr[..njuncs].to_vec();
    let mut inc = vec![
        Incidence {
            link_neg: 0,
            other: 0
        };
        inc_ptr[njuncs] as usize
    ];
    let tag = |o: usize| o as u32 | if o >= njuncs { Incidence::FIXED } else { 0 };
    for k in 0..nlinks {
        let (a, b) = (n1[k], n2[k]);
        if a < njuncs {
            inc[fill[a] as usize] = Incidence {
                link_neg: k as u32,
                other: tag(b),
            };
            fill[a] += 1;
        }
        if b < njuncs {
            inc[fill[b] as usize] = Incidence {
                link_neg: k as u32 | Incidence::NEG,
                other: tag(a),
            };
            fill[b] += 1;
        }
    }
    (inc_ptr, inc)
}

/// The link subsets and per-link flags of a [`super::Prepared`] (see its
/// fields).
pub(super) struct LinkSets {
    pub link_flags: Vec<u8>,
    pub fixed_links: Vec<u32>,
    pub status_links: Vec<u32>,
    pub pipes: Vec<usize>,
    pub others: Vec<usize>,
    pub dw_e37: Vec<f64>,
    pub dw_s: Vec<f64>,
}

impl LinkSets {
    /// `viscos`: the kinematic viscosity (ft²/s).
    pub fn build(l: &Links, njuncs: usize, viscos: f64) -> LinkSets {
        let nlinks = l.n1.len();
        let (n1, n2, ltype) = (&l.n1, &l.n2, &l.ltype);
        let link_flags: Vec<u8> = (0..nlinks)
            .map(|k| {
                let mut f = 0;
                if ltype[k] == LinkType::Pump && l.pumps[l.link_pump[k]].ptype == PumpType::ConstHp
                {
                    f |= link_flag::CONST_HP;
                }
                f
            })
            .collect();
        let fixed_links: Vec<u32> = (0..nlinks)
            .filter(|&k| n1[k] >= njuncs || n2[k] >= njuncs)
            .map(|k| k as u32)
            .collect();
        let status_links: Vec<u32> = (0..nlinks)
            .filter(|&k| {
                matches!(ltype[k], LinkType::CvPipe | LinkType::Pump | LinkType::Fcv)
                    || n1[k] >= njuncs
                    || n2[k] >= njuncs
            })
            .map(|k| k as u32)
            .collect();
        let pipes: Vec<usize> = (0..nlinks)
            .filter(|&k| ltype[k] <= LinkType::Pipe)
            .collect();
        let others: Vec<usize> = (0..nlinks).filter(|&k| ltype[k] > LinkType::Pipe).collect();
        let dw_e37 = pipes.iter().map(|&k| l.kc[k] / l.diam[k] / 3.7).collect();
        let dw_s = pipes.iter().map(|&k| viscos * l.diam[k]).collect();
        LinkSets {
            link_flags,
            fixed_links,
            status_links,
            pipes,
            others,
            dw_e37,
            dw_s,
        }
    }
}
