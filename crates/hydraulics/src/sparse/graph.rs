//! Symmetric adjacency structure of the coupling pattern (internal).

use super::PatternError;

/// Undirected graph in CSR form: sorted, duplicate-free neighbour lists,
/// no self loops.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    pub(crate) n: usize,
    pub(crate) ptr: Vec<u32>,
    pub(crate) adj: Vec<u32>,
}

impl Graph {
    /// Builds the graph from couplings `(i, j)`; both orientations and
    /// repeats collapse into one edge, `i == j` is ignored.
    pub(crate) fn from_couplings(
        n: usize,
        couplings: &[(usize, usize)],
    ) -> Result<Self, PatternError> {
        if n >= u32::MAX as usize || couplings.len() >= (u32::MAX as usize) / 2 {
            return Err(PatternError::TooLarge);
        }
        let mut count = vec![0u32; n + 1];
        for &(i, j) in couplings {
            for idx in [i, j] {
                if idx >= n {
                    return Err(PatternError::IndexOutOfRange { index: idx, n });
                }
            }
            if i != j {
                count[i] += 1;
                count[j] += 1;
            }
        }
        // Exclusive prefix sums -> row starts.
        let mut ptr = vec![0u32; n + 1];
        for v in 0..n {
            ptr[v + 1] = ptr[v] + count[v];
        }
        let mut fill: Vec<u32> = ptr[..n].to_vec();
        let mut adj = vec![0u32; ptr[n] as usize];
        for &(i, j) in couplings {
            if i != j {
                adj[fill[i] as usize] = j as u32;
                fill[i] += 1;
                adj[fill[j] as usize] = i as u32;
                fill[j] += 1;
            }
        }
        // Sort and deduplicate each row, compacting in place.
        let mut out = 0usize;
        let mut start = 0usize;
        for v in 0..n {
            let end = ptr[v + 1] as usize;
            adj[start..end].sort_unstable();
            let row_start = out;
            let mut last = u32::MAX;
            for k in start..end {
                let a = adj[k];
                if a != last {
                    adj[out] = a;
                    out += 1;
                    last = a;
                }
            }
            ptr[v] = row_start as u32;
            start = end;
        }
        ptr[n] = out as u32;
        adj.truncate(out);
        adj.shrink_to_fit();
        Ok(Graph { n, ptr, adj })
    }

    #[inline]
    pub(crate) fn neighbors(&self, v: usize) -> &[u32] {
        &self.adj[self.ptr[v] as usize..self.ptr[v + 1] as usize]
    }

    /// Number of distinct off-diagonal entries in the strictly lower triangle.
    pub(crate) fn nnz_lower(&self) -> usize {
        self.adj.len() / 2
    }
}
