//! The host's dense weight operator: the core's kernels
//! ([`mlamp_core::operator::kernel`]) instantiated for the widest vector unit the CPU has,
//! chosen at run time, with the next block of rows prefetched into L2 as the kernels go.
//!
//! An ML-AMP iteration streams every weight matrix twice, so it runs at the speed of memory if
//! the kernels keep up with it. Two things decide that on a large matrix (`n = 2000` f64:
//! rows of 16 KB, and `x`, `s` or `out`, `out_sq` take 32 KB, a whole L1): vector width (AVX2
//! does twice the work of SSE2 per instruction) and the memory traffic. Here `W` is prefetched
//! into L2 one block of rows ahead, in one sequential stream, and the kernels go over each
//! block by panels of columns, so that the panel of the vectors stays in L1 (see
//! [`mlamp_core::operator::kernel`]). Without the prefetch, the hardware prefetcher falls
//! behind as soon as the vectors' traffic between L1 and L2 interleaves with `W`: the fused
//! products then run at a third of the read speed, and even `W x` at two thirds.
//!
//! Every path gives the bits of [`DenseWeights`]: the kernels fix the summation order and never
//! fuse a multiply and an add, so SSE2 and AVX2 round exactly alike (checked in the tests).
//!
//! The products of a matrix over a MiB run on all the threads of rayon's current pool, split
//! by [`mlamp_core::operator::split`]: ranges of rows forward, windows of columns transposed.
//! Each entry of a product is summed by one piece in the core's order, so the split changes
//! no bit: 1, 2 or 16 threads give the bits of [`DenseWeights`] (checked in the tests).

use mlamp_core::operator::{DenseWeights, WeightOperator, split};
use mlamp_core::{Error, Real};
use rayon::prelude::*;

/// Which instantiation of the core's kernels a [`FastDense`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelPath {
    /// The core's [`DenseWeights`] (the build's baseline instructions, no prefetch).
    Portable,
    /// x86-64's baseline SSE2, with the prefetch.
    Sse2,
    /// AVX2 (without FMA), with the prefetch.
    Avx2,
}

impl KernelPath {
    /// Every path, the portable one first.
    pub const ALL: [KernelPath; 3] = [KernelPath::Portable, KernelPath::Sse2, KernelPath::Avx2];

    /// The fastest path this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                KernelPath::Avx2
            } else {
                KernelPath::Sse2
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        KernelPath::Portable
    }

    /// Whether this CPU runs `self`.
    pub fn is_supported(self) -> bool {
        match self {
            KernelPath::Portable => true,
            #[cfg(target_arch = "x86_64")]
            KernelPath::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// A dense row-major `rows × cols` matrix borrowed from a slice, like [`DenseWeights`] (same
/// products, same bits), with its products run by the fastest [`KernelPath`] of the CPU.
#[derive(Clone, Copy, Debug)]
pub struct FastDense<'a, T> {
    dense: DenseWeights<'a, T>,
    path: KernelPath,
}

impl<'a, T: Real> FastDense<'a, T> {
    /// Wraps `data` (row-major, `rows · cols` finite entries) on the path [`KernelPath::detect`]
    /// picks.
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Result<Self, Error> {
        Ok(Self {
            dense: DenseWeights::new(data, rows, cols)?,
            path: KernelPath::detect(),
        })
    }

    /// The same matrix on `path`, or `None` if this CPU does not run it.
    pub fn with_path(self, path: KernelPath) -> Option<Self> {
        path.is_supported().then_some(Self { path, ..self })
    }

    /// The path the products run on.
    pub fn path(&self) -> KernelPath {
        self.path
    }

    /// The core's operator on the same entries.
    pub fn dense(&self) -> &DenseWeights<'a, T> {
        &self.dense
    }
}

impl<T: Real> FastDense<'_, T> {
    /// Rows `first..first + out.len()` of `W x` on this path.
    fn rows_piece(&self, first: usize, x: &[T], out: &mut [T]) {
        let (w, r, c) = (
            self.dense.row_range(first, out.len()),
            out.len(),
            self.cols(),
        );
        match self.path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the path is `Avx2` only if the CPU has AVX2 (`detect`, `with_path`).
            KernelPath::Avx2 => unsafe { x86::avx2_matvec(w, r, c, x, out) },
            #[cfg(target_arch = "x86_64")]
            KernelPath::Sse2 => x86::sse2_matvec(w, r, c, x, out),
            _ => self.dense.apply_rows(first, x, out),
        }
    }

    /// Rows `first..first + out.len()` of `W x` and `(W∘W) s` on this path.
    fn rows_piece_sq(&self, first: usize, x: &[T], s: &[T], out: &mut [T], out_sq: &mut [T]) {
        let (w, r, c) = (
            self.dense.row_range(first, out.len()),
            out.len(),
            self.cols(),
        );
        match self.path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `rows_piece`.
            KernelPath::Avx2 => unsafe { x86::avx2_matvec_sq(w, r, c, x, s, out, out_sq) },
            #[cfg(target_arch = "x86_64")]
            KernelPath::Sse2 => x86::sse2_matvec_sq(w, r, c, x, s, out, out_sq),
            _ => self.dense.apply_with_square_rows(first, x, s, out, out_sq),
        }
    }

    /// Columns `first..first + out.len()` of `Wᵀ u` on this path.
    fn cols_piece(&self, first: usize, u: &[T], out: &mut [T]) {
        let (w, r, c) = (self.dense.data(), self.rows(), self.cols());
        match self.path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `rows_piece`.
            KernelPath::Avx2 => unsafe { x86::avx2_matvec_t(w, r, c, first, u, out) },
            #[cfg(target_arch = "x86_64")]
            KernelPath::Sse2 => x86::sse2_matvec_t(w, r, c, first, u, out),
            _ => self.dense.apply_t_cols(first, u, out),
        }
    }

    /// Columns `first..first + out.len()` of `Wᵀ u` and `(W∘W)ᵀ d` on this path.
    fn cols_piece_sq(&self, first: usize, u: &[T], d: &[T], out: &mut [T], out_sq: &mut [T]) {
        let (w, r, c) = (self.dense.data(), self.rows(), self.cols());
        match self.path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `rows_piece`.
            KernelPath::Avx2 => unsafe { x86::avx2_matvec_t_sq(w, r, c, first, u, d, out, out_sq) },
            #[cfg(target_arch = "x86_64")]
            KernelPath::Sse2 => x86::sse2_matvec_t_sq(w, r, c, first, u, d, out, out_sq),
            _ => self
                .dense
                .apply_t_with_square_cols(first, u, d, out, out_sq),
        }
    }
}

/// Bytes of the row blocks of [`FastDense::apply_gram`]: a block is read from memory by `W p`
/// and again, from L2, by `Wᵀ q`.
pub const GRAM_BLOCK_BYTES: usize = 128 * 1024;

impl<T: Real + Send + Sync> FastDense<'_, T> {
    /// `q = W p` and `out = Wᵀ q = WᵀW p` in one pass over `W` (the matrix-free linear step's
    /// product, [`crate::algo::matrix_free`]): each block of rows (about
    /// [`GRAM_BLOCK_BYTES`]) gives its entries of `q` by the forward kernel and adds its
    /// `W_blockᵀ q_block` by the transposed kernel while it is still in cache, so `W` streams
    /// from memory once instead of twice.
    ///
    /// Summation order, fixed by the shape alone: the rows split into the pieces of
    /// [`split::forward_rows`]; within a piece, the blocks' transposed products are added in
    /// increasing row order into the piece's partial sum (each block's as the transposed
    /// kernel sums it, from 0); `out` is `((0 + piece_0) + piece_1) + …`. The pieces run on
    /// rayon's current pool, so the bits do not depend on the thread count. `q` has the bits of
    /// [`WeightOperator::apply`]; `out` differs from `apply_t(q)` by rounding only.
    pub fn apply_gram(&self, p: &[T], q: &mut [T], out: &mut [T]) {
        let (rows, cols) = (self.rows(), self.cols());
        assert!(p.len() == cols && q.len() == rows && out.len() == cols);
        let step = split::forward_rows::<T>(rows, cols);
        let block = (GRAM_BLOCK_BYTES / (cols * size_of::<T>()).max(1)).max(1);
        let piece = |k: usize, qs: &mut [T]| -> Vec<T> {
            let mut partial = vec![T::ZERO; cols];
            let mut tmp = vec![T::ZERO; cols];
            let first = k * step;
            for (b, qb) in qs.chunks_mut(block).enumerate() {
                let start = first + b * block;
                self.rows_piece(start, p, qb);
                self.block_t(start, qb, &mut tmp);
                for (a, &t) in partial.iter_mut().zip(&tmp) {
                    *a += t;
                }
            }
            partial
        };
        let partials: Vec<Vec<T>> = if step >= rows {
            vec![piece(0, q)]
        } else {
            q.par_chunks_mut(step)
                .enumerate()
                .map(|(k, qs)| piece(k, qs))
                .collect()
        };
        out.iter_mut().for_each(|o| *o = T::ZERO);
        for part in &partials {
            for (o, &v) in out.iter_mut().zip(part) {
                *o += v;
            }
        }
    }

    /// `out = W_blockᵀ u` for the rows `first..first + u.len()` of `W` (all columns), from 0.
    fn block_t(&self, first: usize, u: &[T], out: &mut [T]) {
        let (r, c) = (u.len(), self.cols());
        let w = self.dense.row_range(first, r);
        match self.path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `rows_piece`.
            KernelPath::Avx2 => unsafe { x86::avx2_matvec_t(w, r, c, 0, u, out) },
            #[cfg(target_arch = "x86_64")]
            KernelPath::Sse2 => x86::sse2_matvec_t(w, r, c, 0, u, out),
            _ => mlamp_core::operator::kernel::matvec_t_cols::<T, 8, _>(
                w,
                r,
                c,
                0,
                u,
                out,
                &mut mlamp_core::operator::kernel::NoPrefetch,
            ),
        }
    }
}

/// The products run on rayon's current thread pool, split into the pieces of
/// [`mlamp_core::operator::split`] (a matrix under a MiB is one piece, run on the calling
/// thread): ranges of rows forward, windows of columns transposed, each entry summed by one
/// piece in the core's order, so the bits are those of [`DenseWeights`] on any thread count.
impl<T: Real + Send + Sync> WeightOperator<T> for FastDense<'_, T> {
    fn rows(&self) -> usize {
        self.dense.rows()
    }

    fn cols(&self) -> usize {
        self.dense.cols()
    }

    fn apply(&self, x: &[T], out: &mut [T]) {
        assert!(out.len() == self.rows());
        let step = split::forward_rows::<T>(self.rows(), self.cols());
        if step >= out.len() {
            return self.rows_piece(0, x, out);
        }
        out.par_chunks_mut(step)
            .enumerate()
            .for_each(|(k, o)| self.rows_piece(k * step, x, o));
    }

    fn apply_t(&self, u: &[T], out: &mut [T]) {
        assert!(out.len() == self.cols());
        let step = split::transposed_cols::<T>(self.rows(), self.cols());
        if step >= out.len() {
            return self.cols_piece(0, u, out);
        }
        out.par_chunks_mut(step)
            .enumerate()
            .for_each(|(k, o)| self.cols_piece(k * step, u, o));
    }

    fn apply_with_square(&self, x: &[T], s: &[T], out: &mut [T], out_sq: &mut [T]) {
        assert!(out.len() == self.rows() && out_sq.len() == self.rows());
        let step = split::forward_rows::<T>(self.rows(), self.cols());
        if step >= out.len() {
            return self.rows_piece_sq(0, x, s, out, out_sq);
        }
        out.par_chunks_mut(step)
            .zip(out_sq.par_chunks_mut(step))
            .enumerate()
            .for_each(|(k, (o, q))| self.rows_piece_sq(k * step, x, s, o, q));
    }

    fn apply_t_with_square(&self, u: &[T], d: &[T], out: &mut [T], out_sq: &mut [T]) {
        assert!(out.len() == self.cols() && out_sq.len() == self.cols());
        let step = split::transposed_cols::<T>(self.rows(), self.cols());
        if step >= out.len() {
            return self.cols_piece_sq(0, u, d, out, out_sq);
        }
        out.par_chunks_mut(step)
            .zip(out_sq.par_chunks_mut(step))
            .enumerate()
            .for_each(|(k, (o, q))| self.cols_piece_sq(k * step, u, d, o, q));
    }

    fn mean_square(&self) -> T {
        self.dense.mean_square()
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The x86-64 instantiations. The rows per register block (`R`, which never changes the
    //! result) keep the `R · LANES` partial sums of a forward product in the 16 vector
    //! registers: with f64 and AVX2, 4 rows for `W x` (8 ymm), 2 for the fused `W x`,
    //! `(W∘W) s` (8 ymm); SSE2 registers hold half as much. The transposed products keep
    //! `R` (or `2R`) broadcast factors: 8 rows for `Wᵀ u`, 4 for the fused pair with AVX2.
    //! Measured at `n = 2000` (f64 matrices far larger than L3, one thread), each product
    //! takes about 1.05–1.3 times a plain read of the matrix (memory bandwidth on a shared
    //! machine drifts by about as much); in cache, 9–10 entries per ns for `W x` and `Wᵀ u`
    //! and about 6 for the fused pairs, against 3–7 before these kernels.

    use core::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};

    use mlamp_core::Real;
    use mlamp_core::operator::kernel::{self, Prefetch};

    /// Prefetches each hinted range into L2 (`prefetcht1`), one instruction per 64 bytes. The
    /// kernels hint `R · LANES` consecutive entries per call, so with f64 every cache line of
    /// the next block is fetched exactly once, one block ahead of the reads, in one sequential
    /// stream (which is what DRAM serves fastest).
    pub(super) struct L2Ahead;

    impl<T> Prefetch<T> for L2Ahead {
        #[inline(always)]
        fn ahead(&mut self, next: &[T], from: usize, len: usize) {
            let Some(last) = next.len().checked_sub(1) else {
                return;
            };
            let step = (64 / size_of::<T>().max(1)).max(1);
            // `len` is a constant of the calling loop, so this loop unrolls; past the end of
            // `next` (the last calls of a block) it fetches the last line again instead of
            // branching.
            let mut k = 0;
            while k < len {
                let i = from.saturating_add(k).min(last);
                // SAFETY: `i < next.len()`, so the address lies in `next`; a prefetch is only a
                // hint: it reads nothing into the program and never faults.
                unsafe { _mm_prefetch::<_MM_HINT_T1>(next.as_ptr().add(i).cast::<i8>()) };
                k += step;
            }
        }
    }

    /// `true` for 4-byte scalars, whose partial sums take half the registers.
    fn narrow<T>() -> bool {
        size_of::<T>() <= 4
    }

    /// `out = W x` (`w`: rows · cols, `x`: cols, `out`: rows), SSE2.
    pub(super) fn sse2_matvec<T: Real>(w: &[T], r: usize, c: usize, x: &[T], out: &mut [T]) {
        kernel::matvec::<T, 2, _>(w, r, c, x, out, &mut L2Ahead);
    }

    /// Columns `first..first + out.len()` of `Wᵀ u` (`w`: rows · cols, `u`: rows), SSE2.
    pub(super) fn sse2_matvec_t<T: Real>(
        w: &[T],
        r: usize,
        c: usize,
        first: usize,
        u: &[T],
        out: &mut [T],
    ) {
        kernel::matvec_t_cols::<T, 4, _>(w, r, c, first, u, out, &mut L2Ahead);
    }

    /// `out = W x`, `out_sq = (W∘W) s` (`x`, `s`: cols; outputs: rows), SSE2.
    pub(super) fn sse2_matvec_sq<T: Real>(
        w: &[T],
        r: usize,
        c: usize,
        x: &[T],
        s: &[T],
        out: &mut [T],
        out_sq: &mut [T],
    ) {
        if narrow::<T>() {
            kernel::matvec_sq::<T, 2, _>(w, r, c, x, s, out, out_sq, &mut L2Ahead);
        } else {
            kernel::matvec_sq::<T, 1, _>(w, r, c, x, s, out, out_sq, &mut L2Ahead);
        }
    }

    /// Columns `first..first + out.len()` of `Wᵀ u` and `(W∘W)ᵀ d` (`u`, `d`: rows), SSE2.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sse2_matvec_t_sq<T: Real>(
        w: &[T],
        r: usize,
        c: usize,
        first: usize,
        u: &[T],
        d: &[T],
        out: &mut [T],
        out_sq: &mut [T],
    ) {
        let pf = &mut L2Ahead;
        kernel::matvec_t_sq_cols::<T, 2, _>(w, r, c, first, (u, d), out, out_sq, pf);
    }

    /// `out = W x` (`w`: rows · cols, `x`: cols, `out`: rows), AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_matvec<T: Real>(w: &[T], r: usize, c: usize, x: &[T], out: &mut [T]) {
        kernel::matvec::<T, 4, _>(w, r, c, x, out, &mut L2Ahead);
    }

    /// Columns `first..first + out.len()` of `Wᵀ u` (`w`: rows · cols, `u`: rows), AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_matvec_t<T: Real>(
        w: &[T],
        r: usize,
        c: usize,
        first: usize,
        u: &[T],
        out: &mut [T],
    ) {
        kernel::matvec_t_cols::<T, 8, _>(w, r, c, first, u, out, &mut L2Ahead);
    }

    /// `out = W x`, `out_sq = (W∘W) s` (`x`, `s`: cols; outputs: rows), AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_matvec_sq<T: Real>(
        w: &[T],
        r: usize,
        c: usize,
        x: &[T],
        s: &[T],
        out: &mut [T],
        out_sq: &mut [T],
    ) {
        if narrow::<T>() {
            kernel::matvec_sq::<T, 4, _>(w, r, c, x, s, out, out_sq, &mut L2Ahead);
        } else {
            kernel::matvec_sq::<T, 2, _>(w, r, c, x, s, out, out_sq, &mut L2Ahead);
        }
    }

    /// Columns `first..first + out.len()` of `Wᵀ u` and `(W∘W)ᵀ d` (`u`, `d`: rows), AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_matvec_t_sq<T: Real>(
        w: &[T],
        r: usize,
        c: usize,
        first: usize,
        u: &[T],
        d: &[T],
        out: &mut [T],
        out_sq: &mut [T],
    ) {
        let pf = &mut L2Ahead;
        kernel::matvec_t_sq_cols::<T, 4, _>(w, r, c, first, (u, d), out, out_sq, pf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries of mixed magnitudes and signs from a fixed LCG.
    fn entries<T: Real>(n: usize, seed: u64) -> Vec<T> {
        let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                z = z
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let m = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                T::c(m * [1.0, 1e-3, 37.0, 0.3][(z >> 5) as usize % 4])
            })
            .collect()
    }

    fn bits<T: Real>(v: &[T]) -> Vec<u64> {
        v.iter().map(|x| x.to_f64().to_bits()).collect()
    }

    /// The four products of `op`, as bits.
    fn products<T: Real>(op: &dyn WeightOperator<T>, seed: u64) -> [Vec<u64>; 6] {
        let (r, c) = (op.rows(), op.cols());
        let (x, s) = (entries::<T>(c, seed), entries::<T>(c, seed + 1));
        let (u, d) = (entries::<T>(r, seed + 2), entries::<T>(r, seed + 3));
        let (mut a, mut b, mut q) = (vec![T::ZERO; r], vec![T::ZERO; r], vec![T::ZERO; r]);
        op.apply(&x, &mut a);
        op.apply_with_square(&x, &s, &mut b, &mut q);
        let (mut at, mut bt, mut qt) = (vec![T::ZERO; c], vec![T::ZERO; c], vec![T::ZERO; c]);
        op.apply_t(&u, &mut at);
        op.apply_t_with_square(&u, &d, &mut bt, &mut qt);
        [a, b, q, at, bt, qt].map(|v| bits(&v))
    }

    fn every_path_gives_the_core_bits<T: Real + Send + Sync>() {
        // Rows and columns off every block and lane multiple, a size whose rows and vectors
        // exceed L1, so the prefetch runs across many blocks, and sizes over a MiB, which
        // split into pieces (300 × 2100: 5 forward pieces, 4 windows in f64; 3 and 2 in f32;
        // 2100 × 300: 5 and 3 forward pieces, one window).
        let sizes = [
            (1, 1),
            (3, 5),
            (5, 3),
            (7, 17),
            (13, 9),
            (30, 31),
            (203, 517),
            (61, 2000),
            (300, 2100),
            (2100, 300),
        ];
        let pools: Vec<rayon::ThreadPool> = [1, 2, 3]
            .iter()
            .map(|&t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
            })
            .collect();
        for (k, &(r, c)) in sizes.iter().enumerate() {
            let data = entries::<T>(r * c, 10 + k as u64);
            let core = DenseWeights::new(&data, r, c).unwrap();
            let want = products::<T>(&core, k as u64);
            let mut ran = 0;
            for path in KernelPath::ALL {
                let Some(op) = FastDense::new(&data, r, c).unwrap().with_path(path) else {
                    continue;
                };
                assert_eq!(op.path(), path);
                for pool in &pools {
                    let got = pool.install(|| products::<T>(&op, k as u64));
                    let threads = pool.current_num_threads();
                    assert_eq!(got, want, "{path:?}, {r} x {c}, {threads} threads");
                }
                ran += 1;
            }
            assert!(ran >= if cfg!(target_arch = "x86_64") { 2 } else { 1 });
        }
    }

    #[test]
    fn every_path_gives_the_core_bits_f64() {
        every_path_gives_the_core_bits::<f64>();
    }

    #[test]
    fn every_path_gives_the_core_bits_f32() {
        every_path_gives_the_core_bits::<f32>();
    }

    /// `apply_gram`: `q` has `apply`'s bits, `out` is `Wᵀ q` by a plain double loop up to
    /// rounding, and both have the same bits on every path and thread count.
    #[test]
    fn the_gram_product_in_one_pass() {
        let pools: Vec<rayon::ThreadPool> = [1, 2, 3]
            .iter()
            .map(|&t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
            })
            .collect();
        for (k, &(r, c)) in [(1, 1), (7, 17), (203, 517), (300, 2100), (2100, 300)]
            .iter()
            .enumerate()
        {
            let data = entries::<f64>(r * c, 40 + k as u64);
            let p = entries::<f64>(c, 50 + k as u64);
            let core = DenseWeights::new(&data, r, c).unwrap();
            let mut q_core = vec![0.0; r];
            core.apply(&p, &mut q_core);
            // Wᵀ q by the definition, summed in f64 by rows.
            let plain: Vec<f64> = (0..c)
                .map(|j| (0..r).map(|i| data[i * c + j] * q_core[i]).sum())
                .collect();
            let scale = plain.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
            let mut first: Option<Vec<u64>> = None;
            for path in KernelPath::ALL {
                let Some(op) = FastDense::new(&data, r, c).unwrap().with_path(path) else {
                    continue;
                };
                for pool in &pools {
                    let (mut q, mut out) = (vec![0.0; r], vec![0.0; c]);
                    pool.install(|| op.apply_gram(&p, &mut q, &mut out));
                    assert_eq!(bits(&q), bits(&q_core), "{path:?} {r} x {c}");
                    for (a, b) in out.iter().zip(&plain) {
                        assert!((a - b).abs() <= 1e-12 * scale, "{a} vs {b}");
                    }
                    match &first {
                        None => first = Some(bits(&out)),
                        Some(f) => assert_eq!(&bits(&out), f, "{path:?} {r} x {c}"),
                    }
                }
            }
        }
    }

    #[test]
    fn detection_picks_a_supported_path() {
        let p = KernelPath::detect();
        assert!(p.is_supported() && KernelPath::Portable.is_supported());
        #[cfg(target_arch = "x86_64")]
        assert_ne!(p, KernelPath::Portable);
        let data = [1.0f64, 2.0, 3.0, 4.0];
        let op = FastDense::new(&data, 2, 2).unwrap();
        assert_eq!(op.path(), p);
        assert_eq!(op.mean_square(), 7.5);
        assert!(FastDense::new(&data, 3, 2).is_err());
    }
}
