//! One ML-AMP iteration on the paper's two-layer sparse regression (eq. 18) at n = 2000, both
//! variances, against a plain read of the weight bytes the iteration must touch (each matrix
//! twice: once forward, once backward). Prints the ratio of the times measured in this run.
//!
//! The iteration runs on the driver's operator ([`FastDense`], one thread). The reference is
//! the fastest of several single-thread reads of the same bytes (SSE2 with 8 partial sums,
//! AVX2 with 16, in the layout's order and in the iteration's), so the ratio is against the
//! best plain read this machine does, not a weak one. Criterion measures each benchmark for
//! seconds, one after the other, and on a shared machine the memory bandwidth drifts between
//! them; so the bench also prints the ratio from rounds that time the reads and steps of each
//! mode back to back.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;

mod common;
use common::mean_ns;
use mlamp::algo::amp::{amp_layers, operators};
use mlamp::core::ml_amp::{LayerState, MlAmp, VarianceMode};
use mlamp::{Instance, Model};

const N: usize = 2000;

/// The criterion group of these benches.
const GROUP: &str = "ml_amp_n2000";

/// Rounds of the interleaved comparison.
const INTERLEAVED_ROUNDS: usize = 30;

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

/// The reads of the reference, by criterion id: each reads every matrix twice.
const READS: [&str; 3] = [
    "read_weights_twice_sse2",
    "read_weights_twice_avx2",
    "read_weights_twice_avx2_iteration_order",
];

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

/// Every matrix read twice with `read`: in the layout's order (`W_0, W_1, W_0, W_1`) or the
/// iteration's (the last layer first, each matrix twice in a row, in case the cache keeps part
/// of a matrix between its two reads).
fn read_twice(weights: &[Vec<f64>], read: fn(&[f64]) -> f64, iteration_order: bool) -> f64 {
    let mut s = 0.0;
    if iteration_order {
        for w in weights.iter().rev() {
            s += read(black_box(w));
            s += read(black_box(w));
        }
    } else {
        for _ in 0..2 {
            for w in weights {
                s += read(black_box(w));
            }
        }
    }
    s
}

/// One read of the reference: criterion id, the read of one matrix, the iteration's order.
type Read = (&'static str, fn(&[f64]) -> f64, bool);

/// The reads of the reference this machine runs.
fn reads() -> Vec<Read> {
    let mut v: Vec<Read> = vec![(READS[0], read_baseline, false)];
    if has_avx2() {
        v.push((READS[1], read_wide, false));
        v.push((READS[2], read_wide, true));
    }
    v
}

/// Runs the criterion benchmarks, then the interleaved comparison: rounds of each read
/// followed by steps of each mode (one to warm the state, two timed), so that reads and steps
/// see the same state of a shared machine. Returns, per mode, the median over rounds of step
/// time / time of the read just before, for the read whose median time is the smallest.
fn benches(c: &mut Criterion) -> Vec<(&'static str, f64)> {
    let model = Model::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/models/sparse_regression.toml"
    ))
    .expect("model");
    let inst = Instance::sample(&model, N, 1).expect("instance");
    let ops = operators(&inst).expect("operators");
    println!("kernel path: {:?}", ops[0].path());
    let layers = amp_layers(&model, &ops).unwrap();
    let moments = model.moments().unwrap();
    let mut runs: Vec<(&'static str, MlAmp<'_, f64>, Vec<f64>)> = [
        ("iteration_full", VarianceMode::Full),
        ("iteration_mean", VarianceMode::Mean),
    ]
    .into_iter()
    .map(|(name, mode)| {
        let amp = MlAmp::new(model.prior.as_ref(), &layers, inst.observation(), mode).unwrap();
        let mut buf = vec![0.0; amp.state_len()];
        amp.initialise(&mut carve(&mut buf, &inst.sizes), &moments)
            .unwrap();
        (name, amp, buf)
    })
    .collect();

    let mut g = c.benchmark_group(GROUP);
    g.sample_size(30);
    for (name, amp, buf) in &mut runs {
        let mut state = carve(buf, &inst.sizes);
        g.bench_function(*name, |b| {
            b.iter(|| black_box(amp.step(&mut state, 0.8).unwrap()))
        });
    }
    for (id, read, order) in reads() {
        g.bench_function(id, |b| {
            b.iter(|| black_box(read_twice(&inst.weights, read, order)))
        });
    }
    g.finish();

    // Per round and per read: the read, then a step of each mode, each step timed against the
    // read just before it; the reference is the read with the smallest median time.
    let reads = reads();
    let mut read_times = vec![Vec::new(); reads.len()];
    let mut ratios = vec![vec![Vec::new(); runs.len()]; reads.len()];
    for _ in 0..INTERLEAVED_ROUNDS {
        for (v, &(_, read, order)) in reads.iter().enumerate() {
            let t = Instant::now();
            black_box(read_twice(&inst.weights, read, order));
            let t_read = t.elapsed().as_secs_f64();
            read_times[v].push(t_read);
            for ((_, amp, buf), r) in runs.iter_mut().zip(&mut ratios[v]) {
                let mut state = carve(buf, &inst.sizes);
                // One step to warm the state vectors (as in a run), then two timed.
                black_box(amp.step(&mut state, 0.8).unwrap());
                let t = Instant::now();
                for _ in 0..2 {
                    black_box(amp.step(&mut state, 0.8).unwrap());
                }
                r.push(t.elapsed().as_secs_f64() / 2.0 / t_read);
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let fastest = (0..reads.len())
        .min_by(|&a, &b| median(read_times[a].clone()).total_cmp(&median(read_times[b].clone())))
        .unwrap();
    runs.iter()
        .zip(ratios.swap_remove(fastest))
        .map(|((name, ..), r)| (*name, median(r)))
        .collect()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let interleaved = benches(&mut c);
    c.final_summary();
    // The reference: the fastest read measured in this run.
    let reads: Vec<(&str, f64)> = READS
        .iter()
        .filter(|id| has_avx2() || !id.contains("avx2"))
        .filter_map(|&id| Some((id, mean_ns(GROUP, id)?)))
        .collect();
    for (id, t) in &reads {
        println!("{id}: {:.2} ms", t / 1e6);
    }
    if let Some(&(read_id, read)) = reads.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
        for id in ["iteration_full", "iteration_mean"] {
            if let Some(t) = mean_ns(GROUP, id) {
                println!(
                    "{id}: {:.2} ms = {:.2} x the read of its weight bytes ({:.2} ms, {read_id})",
                    t / 1e6,
                    t / read,
                    read / 1e6
                );
            }
        }
    }
    // The same ratio with each step timed right after the reads (robust to the drift of a
    // shared machine's memory bandwidth between criterion's separate measurements).
    for (id, r) in interleaved {
        println!(
            "{id}: {r:.2} x the fastest read, interleaved (median of {INTERLEAVED_ROUNDS} rounds)"
        );
    }
}
