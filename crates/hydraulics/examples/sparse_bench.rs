//! Micro-benchmark of the sparse GGA solver (`hydraulics::sparse`).
//!
//! `cargo run -p hydraulics --release --example sparse_bench`
//!
//! Prints, per graph: ordering and symbolic time, fill, and the time of one
//! assembly, factorize and solve (averaged), plus the number of heap
//! allocations made by the numeric loop (must be 0).
//!
//! Extra arguments are EPANET `.inp` files: their junction-to-junction links
//! (pipes, pumps, valves) give the pattern (a minimal reader, for this
//! benchmark only: tanks and reservoirs are the fixed-head nodes).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Instant;

use hydraulics::sparse::{Factor, Ordering, Symbolic};

struct CountingAlloc;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, AtomicOrdering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, AtomicOrdering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn grid(nx: usize, ny: usize) -> Vec<(usize, usize)> {
    let mut e = Vec::new();
    for y in 0..ny {
        for x in 0..nx {
            let v = y * nx + x;
            if x + 1 < nx {
                e.push((v, v + 1));
            }
            if y + 1 < ny {
                e.push((v, v + nx));
            }
        }
    }
    e
}

/// Planar-ish "water network": a random spanning tree of a grid plus a
/// fraction `extra` of the remaining grid edges as loops, with shuffled
/// node numbers (as in real input files).
fn planarish(nx: usize, ny: usize, extra: f64, rng: &mut Rng) -> (usize, Vec<(usize, usize)>) {
    let n = nx * ny;
    let mut edges = grid(nx, ny);
    for k in (1..edges.len()).rev() {
        let r = (rng.next_u64() % (k as u64 + 1)) as usize;
        edges.swap(k, r);
    }
    let mut uf: Vec<usize> = (0..n).collect();
    fn find(uf: &mut [usize], mut v: usize) -> usize {
        while uf[v] != v {
            uf[v] = uf[uf[v]];
            v = uf[v];
        }
        v
    }
    let mut links = Vec::new();
    for &(a, b) in &edges {
        let (ra, rb) = (find(&mut uf, a), find(&mut uf, b));
        if ra != rb {
            uf[ra] = rb;
            links.push((a, b));
        } else if rng.unit() < extra {
            links.push((a, b));
        }
    }
    // Relabel nodes randomly.
    let mut label: Vec<usize> = (0..n).collect();
    for k in (1..n).rev() {
        let r = (rng.next_u64() % (k as u64 + 1)) as usize;
        label.swap(k, r);
    }
    (
        n,
        links
            .into_iter()
            .map(|(a, b)| (label[a], label[b]))
            .collect(),
    )
}

fn bench(name: &str, n: usize, links: &[(usize, usize)], rng: &mut Rng) {
    let t = Instant::now();
    let ord = Ordering::minimum_degree(n, links).unwrap();
    let t_order = t.elapsed();
    let t = Instant::now();
    let sym = Symbolic::with_ordering(n, links, &ord).unwrap();
    let t_sym = t.elapsed();
    let t = Instant::now();
    let fast = Symbolic::new(n, links).unwrap();
    let t_new = t.elapsed();
    assert_eq!(
        fast,
        Symbolic::new_reference(n, links).unwrap(),
        "{name}: the flat elimination differs from the reference"
    );
    println!(
        "  Symbolic::new (ordering + symbolic in one pass) {:.3} ms",
        t_new.as_secs_f64() * 1e3
    );
    let sym = Arc::new(sym);
    let natural = Symbolic::with_ordering(n, links, &Ordering::natural(n)).unwrap();

    let slots = sym.offdiag_slots(links).unwrap();
    let dslots: Vec<(u32, u32)> = links
        .iter()
        .map(|&(i, j)| (sym.diag_slot(i), sym.diag_slot(j)))
        .collect();
    let w: Vec<f64> = links.iter().map(|_| 0.1 + rng.unit()).collect();
    let g: Vec<f64> = (0..n)
        .map(|i| if i % 50 == 0 { 1.0 } else { 1e-3 })
        .collect();
    let b: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
    let mut f = Factor::new(Arc::clone(&sym));
    let mut x = b.clone();

    let reps = 300;
    let (mut t_asm, mut t_fac, mut t_sol) = (0.0, 0.0, 0.0);
    let allocs_before = ALLOCS.load(AtomicOrdering::Relaxed);
    for _ in 0..reps {
        let t0 = Instant::now();
        f.clear();
        {
            let (d, lx) = f.values_mut();
            for (i, &gi) in g.iter().enumerate() {
                d[sym.diag_slot(i) as usize] += gi;
            }
            for ((&s, &(di, dj)), &wk) in slots.iter().zip(&dslots).zip(&w) {
                d[di as usize] += wk;
                d[dj as usize] += wk;
                lx[s as usize] -= wk;
            }
        }
        let t1 = Instant::now();
        f.factorize().unwrap();
        let t2 = Instant::now();
        x.copy_from_slice(&b);
        f.solve(&mut x);
        let t3 = Instant::now();
        black_box(&x);
        t_asm += (t1 - t0).as_secs_f64();
        t_fac += (t2 - t1).as_secs_f64();
        t_sol += (t3 - t2).as_secs_f64();
    }
    let allocs = ALLOCS.load(AtomicOrdering::Relaxed) - allocs_before;
    // The left-looking kernel on the same matrix, for comparison.
    let mut t_left = 0.0;
    for _ in 0..reps {
        f.clear();
        {
            let (d, lx) = f.values_mut();
            for (i, &gi) in g.iter().enumerate() {
                d[sym.diag_slot(i) as usize] += gi;
            }
            for ((&s, &(di, dj)), &wk) in slots.iter().zip(&dslots).zip(&w) {
                d[di as usize] += wk;
                d[dj as usize] += wk;
                lx[s as usize] -= wk;
            }
        }
        let t1 = Instant::now();
        f.factorize_left_looking().unwrap();
        t_left += t1.elapsed().as_secs_f64();
    }
    let us = |s: f64| s / reps as f64 * 1e6;
    let max_col = (0..n)
        .map(|j| sym.col_ptr()[j + 1] - sym.col_ptr()[j])
        .max()
        .unwrap_or(0);
    println!(
        "{name}: n = {n}, couplings = {}, nnz(A lower) = {}",
        links.len(),
        sym.nnz_a_lower()
    );
    println!(
        "  ordering {:.2} ms, symbolic {:.2} ms; nnz(L) = {} (max {} per column), fill = {:.3} (with diagonal {:.3}); natural-order fill = {:.2}",
        t_order.as_secs_f64() * 1e3,
        t_sym.as_secs_f64() * 1e3,
        sym.nnz_l(),
        max_col,
        sym.fill_ratio(),
        (sym.nnz_l() + n) as f64 / (sym.nnz_a_lower() + n) as f64,
        natural.fill_ratio(),
    );
    println!(
        "  per call: clear+assemble {:.1} us, factorize {:.1} us (left-looking {:.1} us), solve {:.1} us, factorize+solve {:.1} us; allocations in loop: {allocs}",
        us(t_asm),
        us(t_fac),
        us(t_left),
        us(t_sol),
        us(t_fac + t_sol)
    );
}

/// Junction count and junction-to-junction couplings of an `.inp` file.
fn read_inp(path: &str) -> (usize, Vec<(usize, usize)>) {
    use std::collections::HashMap;
    let text = std::fs::read_to_string(path).expect("cannot read .inp file");
    let mut section = String::new();
    let mut junction: HashMap<String, usize> = HashMap::new();
    let mut link_ends: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_ascii_uppercase();
            continue;
        }
        let mut fields = line.split_whitespace();
        match section.as_str() {
            "[JUNCTIONS]" => {
                let id = fields.next().unwrap().to_string();
                let k = junction.len();
                junction.entry(id).or_insert(k);
            }
            "[PIPES]" | "[PUMPS]" | "[VALVES]" => {
                let _id = fields.next();
                if let (Some(a), Some(b)) = (fields.next(), fields.next()) {
                    link_ends.push((a.to_string(), b.to_string()));
                }
            }
            _ => {}
        }
    }
    let links = link_ends
        .iter()
        .filter_map(|(a, b)| Some((*junction.get(a)?, *junction.get(b)?)))
        .collect();
    (junction.len(), links)
}

fn main() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let files: Vec<String> = std::env::args().skip(1).collect();
    if !files.is_empty() {
        for path in &files {
            let (n, links) = read_inp(path);
            let name = path.rsplit('/').next().unwrap_or(path);
            bench(name, n, &links, &mut rng);
        }
        return;
    }
    bench("grid 120x120", 14_400, &grid(120, 120), &mut rng);
    let (n, links) = planarish(110, 110, 0.18, &mut rng);
    bench("planar-ish 12.1k (1.18 links/node)", n, &links, &mut rng);
    let (n, links) = planarish(110, 110, 0.5, &mut rng);
    bench("planar-ish 12.1k (1.5 links/node)", n, &links, &mut rng);
}
