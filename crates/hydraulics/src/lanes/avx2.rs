//! The lane kernels in explicit AVX2 intrinsics: each `[f64; 8]` of the
//! workspace is two 256-bit registers (two independent dependency chains
//! per operation, which hides the latency of the divisions and sums along a
//! network's long elimination chains). Multiplications and additions stay
//! separate (no FMA), so every lane gets the scalar solver's bits: the link
//! pass and junction balance of the assembly, the factorization with both
//! substitutions, the link flow update, and the 4×4 transposes that pack
//! and unpack the lanes. Every function requires AVX2.

use super::{Workspace, LANES, V};
use crate::prepared::{link_flag, Incidence, Prepared};
use crate::solver::LinkSums;
use std::arch::x86_64::*;

const _: () = assert!(LANES == 8);

#[derive(Clone, Copy)]
struct R(__m256d, __m256d);

#[inline(always)]
unsafe fn ld(v: &V) -> R {
    R(
        _mm256_loadu_pd(v.as_ptr()),
        _mm256_loadu_pd(v.as_ptr().add(4)),
    )
}
#[inline(always)]
unsafe fn st(v: &mut V, x: R) {
    _mm256_storeu_pd(v.as_mut_ptr(), x.0);
    _mm256_storeu_pd(v.as_mut_ptr().add(4), x.1);
}
#[inline(always)]
unsafe fn splat(x: f64) -> R {
    R(_mm256_set1_pd(x), _mm256_set1_pd(x))
}
#[inline(always)]
unsafe fn bits(x: i64) -> R {
    let v = _mm256_castsi256_pd(_mm256_set1_epi64x(x));
    R(v, v)
}
macro_rules! binop {
    ($name:ident, $intr:ident) => {
        #[inline(always)]
        unsafe fn $name(a: R, b: R) -> R {
            R($intr(a.0, b.0), $intr(a.1, b.1))
        }
    };
}
binop!(add, _mm256_add_pd);
binop!(sub, _mm256_sub_pd);
binop!(mul, _mm256_mul_pd);
binop!(div, _mm256_div_pd);
binop!(and, _mm256_and_pd);
binop!(xor, _mm256_xor_pd);
/// a ≠ b, true when unordered (NaN).
#[inline(always)]
unsafe fn ne(a: R, b: R) -> R {
    R(
        _mm256_cmp_pd::<_CMP_NEQ_UQ>(a.0, b.0),
        _mm256_cmp_pd::<_CMP_NEQ_UQ>(a.1, b.1),
    )
}
/// a > b, false when unordered.
#[inline(always)]
unsafe fn gt(a: R, b: R) -> R {
    R(
        _mm256_cmp_pd::<_CMP_GT_OQ>(a.0, b.0),
        _mm256_cmp_pd::<_CMP_GT_OQ>(a.1, b.1),
    )
}
/// `m ? b : a` per lane.
#[inline(always)]
unsafe fn select(a: R, b: R, m: R) -> R {
    R(
        _mm256_blendv_pd(a.0, b.0, m.0),
        _mm256_blendv_pd(a.1, b.1, m.1),
    )
}
#[inline(always)]
unsafe fn mask(m: R) -> u32 {
    (_mm256_movemask_pd(m.0) | (_mm256_movemask_pd(m.1) << 4)) as u32
}

/// 4×4 transpose of `[f64; 4]` rows.
#[inline(always)]
unsafe fn t4(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> [__m256d; 4] {
    let ab_lo = _mm256_unpacklo_pd(a, b); // a0 b0 a2 b2
    let ab_hi = _mm256_unpackhi_pd(a, b); // a1 b1 a3 b3
    let cd_lo = _mm256_unpacklo_pd(c, d);
    let cd_hi = _mm256_unpackhi_pd(c, d);
    [
        _mm256_permute2f128_pd::<0x20>(ab_lo, cd_lo), // a0 b0 c0 d0
        _mm256_permute2f128_pd::<0x20>(ab_hi, cd_hi), // a1 b1 c1 d1
        _mm256_permute2f128_pd::<0x31>(ab_lo, cd_lo), // a2 b2 c2 d2
        _mm256_permute2f128_pd::<0x31>(ab_hi, cd_hi), // a3 b3 c3 d3
    ]
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn transpose_in(dst: &mut [V], src: [&[f64]; LANES]) {
    let n = dst.len();
    let mut k = 0;
    while k + 4 <= n {
        let l4 = |l: usize| _mm256_loadu_pd(src[l].as_ptr().add(k));
        let lo = t4(l4(0), l4(1), l4(2), l4(3));
        let hi = t4(l4(4), l4(5), l4(6), l4(7));
        for m in 0..4 {
            st(dst.get_unchecked_mut(k + m), R(lo[m], hi[m]));
        }
        k += 4;
    }
    for j in k..n {
        dst[j] = std::array::from_fn(|l| src[l][j]);
    }
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn transpose_out(src: &[V], mut dst: [&mut [f64]; LANES]) {
    let n = src.len();
    let mut k = 0;
    while k + 4 <= n {
        let r: [R; 4] = std::array::from_fn(|m| ld(src.get_unchecked(k + m)));
        let lo = t4(r[0].0, r[1].0, r[2].0, r[3].0);
        let hi = t4(r[0].1, r[1].1, r[2].1, r[3].1);
        for l in 0..4 {
            _mm256_storeu_pd(dst[l].as_mut_ptr().add(k), lo[l]);
            _mm256_storeu_pd(dst[l + 4].as_mut_ptr().add(k), hi[l]);
        }
        k += 4;
    }
    for j in k..n {
        for (l, d) in dst.iter_mut().enumerate() {
            d[j] = src[j][l];
        }
    }
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn link_pass(pr: &Prepared, ws: &mut Workspace) {
    let Workspace {
        p,
        y,
        q,
        h,
        dsum,
        f,
        xf,
        diag,
        off,
        ..
    } = ws;
    diag.fill([0.0; LANES]);
    off.fill([0.0; LANES]);
    for &(k, slot) in &pr.jj_links {
        let o = &mut off[slot as usize];
        st(o, sub(ld(o), ld(&p[k as usize])));
    }
    let nj = pr.njuncs;
    assert!(pr.inc_ptr.len() == nj + 1 && dsum.len() >= nj && f.len() >= nj && xf.len() >= nj);
    let nl = p.len();
    assert!(y.len() == nl && q.len() == nl);
    let zero = splat(0.0);
    for i in 0..nj {
        let (mut d, mut fy, mut x) = (zero, zero, zero);
        let (a, b) = (pr.inc_ptr[i] as usize, pr.inc_ptr[i + 1] as usize);
        for e in &pr.inc[a..b] {
            let k = (e.link_neg & !Incidence::NEG) as usize;
            debug_assert!(k < nl);
            let sign = bits(((e.link_neg & Incidence::NEG) as i64) << 32);
            // SAFETY: link indices in `inc` are < nlinks == p/y/q length.
            let pk = ld(p.get_unchecked(k));
            // P ≠ 0 (true for NaN, as the scalar `P == 0` test is false).
            let m = ne(pk, zero);
            let qs = xor(ld(q.get_unchecked(k)), sign);
            let ys = xor(ld(y.get_unchecked(k)), sign);
            x = sub(x, and(m, qs));
            d = add(d, and(m, pk));
            fy = add(fy, and(m, ys));
            if e.other & Incidence::FIXED != 0 {
                let hn = ld(&h[(e.other & !Incidence::FIXED) as usize]);
                fy = add(fy, and(m, mul(pk, hn)));
            }
        }
        st(&mut dsum[i], d);
        st(&mut f[i], fy);
        st(&mut xf[i], x);
    }
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn flow_pass(pr: &Prepared, ws: &mut Workspace, relax: V) -> [LinkSums; LANES] {
    let Workspace { p, y, q, h, .. } = ws;
    let nl = pr.nlinks;
    assert!(p.len() >= nl && y.len() >= nl && q.len() >= nl);
    assert!(pr.n1.len() >= nl && pr.n2.len() >= nl && pr.link_flags.len() >= nl);
    let nn = h.len();
    let zero = splat(0.0);
    let two = splat(2.0);
    let absm = bits(i64::MAX);
    let rx = ld(&relax);
    let (mut qs, mut dqs, mut mx) = (zero, zero, zero);
    for k in 0..nl {
        let (n1, n2) = (*pr.n1.get_unchecked(k), *pr.n2.get_unchecked(k));
        assert!(n1 < nn && n2 < nn);
        let dh = sub(ld(h.get_unchecked(n1)), ld(h.get_unchecked(n2)));
        let mut dq = sub(ld(y.get_unchecked(k)), mul(ld(p.get_unchecked(k)), dh));
        dq = mul(dq, rx);
        let qk = q.get_unchecked_mut(k);
        let mut qv = ld(qk);
        if *pr.link_flags.get_unchecked(k) & link_flag::CONST_HP != 0 {
            dq = select(dq, div(qv, two), gt(dq, qv));
        }
        qv = sub(qv, dq);
        st(qk, qv);
        let adq = and(dq, absm);
        qs = add(qs, and(qv, absm));
        dqs = add(dqs, adq);
        mx = select(mx, adq, gt(adq, mx));
    }
    let (mut a, mut b, mut c) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
    st(&mut a, qs);
    st(&mut b, dqs);
    st(&mut c, mx);
    std::array::from_fn(|l| LinkSums {
        qsum: a[l],
        dqsum: b[l],
        max_dq: c[l],
    })
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn balance_pass(pr: &Prepared, ws: &mut Workspace) {
    let Workspace {
        dem,
        dsum,
        f,
        xf,
        diag,
        ..
    } = ws;
    for i in 0..pr.njuncs {
        let slot = pr.diag_slot[i] as usize;
        let x = sub(ld(&xf[i]), ld(&dem[i]));
        st(&mut xf[i], x);
        let fi = add(ld(&f[i]), x);
        st(&mut f[i], fi);
        let dg = &mut diag[slot];
        st(dg, add(ld(dg), ld(&dsum[i])));
    }
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn factorize_solve(ws: &mut Workspace) -> [Option<usize>; LANES] {
    let Workspace {
        sym,
        diag: d,
        off: wx,
        dinv,
        f: rhs,
        work: y,
        h,
        ..
    } = ws;
    let s = &**sym;
    let n = s.n();
    let cp = s.col_ptr();
    let ri = s.row_idx();
    let tg = s.update_targets();
    let perm = s.perm();
    assert!(cp.len() == n + 1 && d.len() == n && dinv.len() == n && y.len() == n);
    assert!(wx.len() == ri.len() && cp[n] as usize == ri.len() && rhs.len() >= n);
    assert!(perm.len() == n);
    for (yk, &p) in y.iter_mut().zip(perm) {
        *yk = rhs[p as usize];
    }
    let mut err: [Option<usize>; LANES] = [None; LANES];
    let one = splat(1.0);
    let zero = splat(0.0);
    let mut t = 0usize;
    for j in 0..n {
        let dj = ld(&d[j]);
        // Pivot > 0 (false for NaN) in every lane?
        let ok = mask(gt(dj, zero));
        if ok != (1 << LANES) - 1 {
            for (l, e) in err.iter_mut().enumerate() {
                if ok & (1 << l) == 0 && e.is_none() {
                    *e = Some(perm[j] as usize);
                }
            }
        }
        let dij = div(one, dj);
        st(&mut dinv[j], dij);
        let (cs, ce) = (cp[j] as usize, cp[j + 1] as usize);
        let wj = mul(ld(&y[j]), dij);
        st(&mut y[j], wj);
        for a in cs..ce {
            let r = *ri.get_unchecked(a) as usize;
            let yr = y.get_unchecked_mut(r);
            st(yr, sub(ld(yr), mul(ld(wx.get_unchecked(a)), wj)));
        }
        for a in cs..ce {
            let wa = ld(wx.get_unchecked(a));
            let la = mul(wa, dij);
            let ra = *ri.get_unchecked(a) as usize;
            let dr = d.get_unchecked_mut(ra);
            st(dr, sub(ld(dr), mul(la, wa)));
            for b in a + 1..ce {
                let p = *tg.get_unchecked(t) as usize;
                let wb = ld(wx.get_unchecked(b));
                let wp = wx.get_unchecked_mut(p);
                st(wp, sub(ld(wp), mul(wb, la)));
                t += 1;
            }
        }
    }
    debug_assert_eq!(t, tg.len());
    for j in (0..n).rev() {
        let (cs, ce) = (cp[j] as usize, cp[j + 1] as usize);
        let mut acc = zero;
        for a in cs..ce {
            let r = *ri.get_unchecked(a) as usize;
            acc = add(acc, mul(ld(wx.get_unchecked(a)), ld(y.get_unchecked(r))));
        }
        let yj = &mut y[j];
        st(yj, sub(ld(yj), mul(acc, ld(&dinv[j]))));
    }
    // The solution: new junction heads, straight into the node heads.
    for (yk, &p) in y.iter().zip(perm) {
        h[p as usize] = *yk;
    }
    err
}
