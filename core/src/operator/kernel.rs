//! The dense loops behind [`DenseWeights`](super::DenseWeights), generic over the scalar,
//! the number `R` of rows processed together and a [`Prefetch`] hook, and all
//! `#[inline(always)]`, so that a caller can instantiate them inside a function compiled for
//! a wider vector unit (e.g. `#[target_feature(enable = "avx2")]`): the operations and their
//! order are those of the [module doc](super#summation-order) whatever `R`, the hook or the
//! instruction set, hence the same bits.
//!
//! `W` is row-major, `rows × cols`, and is read once per product, front to back, one
//! *block* of rows at a time (about [`BLOCK_BYTES`], the part a prefetcher keeps ahead in
//! L2), `R` rows at a time within a block, so that each load of `x` (and `s`) serves `R`
//! rows and each load and store of `out` (and `out_sq`) adds `R` rows. Each forward row
//! keeps `LANES` partial sums per product, which a vector unit holds in one to four
//! registers.
//!
//! With an active [`Prefetch`] hook, the columns of a block go by *panels* of [`PANEL`]:
//! the panel of `x` and `s` (forward) or of `out` and `out_sq` (transposed) stays in L1
//! while the block's rows pass over it, the forward rows carrying their partial sums from
//! panel to panel. Streaming whole rows instead pulls those vectors (2 × 16 KB at
//! `n = 2000` in f64, a whole L1) through L1 again for every register block, and that
//! traffic slows the stream of `W` itself. Without prefetching ([`NoPrefetch`]) a panel is
//! a whole row: the hardware prefetchers then see `R` plain sequential streams, which they
//! follow better than the panels' short runs.
//!
//! The transposed products also run on a *window* of columns ([`matvec_t_cols`],
//! [`matvec_t_sq_cols`]): the same loops over the window's part of each row (rows `cols`
//! entries apart), each output column still summed over every row in the documented order.
//! So a host can split a product among threads by windows of columns (transposed) and ranges
//! of rows (forward, each row a sum of its own) and get the bits of the whole product on any
//! number of threads, with nothing to combine; [`split`](super::split) fixes the pieces.

use crate::real::Real;

/// Partial sums per forward row product (columns `j ≡ l (mod LANES)` go to lane `l`); also
/// the number of columns per step of the forward loops.
pub const LANES: usize = 8;

/// Columns per panel with an active hook (a multiple of `LANES`): 2 × 4 KB of f64.
pub const PANEL: usize = 64 * LANES;

/// Target size of a block of rows, in bytes (rows of more than this go one by one).
pub const BLOCK_BYTES: usize = 128 * 1024;

/// Most rows per block, and so most rows per register block `R`.
pub const MAX_BLOCK: usize = 16;

/// Rows per block for rows of `cols` entries of `T` and register blocks of `R` rows: about
/// [`BLOCK_BYTES`] of entries, at most [`MAX_BLOCK`] rows, a multiple of `R`.
pub fn block_rows<T>(cols: usize, r: usize) -> usize {
    let row_bytes = cols.saturating_mul(size_of::<T>()).max(1);
    let rows = (BLOCK_BYTES / row_bytes).clamp(1, MAX_BLOCK);
    (rows / r).max(1) * r
}

/// Told, as a kernel goes, which part of the matrix it will read next, so that an
/// implementation can prefetch it (a `no_std` core has no portable prefetch instruction:
/// [`NoPrefetch`] ignores the hints).
pub trait Prefetch<T> {
    /// `next` is the block of rows read after the current one (empty after the last), and
    /// `next[from..]`, truncated to `len` entries (possibly past the end of `next`: clamp),
    /// the part to fetch now. While a kernel reads a block it walks `next` from front to
    /// back (each call starts where the previous one ended), `R · LANES` entries for each
    /// `LANES` columns of `R` rows it reads, so a prefetcher that fetches each call's range
    /// stays one block ahead in one sequential stream. On a window of columns
    /// ([`matvec_t_cols`]) the walk goes over the window's part of each row of the next
    /// block, one call per row and range: `next` is then that row's part of the window and
    /// each row's walk starts at `from = 0`.
    fn ahead(&mut self, next: &[T], from: usize, len: usize);

    /// Whether [`ahead`](Prefetch::ahead) does anything. If not, the kernels read whole
    /// rows instead of panels, and the transposed ones use loops without hint points,
    /// which the optimiser vectorises better (same operations in the same order, same
    /// bits).
    const ACTIVE: bool = true;
}

/// The [`Prefetch`] hook that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPrefetch;

impl<T> Prefetch<T> for NoPrefetch {
    #[inline(always)]
    fn ahead(&mut self, _next: &[T], _from: usize, _len: usize) {}

    const ACTIVE: bool = false;
}

/// The walk of a block's successor: where the hints are. The successor's rows are `stride`
/// entries apart and the kernel reads `width` of each (`width == stride`: whole rows, one
/// contiguous range; less: a window of columns, hinted row by row).
struct Ahead<'a, 'p, T, P> {
    next: &'a [T],
    width: usize,
    stride: usize,
    /// Entries hinted so far (whole rows).
    done: usize,
    /// Row of `next` and entry in its window of the next hint (windows).
    row: usize,
    off: usize,
    pf: &'p mut P,
}

impl<'a, 'p, T, P: Prefetch<T>> Ahead<'a, 'p, T, P> {
    /// The walk of `next` (rows `stride` apart, `width` entries of each read).
    #[inline(always)]
    fn new(next: &'a [T], width: usize, stride: usize, pf: &'p mut P) -> Self {
        Self {
            next,
            width,
            stride,
            done: 0,
            row: 0,
            off: 0,
            pf,
        }
    }

    /// Hints the next `len` entries.
    #[inline(always)]
    fn step(&mut self, len: usize) {
        if !P::ACTIVE {
            return;
        }
        if self.width == self.stride {
            self.pf.ahead(self.next, self.done, len);
            self.done += len;
        } else if self.off + len < self.width {
            // Within one row's part of the window (the usual case): one hint, inline.
            let start = self.row * self.stride;
            if start < self.next.len() {
                let row = &self.next[start..(start + self.width).min(self.next.len())];
                self.pf.ahead(row, self.off, len);
            }
            self.off += len;
        } else {
            self.step_window(len);
        }
    }

    /// [`step`](Self::step) in a window across the end of a row: each row's part of the
    /// range hinted on its own, nothing past the last row.
    #[inline(never)]
    fn step_window(&mut self, mut len: usize) {
        while len > 0 && self.width > 0 {
            let start = self.row * self.stride;
            if start >= self.next.len() {
                return;
            }
            let n = (self.width - self.off).min(len);
            let row = &self.next[start..(start + self.width).min(self.next.len())];
            self.pf.ahead(row, self.off, n);
            self.off += n;
            len -= n;
            if self.off == self.width {
                self.off = 0;
                self.row += 1;
            }
        }
    }
}

/// `LANES` consecutive entries of `v` from `j`.
#[inline(always)]
fn lanes<T: Copy>(v: &[T], j: usize) -> [T; LANES] {
    let c: &[T; LANES] = v[j..j + LANES].try_into().unwrap();
    *c
}

/// Columns `p..p + n` of the `R` rows of `block` (rows `stride` entries apart) from row `r`.
#[inline(always)]
fn panel<T, const R: usize>(block: &[T], stride: usize, r: usize, p: usize, n: usize) -> [&[T]; R] {
    core::array::from_fn(|k| &block[(r + k) * stride + p..][..n])
}

/// Lane sums then leftover terms `w x` (the end of a forward row, module-doc order). Not
/// inlined: inlined, the optimiser vectorises the loops across the block's rows instead of
/// across the lanes.
#[inline(never)]
fn finish<T: Real>(acc: [T; LANES], w: &[T], x: &[T]) -> T {
    let mut sum = T::ZERO;
    for a in acc {
        sum += a;
    }
    for (&w, &x) in w.iter().zip(x) {
        sum += w * x;
    }
    sum
}

/// Lane sums then leftover terms `(w w) s`.
#[inline(never)]
fn finish_sq<T: Real>(acc: [T; LANES], w: &[T], s: &[T]) -> T {
    let mut sum = T::ZERO;
    for a in acc {
        sum += a;
    }
    for (&w, &s) in w.iter().zip(s) {
        sum += w * w * s;
    }
    sum
}

/// Adds `w x` over a panel (`rows`, `x`: a multiple of `LANES` columns) to the lane sums
/// `acc` of `R` rows.
#[inline(always)]
fn dot_panel<T: Real, const R: usize, P: Prefetch<T>>(
    rows: [&[T]; R],
    x: &[T],
    acc: &mut [[T; LANES]],
    ahead: &mut Ahead<'_, '_, T, P>,
) {
    let mut a: [[T; LANES]; R] = core::array::from_fn(|r| acc[r]);
    for k in 0..x.len() / LANES {
        let j = k * LANES;
        let xk = lanes(x, j);
        for (ar, row) in a.iter_mut().zip(rows) {
            let wk = lanes(row, j);
            for l in 0..LANES {
                ar[l] += wk[l] * xk[l];
            }
        }
        ahead.step(R * LANES);
    }
    acc[..R].copy_from_slice(&a);
}

/// Adds `w x` and `(w w) s` over a panel to the lane sums `acc`, `acc_sq` of `R` rows.
#[inline(always)]
fn dot_sq_panel<T: Real, const R: usize, P: Prefetch<T>>(
    rows: [&[T]; R],
    x: &[T],
    s: &[T],
    acc: (&mut [[T; LANES]], &mut [[T; LANES]]),
    ahead: &mut Ahead<'_, '_, T, P>,
) {
    let mut a: [[T; LANES]; R] = core::array::from_fn(|r| acc.0[r]);
    let mut b: [[T; LANES]; R] = core::array::from_fn(|r| acc.1[r]);
    let s = &s[..x.len()];
    for k in 0..x.len() / LANES {
        let j = k * LANES;
        let xk = lanes(x, j);
        let sk = lanes(s, j);
        // Two sweeps over the rows (the second reloads `w` from L1): one sweep lets the
        // optimiser pair the two products in vector registers instead of the lanes.
        for (ar, row) in a.iter_mut().zip(rows) {
            let wk = lanes(row, j);
            for l in 0..LANES {
                ar[l] += wk[l] * xk[l];
            }
        }
        for (br, row) in b.iter_mut().zip(rows) {
            let wk = lanes(row, j);
            for l in 0..LANES {
                br[l] += wk[l] * wk[l] * sk[l];
            }
        }
        ahead.step(R * LANES);
    }
    acc.0[..R].copy_from_slice(&a);
    acc.1[..R].copy_from_slice(&b);
}

/// `out += Σ_r u_r w_r` over a panel (`rows`, `out`: the panel's columns) of `R` rows,
/// row by row for each column. With an active hook, in steps of `LANES` columns with a
/// hint each (as the forward loops); without, a plain loop over the columns, which the
/// optimiser vectorises contiguously (it would vectorise the stepped loop across steps).
#[inline(always)]
fn axpy_panel<T: Real, const R: usize, P: Prefetch<T>>(
    rows: [&[T]; R],
    u: &[T],
    out: &mut [T],
    ahead: &mut Ahead<'_, '_, T, P>,
) {
    let u: [T; R] = core::array::from_fn(|r| u[r]);
    if !P::ACTIVE {
        let w: [&[T]; R] = core::array::from_fn(|r| &rows[r][..out.len()]);
        for (k, o) in out.iter_mut().enumerate() {
            let mut v = *o;
            for (wr, &ur) in w.iter().zip(&u) {
                v += wr[k] * ur;
            }
            *o = v;
        }
        return;
    }
    let body = out.len() - out.len() % LANES;
    for k in 0..out.len() / LANES {
        let j = k * LANES;
        let mut o = lanes(out, j);
        for (row, &ur) in rows.iter().zip(&u) {
            let wk = lanes(row, j);
            for l in 0..LANES {
                o[l] += wk[l] * ur;
            }
        }
        out[j..j + LANES].copy_from_slice(&o);
        ahead.step(R * LANES);
    }
    for (k, o) in out.iter_mut().enumerate().skip(body) {
        for (row, &ur) in rows.iter().zip(&u) {
            *o += row[k] * ur;
        }
    }
    ahead.step(R * (out.len() - body));
}

/// `out += Σ_r u_r w_r` and `out_sq += Σ_r d_r (w_r∘w_r)` over a panel of `R` rows.
#[inline(always)]
fn axpy_sq_panel<T: Real, const R: usize, P: Prefetch<T>>(
    rows: [&[T]; R],
    (u, d): (&[T], &[T]),
    (out, out_sq): (&mut [T], &mut [T]),
    ahead: &mut Ahead<'_, '_, T, P>,
) {
    let u: [T; R] = core::array::from_fn(|r| u[r]);
    let d: [T; R] = core::array::from_fn(|r| d[r]);
    let out_sq = &mut out_sq[..out.len()];
    if !P::ACTIVE {
        let w: [&[T]; R] = core::array::from_fn(|r| &rows[r][..out.len()]);
        for (k, (o, q)) in out.iter_mut().zip(out_sq.iter_mut()).enumerate() {
            let (mut a, mut b) = (*o, *q);
            for ((wr, &ur), &dr) in w.iter().zip(&u).zip(&d) {
                let x = wr[k];
                a += x * ur;
                b += x * x * dr;
            }
            (*o, *q) = (a, b);
        }
        return;
    }
    let body = out.len() - out.len() % LANES;
    for k in 0..out.len() / LANES {
        let j = k * LANES;
        let mut o = lanes(out, j);
        let mut q = lanes(out_sq, j);
        for ((row, &ur), &dr) in rows.iter().zip(&u).zip(&d) {
            let wk = lanes(row, j);
            for l in 0..LANES {
                o[l] += wk[l] * ur;
            }
            for l in 0..LANES {
                q[l] += wk[l] * wk[l] * dr;
            }
        }
        out[j..j + LANES].copy_from_slice(&o);
        out_sq[j..j + LANES].copy_from_slice(&q);
        ahead.step(R * LANES);
    }
    for k in body..out.len() {
        for ((row, &ur), &dr) in rows.iter().zip(&u).zip(&d) {
            let x = row[k];
            out[k] += x * ur;
            out_sq[k] += x * x * dr;
        }
    }
    ahead.step(R * (out.len() - body));
}

/// Columns per panel: [`PANEL`] with an active hook, whole rows without.
#[inline(always)]
fn panel_width<T, P: Prefetch<T>>(cols: usize) -> usize {
    if P::ACTIVE { PANEL } else { cols.max(1) }
}

/// Rows `from..to` of `w` (rows `stride` entries apart), `width` entries of each: from the
/// first entry of row `from` to the last of row `to − 1` (empty if `to ≤ from`).
#[inline(always)]
fn span<T>(w: &[T], stride: usize, width: usize, from: usize, to: usize) -> &[T] {
    if to > from {
        &w[from * stride..(to - 1) * stride + width]
    } else {
        &w[..0]
    }
}

/// The blocks of `w` (`rows` rows `stride` entries apart, of which the kernel reads the first
/// `width`) with their successors: `(first row, rows, block, next block)`.
#[inline(always)]
fn blocks<T, const R: usize>(
    w: &[T],
    rows: usize,
    stride: usize,
    width: usize,
) -> impl Iterator<Item = (usize, usize, &[T], &[T])> {
    let b = block_rows::<T>(width, R);
    (0..rows).step_by(b).map(move |i| {
        let nb = b.min(rows - i);
        let next = span(w, stride, width, i + nb, (i + nb + b).min(rows));
        (i, nb, span(w, stride, width, i, i + nb), next)
    })
}

/// `out = W x`: `w` row-major with `rows · cols` entries, `x`: cols, `out`: rows;
/// `1 ≤ R ≤ MAX_BLOCK` rows per register block. Panics if a length is wrong.
#[inline(always)]
pub fn matvec<T: Real, const R: usize, P: Prefetch<T>>(
    w: &[T],
    rows: usize,
    cols: usize,
    x: &[T],
    out: &mut [T],
    pf: &mut P,
) {
    const { assert!(R > 0 && R <= MAX_BLOCK) };
    assert!(w.len() == rows * cols && x.len() == cols && out.len() == rows);
    let body = cols - cols % LANES;
    for (i, nb, block, next) in blocks::<T, R>(w, rows, cols, cols) {
        let mut ahead = Ahead::new(next, cols, cols, &mut *pf);
        let mut acc = [[T::ZERO; LANES]; MAX_BLOCK];
        let width = panel_width::<T, P>(body);
        for p in (0..body).step_by(width) {
            let n = width.min(body - p);
            let xp = &x[p..][..n];
            let mut r = 0;
            while r + R <= nb {
                let rows = panel::<T, R>(block, cols, r, p, n);
                dot_panel::<T, R, P>(rows, xp, &mut acc[r..], &mut ahead);
                r += R;
            }
            while r < nb {
                let rows = panel::<T, 1>(block, cols, r, p, n);
                dot_panel::<T, 1, P>(rows, xp, &mut acc[r..], &mut ahead);
                r += 1;
            }
        }
        for (r, o) in out[i..i + nb].iter_mut().enumerate() {
            *o = finish(acc[r], &block[r * cols + body..][..cols - body], &x[body..]);
        }
    }
}

/// `out = W x` and `out_sq = (W∘W) s` in one pass: `w` row-major with `rows · cols`
/// entries, `x`, `s`: cols, `out`, `out_sq`: rows; `1 ≤ R ≤ MAX_BLOCK` rows per register
/// block. Panics if a length is wrong.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn matvec_sq<T: Real, const R: usize, P: Prefetch<T>>(
    w: &[T],
    rows: usize,
    cols: usize,
    x: &[T],
    s: &[T],
    out: &mut [T],
    out_sq: &mut [T],
    pf: &mut P,
) {
    const { assert!(R > 0 && R <= MAX_BLOCK) };
    assert!(w.len() == rows * cols && x.len() == cols && s.len() == cols);
    assert!(out.len() == rows && out_sq.len() == rows);
    let body = cols - cols % LANES;
    for (i, nb, block, next) in blocks::<T, R>(w, rows, cols, cols) {
        let mut ahead = Ahead::new(next, cols, cols, &mut *pf);
        let mut acc = [[T::ZERO; LANES]; MAX_BLOCK];
        let mut acc_sq = [[T::ZERO; LANES]; MAX_BLOCK];
        let width = panel_width::<T, P>(body);
        for p in (0..body).step_by(width) {
            let n = width.min(body - p);
            let (xp, sp) = (&x[p..][..n], &s[p..][..n]);
            let mut r = 0;
            while r + R <= nb {
                let rows = panel::<T, R>(block, cols, r, p, n);
                let acc = (&mut acc[r..], &mut acc_sq[r..]);
                dot_sq_panel::<T, R, P>(rows, xp, sp, acc, &mut ahead);
                r += R;
            }
            while r < nb {
                let rows = panel::<T, 1>(block, cols, r, p, n);
                let acc = (&mut acc[r..], &mut acc_sq[r..]);
                dot_sq_panel::<T, 1, P>(rows, xp, sp, acc, &mut ahead);
                r += 1;
            }
        }
        for r in 0..nb {
            let tail = &block[r * cols + body..][..cols - body];
            out[i + r] = finish(acc[r], tail, &x[body..]);
            out_sq[i + r] = finish_sq(acc_sq[r], tail, &s[body..]);
        }
    }
}

/// `out = Wᵀ u`: `w` row-major with `rows · cols` entries, `u`: rows, `out`: cols;
/// `1 ≤ R ≤ MAX_BLOCK` rows added per pass over a panel of `out`. Panics if a length is
/// wrong.
#[inline(always)]
pub fn matvec_t<T: Real, const R: usize, P: Prefetch<T>>(
    w: &[T],
    rows: usize,
    cols: usize,
    u: &[T],
    out: &mut [T],
    pf: &mut P,
) {
    assert!(out.len() == cols);
    matvec_t_cols::<T, R, P>(w, rows, cols, 0, u, out, pf);
}

/// The columns `first..first + out.len()` of `Wᵀ u` into `out`: `w` row-major with
/// `rows · cols` entries, `u`: rows; `1 ≤ R ≤ MAX_BLOCK` rows added per pass over a panel of
/// `out`. Each column is summed over all rows in the [documented order](super#summation-order),
/// so any split of the columns gives the bits of [`matvec_t`]. Panics if a length is wrong or
/// the columns run past `cols`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn matvec_t_cols<T: Real, const R: usize, P: Prefetch<T>>(
    w: &[T],
    rows: usize,
    cols: usize,
    first: usize,
    u: &[T],
    out: &mut [T],
    pf: &mut P,
) {
    const { assert!(R > 0 && R <= MAX_BLOCK) };
    assert!(w.len() == rows * cols && u.len() == rows);
    assert!(first <= cols && out.len() <= cols - first);
    out.fill(T::ZERO);
    let width = out.len();
    if width == 0 {
        return;
    }
    let w = &w[first..];
    for (i, nb, block, next) in blocks::<T, R>(w, rows, cols, width) {
        let mut ahead = Ahead::new(next, width, cols, &mut *pf);
        let u = &u[i..i + nb];
        let pw = panel_width::<T, P>(width);
        for p in (0..width).step_by(pw) {
            let n = pw.min(width - p);
            let op = &mut out[p..][..n];
            let mut r = 0;
            while r + R <= nb {
                let rows = panel::<T, R>(block, cols, r, p, n);
                axpy_panel::<T, R, P>(rows, &u[r..], op, &mut ahead);
                r += R;
            }
            while r < nb {
                let rows = panel::<T, 1>(block, cols, r, p, n);
                axpy_panel::<T, 1, P>(rows, &u[r..], op, &mut ahead);
                r += 1;
            }
        }
    }
}

/// `out = Wᵀ u` and `out_sq = (W∘W)ᵀ d` in one pass: `w` row-major with `rows · cols`
/// entries, `u`, `d`: rows, `out`, `out_sq`: cols; `1 ≤ R ≤ MAX_BLOCK` rows added per pass
/// over a panel of the outputs. Panics if a length is wrong.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn matvec_t_sq<T: Real, const R: usize, P: Prefetch<T>>(
    w: &[T],
    rows: usize,
    cols: usize,
    u: &[T],
    d: &[T],
    out: &mut [T],
    out_sq: &mut [T],
    pf: &mut P,
) {
    assert!(out.len() == cols);
    matvec_t_sq_cols::<T, R, P>(w, rows, cols, 0, (u, d), out, out_sq, pf);
}

/// The columns `first..first + out.len()` of `Wᵀ u` and `(W∘W)ᵀ d` into `out`, `out_sq` in
/// one pass (`u`, `d`: rows; `out_sq` as long as `out`); as [`matvec_t_cols`], any split of
/// the columns gives the bits of [`matvec_t_sq`]. Panics if a length is wrong or the columns
/// run past `cols`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn matvec_t_sq_cols<T: Real, const R: usize, P: Prefetch<T>>(
    w: &[T],
    rows: usize,
    cols: usize,
    first: usize,
    (u, d): (&[T], &[T]),
    out: &mut [T],
    out_sq: &mut [T],
    pf: &mut P,
) {
    const { assert!(R > 0 && R <= MAX_BLOCK) };
    assert!(w.len() == rows * cols && u.len() == rows && d.len() == rows);
    assert!(first <= cols && out.len() <= cols - first && out_sq.len() == out.len());
    out.fill(T::ZERO);
    out_sq.fill(T::ZERO);
    let width = out.len();
    if width == 0 {
        return;
    }
    let w = &w[first..];
    for (i, nb, block, next) in blocks::<T, R>(w, rows, cols, width) {
        let mut ahead = Ahead::new(next, width, cols, &mut *pf);
        let (u, d) = (&u[i..i + nb], &d[i..i + nb]);
        let pw = panel_width::<T, P>(width);
        for p in (0..width).step_by(pw) {
            let n = pw.min(width - p);
            let (op, qp) = (&mut out[p..][..n], &mut out_sq[p..][..n]);
            let mut r = 0;
            while r + R <= nb {
                let rows = panel::<T, R>(block, cols, r, p, n);
                let ud = (&u[r..], &d[r..]);
                axpy_sq_panel::<T, R, P>(rows, ud, (&mut *op, &mut *qp), &mut ahead);
                r += R;
            }
            while r < nb {
                let rows = panel::<T, 1>(block, cols, r, p, n);
                let ud = (&u[r..], &d[r..]);
                axpy_sq_panel::<T, 1, P>(rows, ud, (&mut *op, &mut *qp), &mut ahead);
                r += 1;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::operator::kernel::{self, LANES, NoPrefetch, Prefetch};
    use crate::real::Real;

    /// Entries in [-1, 1) of mixed magnitudes, from a fixed LCG (rounding differences show).
    pub(crate) fn fill<T: Real>(v: &mut [T], seed: u64) {
        let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for e in v {
            z = z
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let m = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            *e = T::c(m * [1.0, 1e-3, 37.0, 0.3][(z >> 5) as usize % 4]);
        }
    }

    pub(crate) fn same<T: Real>(a: T, b: T) -> bool {
        a.to_f64().to_bits() == b.to_f64().to_bits()
    }

    /// Forward row `i` in the module doc's order, written out plainly.
    pub(crate) fn forward_ref<T: Real>(w: &[T], cols: usize, i: usize, x: &[T], square: bool) -> T {
        let term = |j: usize| {
            let wij = w[i * cols + j];
            if square { wij * wij * x[j] } else { wij * x[j] }
        };
        let body = cols - cols % LANES;
        let mut lane = [T::ZERO; LANES];
        for j in 0..body {
            lane[j % LANES] += term(j);
        }
        let mut sum = T::ZERO;
        for l in lane {
            sum += l;
        }
        for j in body..cols {
            sum += term(j);
        }
        sum
    }

    /// Transposed column `j` in the module doc's order.
    pub(crate) fn transposed_ref<T: Real>(
        w: &[T],
        rows: usize,
        cols: usize,
        j: usize,
        u: &[T],
        square: bool,
    ) -> T {
        let mut sum = T::ZERO;
        for i in 0..rows {
            let wij = w[i * cols + j];
            sum += if square { wij * wij * u[i] } else { wij * u[i] };
        }
        sum
    }

    /// Every kernel with `R` rows per block against the plain order, bit for bit.
    fn kernels_follow_the_order<T: Real, const R: usize, P: Prefetch<T>>(
        rows: usize,
        cols: usize,
        np: &mut P,
    ) {
        let mut buf = [T::ZERO; 40 * 40];
        let w = &mut buf[..rows * cols];
        fill(w, (rows * 100 + cols) as u64);
        let w = &*w;
        let (mut x, mut s, mut u, mut d) =
            ([T::ZERO; 40], [T::ZERO; 40], [T::ZERO; 40], [T::ZERO; 40]);
        fill(&mut x, 1);
        fill(&mut s, 2);
        fill(&mut u, 3);
        fill(&mut d, 4);
        let (x, s, u, d) = (&x[..cols], &s[..cols], &u[..rows], &d[..rows]);
        let (mut o1, mut o2, mut q2) = ([T::ZERO; 40], [T::ZERO; 40], [T::ZERO; 40]);
        kernel::matvec::<T, R, _>(w, rows, cols, x, &mut o1[..rows], np);
        kernel::matvec_sq::<T, R, _>(w, rows, cols, x, s, &mut o2[..rows], &mut q2[..rows], np);
        for i in 0..rows {
            let (a, b) = (
                forward_ref(w, cols, i, x, false),
                forward_ref(w, cols, i, s, true),
            );
            assert!(
                same(o1[i], a) && same(o2[i], a),
                "R {R}, {rows}x{cols}, row {i}"
            );
            assert!(same(q2[i], b), "R {R}, {rows}x{cols}, row {i} (square)");
        }
        kernel::matvec_t::<T, R, _>(w, rows, cols, u, &mut o1[..cols], np);
        kernel::matvec_t_sq::<T, R, _>(w, rows, cols, u, d, &mut o2[..cols], &mut q2[..cols], np);
        for j in 0..cols {
            let a = transposed_ref(w, rows, cols, j, u, false);
            let b = transposed_ref(w, rows, cols, j, d, true);
            assert!(
                same(o1[j], a) && same(o2[j], a),
                "R {R}, {rows}x{cols}, col {j}"
            );
            assert!(same(q2[j], b), "R {R}, {rows}x{cols}, col {j} (square)");
        }
    }

    /// An active hook that only counts its calls (the kernels take their hinted loops).
    struct Hints(usize);

    impl<T> Prefetch<T> for Hints {
        fn ahead(&mut self, _next: &[T], _from: usize, _len: usize) {
            self.0 += 1;
        }
    }

    fn all_blocks<T: Real>() {
        // Rows not multiples of the blocks, columns below, at and around multiples of LANES;
        // with and without hints (the transposed loops differ).
        let hints = &mut Hints(0);
        for rows in [1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 40] {
            for cols in [1, 5, 7, 8, 9, 15, 16, 17, 23, 33, 40] {
                kernels_follow_the_order::<T, 1, _>(rows, cols, &mut NoPrefetch);
                kernels_follow_the_order::<T, 2, _>(rows, cols, &mut NoPrefetch);
                kernels_follow_the_order::<T, 3, _>(rows, cols, &mut NoPrefetch);
                kernels_follow_the_order::<T, 4, _>(rows, cols, &mut NoPrefetch);
                kernels_follow_the_order::<T, 8, _>(rows, cols, &mut NoPrefetch);
                kernels_follow_the_order::<T, 1, _>(rows, cols, hints);
                kernels_follow_the_order::<T, 2, _>(rows, cols, hints);
                kernels_follow_the_order::<T, 3, _>(rows, cols, hints);
                kernels_follow_the_order::<T, 4, _>(rows, cols, hints);
                kernels_follow_the_order::<T, 8, _>(rows, cols, hints);
            }
        }
        assert!(hints.0 > 0);
    }

    #[test]
    fn kernels_give_the_documented_bits_for_any_block_f64() {
        all_blocks::<f64>();
    }

    #[test]
    fn kernels_give_the_documented_bits_for_any_block_f32() {
        all_blocks::<f32>();
    }

    /// Records the hints per block: `(start of next in w, its length, entries hinted)`.
    struct Recorder<'a> {
        w: &'a [f64],
        blocks: [(usize, usize, usize); 8],
        n: usize,
    }

    impl Prefetch<f64> for Recorder<'_> {
        fn ahead(&mut self, next: &[f64], from: usize, len: usize) {
            let start = if next.is_empty() {
                self.w.len()
            } else {
                (next.as_ptr() as usize - self.w.as_ptr() as usize) / 8
            };
            if self.n == 0 || self.blocks[self.n - 1].0 != start {
                assert_eq!(
                    from, 0,
                    "a block's hints start at the front of the next block"
                );
                self.blocks[self.n] = (start, next.len(), 0);
                self.n += 1;
            }
            let b = &mut self.blocks[self.n - 1];
            assert_eq!(from, b.2, "each hint continues the previous one");
            b.2 += len;
        }
    }

    #[test]
    fn prefetch_hints_walk_each_next_block_front_to_back() {
        // 150 f64 columns: blocks of 16 rows (the cap), so 40 rows are blocks of 16, 16, 8;
        // one panel, 22 forward steps of LANES columns.
        let (rows, cols) = (40, 150);
        assert_eq!(kernel::block_rows::<f64>(cols, 4), 16);
        let mut w = [0.0f64; 40 * 150];
        fill(&mut w, 5);
        let (x, u) = ([0.5; 150], [0.25; 40]);
        let check = |rec: &Recorder<'_>, per_row: usize| {
            assert_eq!(rec.n, 3);
            // Each block hints the next one in full, as many entries as it reads itself.
            let want = [
                (16 * 150, 16 * 150, 16),
                (32 * 150, 8 * 150, 16),
                (40 * 150, 0, 8),
            ];
            for (b, (start, len, nb)) in rec.blocks[..3].iter().zip(want) {
                assert_eq!((b.0, b.1, b.2), (start, len, nb * per_row));
            }
        };
        let (mut o, mut q, mut o2, mut q2) = ([0.0; 150], [0.0; 150], [0.0; 150], [0.0; 150]);
        let np = &mut NoPrefetch;
        let body = cols - cols % LANES;
        let mut rec = Recorder {
            w: &w,
            blocks: [(0, 0, 0); 8],
            n: 0,
        };
        kernel::matvec_sq::<f64, 4, _>(
            &w,
            rows,
            cols,
            &x,
            &x,
            &mut o[..rows],
            &mut q[..rows],
            &mut rec,
        );
        check(&rec, body);
        kernel::matvec_sq::<f64, 4, _>(
            &w,
            rows,
            cols,
            &x,
            &x,
            &mut o2[..rows],
            &mut q2[..rows],
            np,
        );
        assert_eq!((o, q), (o2, q2));
        let mut rec = Recorder {
            w: &w,
            blocks: [(0, 0, 0); 8],
            n: 0,
        };
        kernel::matvec_t_sq::<f64, 4, _>(&w, rows, cols, &u, &u, &mut o, &mut q, &mut rec);
        check(&rec, cols);
        kernel::matvec_t_sq::<f64, 4, _>(&w, rows, cols, &u, &u, &mut o2, &mut q2, np);
        assert_eq!((o, q), (o2, q2));
    }

    #[test]
    fn blocks_and_panels_keep_the_order() {
        // Several panels (PANEL = 512 columns) and several blocks of rows, with leftovers.
        fn check<T: Real, P: Prefetch<T>>(rows: usize, cols: usize, np: &mut P) {
            let mut buf = [T::ZERO; 21 * 1100];
            let w = &mut buf[..rows * cols];
            fill(w, 11);
            let w = &*w;
            let (mut x, mut s) = ([T::ZERO; 1100], [T::ZERO; 1100]);
            fill(&mut x, 12);
            fill(&mut s, 13);
            let (mut o, mut q) = ([T::ZERO; 1100], [T::ZERO; 1100]);
            let (xs, ss) = (&x[..cols], &s[..cols]);
            kernel::matvec_sq::<T, 3, _>(w, rows, cols, xs, ss, &mut o[..rows], &mut q[..rows], np);
            for (i, (&oi, &qi)) in o[..rows].iter().zip(&q[..rows]).enumerate() {
                assert!(same(oi, forward_ref(w, cols, i, xs, false)));
                assert!(same(qi, forward_ref(w, cols, i, ss, true)));
            }
            kernel::matvec::<T, 2, _>(w, rows, cols, xs, &mut o[..rows], np);
            for (i, &oi) in o[..rows].iter().enumerate() {
                assert!(same(oi, forward_ref(w, cols, i, xs, false)));
            }
            let (us, ds) = (&x[..rows], &s[..rows]);
            kernel::matvec_t_sq::<T, 4, _>(
                w,
                rows,
                cols,
                us,
                ds,
                &mut o[..cols],
                &mut q[..cols],
                np,
            );
            for (j, (&oj, &qj)) in o[..cols].iter().zip(&q[..cols]).enumerate() {
                assert!(same(oj, transposed_ref(w, rows, cols, j, us, false)));
                assert!(same(qj, transposed_ref(w, rows, cols, j, ds, true)));
            }
            kernel::matvec_t::<T, 3, _>(w, rows, cols, us, &mut o[..cols], np);
            for (j, &oj) in o[..cols].iter().enumerate() {
                assert!(same(oj, transposed_ref(w, rows, cols, j, us, false)));
            }
        }
        // 1031 f64 columns (3 panels): blocks of 15 rows for R = 3, 14 for R = 2, 12 for R = 4.
        for (r, c) in [(21, 1031), (17, 1024), (3, 600)] {
            check::<f64, _>(r, c, &mut NoPrefetch);
            check::<f64, _>(r, c, &mut Hints(0));
        }
        check::<f32, _>(21, 1100, &mut NoPrefetch);
        check::<f32, _>(21, 1100, &mut Hints(0));
    }

    #[test]
    fn windows_of_columns_and_ranges_of_rows_give_the_whole_products_bits() {
        // Any split: windows off the lanes and panels, a window of one column, the whole.
        fn check<T: Real, P: Prefetch<T>>(rows: usize, cols: usize, np: &mut P) {
            let mut buf = [T::ZERO; 21 * 1100];
            let w = &mut buf[..rows * cols];
            fill(w, 21);
            let w = &*w;
            let (mut x, mut s) = ([T::ZERO; 1100], [T::ZERO; 1100]);
            fill(&mut x, 22);
            fill(&mut s, 23);
            let (us, ds) = (&x[..rows], &s[..rows]);
            let (xs, ss) = (&x[..cols], &s[..cols]);
            for width in [1, 7, 8, 64, 513, cols] {
                let (mut o, mut o2, mut q2) = ([T::ZERO; 1100], [T::ZERO; 1100], [T::ZERO; 1100]);
                for first in (0..cols).step_by(width) {
                    let n = width.min(cols - first);
                    let o = &mut o[first..][..n];
                    kernel::matvec_t_cols::<T, 4, _>(w, rows, cols, first, us, o, np);
                    let (o2, q2) = (&mut o2[first..][..n], &mut q2[first..][..n]);
                    kernel::matvec_t_sq_cols::<T, 2, _>(w, rows, cols, first, (us, ds), o2, q2, np);
                }
                for j in 0..cols {
                    let a = transposed_ref(w, rows, cols, j, us, false);
                    assert!(
                        same(o[j], a) && same(o2[j], a),
                        "{rows}x{cols} / {width}, col {j}"
                    );
                    let b = transposed_ref(w, rows, cols, j, ds, true);
                    assert!(same(q2[j], b), "{rows}x{cols} / {width}, col {j} (square)");
                }
            }
            for height in [1, 3, 16, rows] {
                let (mut o, mut o2, mut q2) = ([T::ZERO; 21], [T::ZERO; 21], [T::ZERO; 21]);
                for first in (0..rows).step_by(height) {
                    let n = height.min(rows - first);
                    let wp = &w[first * cols..(first + n) * cols];
                    kernel::matvec::<T, 2, _>(wp, n, cols, xs, &mut o[first..][..n], np);
                    let (o2, q2) = (&mut o2[first..][..n], &mut q2[first..][..n]);
                    kernel::matvec_sq::<T, 2, _>(wp, n, cols, xs, ss, o2, q2, np);
                }
                for i in 0..rows {
                    let a = forward_ref(w, cols, i, xs, false);
                    assert!(same(o[i], a) && same(o2[i], a), "{rows}x{cols} / {height}");
                    assert!(same(q2[i], forward_ref(w, cols, i, ss, true)));
                }
            }
        }
        for (r, c) in [(21, 1031), (17, 1024), (3, 600), (20, 9)] {
            check::<f64, _>(r, c, &mut NoPrefetch);
            check::<f64, _>(r, c, &mut Hints(0));
        }
        check::<f32, _>(21, 1100, &mut NoPrefetch);
        check::<f32, _>(21, 1100, &mut Hints(0));
    }

    /// Marks every entry of `w` a hint covers (each call's range clamped to its `next`).
    struct Coverage<'a> {
        w: &'a [f64],
        hit: [u8; 40 * 150],
    }

    impl Prefetch<f64> for Coverage<'_> {
        fn ahead(&mut self, next: &[f64], from: usize, len: usize) {
            if next.is_empty() {
                return;
            }
            let start = (next.as_ptr() as usize - self.w.as_ptr() as usize) / 8;
            for k in from..(from + len).min(next.len()) {
                self.hit[start + k] += 1;
            }
        }
    }

    #[test]
    fn a_window_hints_its_part_of_every_row_after_the_first_block_once() {
        // 150 columns, window 37..100 (63 columns, 504 bytes a row): blocks of 16 rows.
        let (rows, cols, first, width) = (40, 150, 37, 63);
        assert_eq!(kernel::block_rows::<f64>(width, 4), 16);
        let mut w = [0.0f64; 40 * 150];
        fill(&mut w, 6);
        let u = [0.5; 40];
        for sq in [false, true] {
            let mut cov = Coverage {
                w: &w,
                hit: [0; 40 * 150],
            };
            let (mut o, mut q) = ([0.0; 63], [0.0; 63]);
            if sq {
                kernel::matvec_t_sq_cols::<f64, 4, _>(
                    &w,
                    rows,
                    cols,
                    first,
                    (&u, &u),
                    &mut o,
                    &mut q,
                    &mut cov,
                );
            } else {
                kernel::matvec_t_cols::<f64, 4, _>(&w, rows, cols, first, &u, &mut o, &mut cov);
            }
            for i in 0..rows {
                for j in 0..cols {
                    let want = u8::from(i >= 16 && (first..first + width).contains(&j));
                    assert_eq!(cov.hit[i * cols + j], want, "row {i}, col {j}, square {sq}");
                }
            }
        }
    }

    #[test]
    #[should_panic]
    fn kernels_check_lengths() {
        let w = [1.0f64; 6];
        let mut out = [0.0; 2];
        kernel::matvec::<f64, 2, _>(&w, 2, 3, &[1.0; 2], &mut out, &mut NoPrefetch);
    }
}
