//! One ML-AMP iteration on the paper's two-layer sparse regression (eq. 18), both variances, on
//! 1 and 2 threads, against plain reads of the weight bytes the iteration must touch (each
//! matrix twice: once forward, once backward) on one thread and on all cores (each thread
//! reading its own contiguous part of every matrix). Prints the ratios of times measured in
//! this run.
//!
//! The iteration runs on the driver's operator ([`FastDense`](mlamp::linalg::dense::FastDense),
//! its products split among the threads of rayon's pool). A read is the fastest of two (SSE2
//! with 8 partial sums, AVX2 with 16), so the ratio is against the best plain read this
//! machine does, not a weak one. Criterion measures n = 2000, each benchmark for seconds, one
//! after the other; on a shared machine the memory bandwidth drifts between them, so the bench
//! then times rounds of every read and step back to back, at n = 2000 and n = 8000 (0.92 GB of
//! weights, 1.84 GB read per iteration), and prints the medians over rounds of the times and
//! of the ratios within a round. `ML_AMP_BENCH_N=2000` runs the rounds at n = 2000 only.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use rayon::ThreadPool;
use rayon::prelude::*;

mod common;
use common::mean_ns;
use mlamp::algo::amp::{amp_layers, operators};
use mlamp::core::ml_amp::{LayerState, MlAmp, VarianceMode};
use mlamp::linalg::dense::FastDense;
use mlamp::{Instance, Model};

/// The criterion group of these benches (n = 2000).
const GROUP: &str = "ml_amp_n2000";

/// Thread counts of the iteration.
const THREADS: [usize; 2] = [1, 2];

/// Σ w over a slice with `L` partial sums (what a vectorised streaming read does).
#[inline(always)]
fn read_sum<const L: usize>(w: &[f64]) -> f64 {
    let mut acc = [0.0f64; L];
    for c in w.chunks_exact(L) {
        for l in 0..L {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f64>() + w.chunks_exact(L).remainder().iter().sum::<f64>()
}

/// [`read_sum`] with 8 partial sums on the build's baseline (SSE2 on x86-64).
fn read_baseline(w: &[f64]) -> f64 {
    read_sum::<8>(w)
}

/// [`read_sum`] with 16 partial sums (4 ymm registers) compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn read_avx2(w: &[f64]) -> f64 {
    read_sum::<16>(w)
}

/// Whether the AVX2 reads can run.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The AVX2 read (only called when [`has_avx2`]).
fn read_wide(w: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        assert!(has_avx2());
        // SAFETY: the CPU has AVX2 (checked above).
        unsafe { read_avx2(w) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    read_baseline(w)
}

/// A plain read: its name and the read of one slice.
type Read = (&'static str, fn(&[f64]) -> f64);

/// The plain reads this machine runs.
fn reads() -> Vec<Read> {
    let mut v: Vec<Read> = vec![("sse2", read_baseline)];
    if has_avx2() {
        v.push(("avx2", read_wide));
    }
    v
}

/// Every matrix read twice with `read`, each split into `parts` contiguous parts read in
/// parallel on the current pool (one part: the calling thread reads it all).
fn read_twice(weights: &[Vec<f64>], read: fn(&[f64]) -> f64, parts: usize) -> f64 {
    let mut s = 0.0;
    for _ in 0..2 {
        for w in weights {
            s += if parts == 1 {
                read(black_box(w))
            } else {
                w.par_chunks(w.len().div_ceil(parts))
                    .with_max_len(1)
                    .map(|p| read(black_box(p)))
                    .sum::<f64>()
            };
        }
    }
    s
}

/// The state of one run of the iteration, carved from `buf`.
fn carve<'b>(buf: &'b mut [f64], sizes: &[usize]) -> Vec<LayerState<'b, f64>> {
    let mut state = Vec::new();
    let mut rest = buf;
    for k in 0..sizes.len() - 1 {
        let (st, r) = LayerState::carve(rest, sizes[k + 1], sizes[k]).unwrap();
        state.push(st);
        rest = r;
    }
    state
}

/// A thread pool of `threads` threads.
fn pool(threads: usize) -> ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// The median of `v`.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The eq. 18 model and an instance of size `n`.
fn instance(n: usize) -> (Model, Instance) {
    let model = Model::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/models/sparse_regression.toml"
    ))
    .expect("model");
    let inst = Instance::sample(&model, n, 1).expect("instance");
    (model, inst)
}

/// The variants of the iteration.
const MODES: [(&str, VarianceMode); 2] =
    [("full", VarianceMode::Full), ("mean", VarianceMode::Mean)];

/// The iteration's weight operators and an initialised state per variant.
struct Setup<'a> {
    model: &'a Model,
    inst: &'a Instance,
    ops: Vec<FastDense<'a, f64>>,
    bufs: Vec<Vec<f64>>,
}

impl<'a> Setup<'a> {
    fn new(model: &'a Model, inst: &'a Instance) -> Self {
        let ops = operators(inst).expect("operators");
        let moments = model.moments().unwrap();
        let bufs = {
            let layers = amp_layers(model, &ops).unwrap();
            MODES
                .iter()
                .map(|&(_, mode)| {
                    let amp = MlAmp::new(model.prior.as_ref(), &layers, inst.observation(), mode)
                        .unwrap();
                    let mut buf = vec![0.0; amp.state_len()];
                    amp.initialise(&mut carve(&mut buf, &inst.sizes), &moments)
                        .unwrap();
                    buf
                })
                .collect()
        };
        Self {
            model,
            inst,
            ops,
            bufs,
        }
    }

    /// Runs `f` with variant `v`'s iteration and state on pool `p` (the iteration, which
    /// borrows its operators as trait objects, is built on the pool's thread).
    fn on<R: Send>(
        &mut self,
        p: &ThreadPool,
        v: usize,
        f: impl FnOnce(&MlAmp<'_, f64>, &mut [LayerState<'_, f64>]) -> R + Send,
    ) -> R {
        let (model, inst, ops) = (self.model, self.inst, &self.ops);
        let buf = &mut self.bufs[v];
        p.install(|| {
            let layers = amp_layers(model, ops).unwrap();
            let amp = MlAmp::new(
                model.prior.as_ref(),
                &layers,
                inst.observation(),
                MODES[v].1,
            )
            .unwrap();
            f(&amp, &mut carve(buf, &inst.sizes))
        })
    }
}

/// Criterion at n = 2000: the iteration of each variant on 1 and 2 threads, and the fastest
/// read on one thread and on all cores.
fn criterion_benches(c: &mut Criterion, all: usize) {
    let (model, inst) = instance(2000);
    let mut setup = Setup::new(&model, &inst);
    println!("kernel path: {:?}", setup.ops[0].path());
    let mut g = c.benchmark_group(GROUP);
    g.sample_size(20);
    for t in THREADS {
        let p = pool(t);
        for (v, (name, _)) in MODES.iter().enumerate() {
            g.bench_function(format!("iteration_{name}_{t}t"), |b| {
                setup.on(&p, v, |amp, state| {
                    b.iter(|| black_box(amp.step(state, 0.8).unwrap()))
                })
            });
        }
    }
    for (parts, id) in [(1, "read_1t"), (all, "read_all")] {
        let p = pool(parts);
        for (name, read) in reads() {
            g.bench_function(format!("{id}_{name}"), |b| {
                p.install(|| b.iter(|| black_box(read_twice(&inst.weights, read, parts))))
            });
        }
    }
    g.finish();
}

/// Prints criterion's means at n = 2000 and their ratios to the fastest reads.
fn criterion_summary() {
    let fastest = |id: &str| {
        reads()
            .iter()
            .filter_map(|(name, _)| mean_ns(GROUP, &format!("{id}_{name}")))
            .min_by(f64::total_cmp)
    };
    let (Some(read_1t), Some(read_all)) = (fastest("read_1t"), fastest("read_all")) else {
        return;
    };
    println!(
        "criterion, n = 2000: read of the weight bytes {:.2} ms on 1 thread, {:.2} ms on all cores",
        read_1t / 1e6,
        read_all / 1e6
    );
    for name in ["full", "mean"] {
        for t in THREADS {
            if let Some(s) = mean_ns(GROUP, &format!("iteration_{name}_{t}t")) {
                println!(
                    "criterion, n = 2000: iteration_{name} on {t} thread(s) {:.2} ms = {:.2} x the \
                     all-core read, {:.2} x the 1-thread read",
                    s / 1e6,
                    s / read_all,
                    s / read_1t
                );
            }
        }
    }
}

/// Rounds at `n`: in each, every read on one thread and on all cores, then a step of each
/// variant on each thread count (one to warm the state, two timed). Prints medians over rounds
/// of the times and of the ratios within a round.
fn rounds(n: usize, rounds: usize, all: usize) {
    let (model, inst) = instance(n);
    let mut setup = Setup::new(&model, &inst);
    let pools: Vec<ThreadPool> = THREADS.iter().map(|&t| pool(t)).collect();
    let all_pool = pool(all);
    let reads = reads();
    // Per round: the fastest read on 1 thread and on all cores, and the step times.
    let (mut read_1t, mut read_all) = (Vec::new(), Vec::new());
    let mut steps = vec![vec![Vec::new(); THREADS.len()]; MODES.len()];
    for _ in 0..rounds {
        let time_read = |parts: usize, p: &ThreadPool| {
            reads
                .iter()
                .map(|&(_, read)| {
                    p.install(|| {
                        let t = Instant::now();
                        black_box(read_twice(&inst.weights, read, parts));
                        t.elapsed().as_secs_f64()
                    })
                })
                .fold(f64::INFINITY, f64::min)
        };
        read_1t.push(time_read(1, &pools[0]));
        read_all.push(time_read(all, &all_pool));
        for (v, per_t) in steps.iter_mut().enumerate() {
            for (p, times) in pools.iter().zip(per_t.iter_mut()) {
                times.push(setup.on(p, v, |amp, state| {
                    // One step to warm the state vectors (as in a run), then two timed.
                    black_box(amp.step(state, 0.8).unwrap());
                    let t = Instant::now();
                    for _ in 0..2 {
                        black_box(amp.step(state, 0.8).unwrap());
                    }
                    t.elapsed().as_secs_f64() / 2.0
                }));
            }
        }
    }
    let ratio = |a: &[f64], b: &[f64]| median(a.iter().zip(b).map(|(x, y)| x / y).collect());
    let ms = |v: &[f64]| median(v.to_vec()) * 1e3;
    let gb = 2.0 * inst.weights.iter().map(Vec::len).sum::<usize>() as f64 * 8.0 / 1e9;
    println!(
        "n = {n} ({gb:.3} GB read per iteration), medians of {rounds} rounds: read {:.2} ms on \
         1 thread ({:.1} GB/s), {:.2} ms on {all} threads ({:.1} GB/s)",
        ms(&read_1t),
        gb / (ms(&read_1t) / 1e3),
        ms(&read_all),
        gb / (ms(&read_all) / 1e3)
    );
    for ((name, _), per_t) in MODES.iter().zip(&steps) {
        for (t, times) in THREADS.iter().zip(per_t) {
            println!(
                "n = {n}: iteration_{name} on {t} thread(s) {:.2} ms = {:.2} x the all-core \
                 read, {:.2} x the 1-thread read",
                ms(times),
                ratio(times, &read_all),
                ratio(times, &read_1t)
            );
        }
        println!(
            "n = {n}: iteration_{name}: 1 thread / {} threads = {:.2}",
            THREADS[1],
            ratio(&per_t[0], &per_t[1])
        );
    }
}

fn main() {
    let all = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, all);
    c.final_summary();
    criterion_summary();
    let only = std::env::var("ML_AMP_BENCH_N").ok();
    for (n, k) in [(2000, 30), (8000, 10)] {
        if only.as_deref().is_none_or(|s| s == n.to_string()) {
            rounds(n, k, all);
        }
    }
}
