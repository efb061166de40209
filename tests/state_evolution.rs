//! The state evolution (SE) of ML-AMP and its replica free energy φ_RS (ML-AMP paper (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear estimation*),
//! eqs. 10–17), checked against references that do not come from `mlamp::se`:
//! - literature thresholds of the binary perceptron;
//! - the scalar potential of single-layer compressed sensing, written here from scratch
//!   (its own Gauss–Bernoulli MMSE by quadrature and the I-MMSE relation);
//! - closed forms derived below from random-matrix theory for Gaussian models, and finite-n
//!   linear algebra (nalgebra) on sampled weights;
//! - stationarity of φ_RS, with φ(m, m̂) reassembled here from eq. 15;
//! - ML-AMP itself on sampled instances of the paper's three models.
//!
//! Our layers run from the signal to the observation; `alpha` of a layer is outputs / inputs
//! and its weights are iid N(0, 1/inputs) (see `/work/shared/notes/conventions.md`).

use rand_core::{Rng as _, SeedableRng};
use rand_xoshiro::SplitMix64;
use std::sync::OnceLock;

use mlamp::core::quadrature::GaussHermite;
use mlamp::core::se::SeQuadrature;
use mlamp::experiments::phase::scan;
use mlamp::se::branches::mse_coincide;
use mlamp::se::{FixedPoint, SE_HERMITE_POINTS, SeOptions, Start, StartCode, StateEvolution};
use mlamp::{AmpOptions, Instance, Model, run_ml_amp};
use nalgebra::DMatrix;

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

fn model(text: &str) -> Model {
    Model::from_toml(text).expect("valid model")
}

fn state_evolution(m: &Model) -> StateEvolution<'_> {
    StateEvolution::new(m, SeOptions::default()).expect("a d = 1 model")
}

fn shipped(name: &str) -> String {
    let path = format!("{}/examples/models/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `text` with the alpha of layer `k` (0-based from the signal: the k-th `alpha =` line) set to
/// `alpha`.
fn with_alpha(text: &str, k: usize, alpha: f64) -> String {
    let mut seen = 0;
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("alpha") && line.contains('=') {
            if seen == k {
                out += &format!("alpha = {alpha:?}\n");
                seen += 1;
                continue;
            }
            seen += 1;
        }
        out += line;
        out += "\n";
    }
    assert!(seen > k, "no layer {k} in\n{text}");
    out
}

/// A stack of linear layers `(alpha, noise_var)` on the prior table `prior`.
fn linear_stack(prior: &str, layers: &[(f64, f64)]) -> String {
    let mut t = format!("[prior]\n{prior}\n");
    for (a, d) in layers {
        t += &format!(
            "[[layers]]\nalpha = {a:?}\nchannel = {{ type = \"linear\", noise_var = {d:?} }}\n"
        );
    }
    t
}

const GAUSSIAN: &str = "type = \"gaussian\"";
const GB03: &str = "type = \"gauss-bernoulli\"\nrho = 0.3";

// ---------------------------------------------------------------------------------------------
// Numerics of the references (independent of the library)
// ---------------------------------------------------------------------------------------------

/// Gauss–Legendre nodes and weights on [0, 1] (Newton on the Legendre recurrence).
fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut dp = 1.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let dx = p1 / dp;
                x -= dx;
                if dx.abs() < 1e-16 {
                    break;
                }
            }
            ((1.0 + x) / 2.0, 1.0 / ((1.0 - x * x) * dp * dp))
        })
        .collect()
}

/// ∫₀¹ f(t) dt on geometric panels [2⁻ᵏ⁻¹, 2⁻ᵏ] (and [0, 2⁻⁴⁰]), 32 Gauss–Legendre points
/// each: exact to round-off for integrands analytic on (0, 1] with a limit at 0.
fn integrate_unit(f: impl Fn(f64) -> f64) -> f64 {
    let gl = gauss_legendre(32);
    let mut total = 0.0;
    let mut hi = 1.0_f64;
    for k in 0..=40 {
        let lo = if k == 40 { 0.0 } else { hi / 2.0 };
        total += gl
            .iter()
            .map(|&(t, w)| w * (hi - lo) * f(lo + (hi - lo) * t))
            .sum::<f64>();
        hi = lo;
    }
    total
}

/// Composite Simpson's rule for ∫ₐᵇ f with `n` (even) intervals.
fn simpson(a: f64, b: f64, n: usize, f: impl Fn(f64) -> f64) -> f64 {
    let h = (b - a) / n as f64;
    let mut s = f(a) + f(b);
    for i in 1..n {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(a + h * i as f64);
    }
    s * h / 3.0
}

/// E f(u), u ~ N(0, 1), by Simpson's rule in t with u = c sinh t: resolves features from
/// |u| ~ 1e-9 to the tails alike.
fn normal_expect(f: impl Fn(f64) -> f64) -> f64 {
    let c = 1e-9_f64;
    let t_max = (12.0 / c).asinh();
    simpson(-t_max, t_max, 3000, |t| {
        let u = c * t.sinh();
        f(u) * (-0.5 * u * u).exp() * c * t.cosh() / (2.0 * std::f64::consts::PI).sqrt()
    })
}

/// A small seeded generator of standard normals (rand_xoshiro's SplitMix64 and Box–Muller),
/// for the weights of the finite-n references.
struct Normals {
    rng: SplitMix64,
    spare: Option<f64>,
}

impl Normals {
    fn new(seed: u64) -> Self {
        Self {
            rng: SplitMix64::seed_from_u64(
                seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03,
            ),
            spare: None,
        }
    }

    fn uniform(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn next(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let th = 2.0 * std::f64::consts::PI * v;
        self.spare = Some(r * th.sin());
        r * th.cos()
    }

    /// A `rows × cols` matrix with iid N(0, 1/cols) entries.
    fn weights(&mut self, rows: usize, cols: usize) -> DMatrix<f64> {
        let s = 1.0 / (cols as f64).sqrt();
        DMatrix::from_fn(rows, cols, |_, _| s * self.next())
    }
}

/// `n_{k+1} = round(alpha_k n_k)` from `n_0`.
fn sizes(n0: usize, layers: &[(f64, f64)]) -> Vec<usize> {
    let mut n = vec![n0];
    for (a, _) in layers {
        n.push((a * *n.last().unwrap() as f64).round() as usize);
    }
    n
}

/// Covariance of `h_L = y` for x ~ N(0, I) through linear Gaussian layers `(alpha, Δ)`:
/// `Σ_{k+1} = W_k Σ_k W_kᵀ + Δ_k I`; also returns the product `W_{L−1} ⋯ W_0`.
fn gaussian_chain(
    n0: usize,
    layers: &[(f64, f64)],
    rng: &mut Normals,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let n = sizes(n0, layers);
    let mut cov = DMatrix::<f64>::identity(n0, n0);
    let mut prod = DMatrix::<f64>::identity(n0, n0);
    for (k, &(_, d)) in layers.iter().enumerate() {
        let w = rng.weights(n[k + 1], n[k]);
        cov = &w * cov * w.transpose() + DMatrix::<f64>::identity(n[k + 1], n[k + 1]) * d;
        prod = &w * prod;
    }
    (cov, prod)
}

// ---------------------------------------------------------------------------------------------
// Closed forms for Gaussian models (derived here; see `gaussian_*` tests)
// ---------------------------------------------------------------------------------------------

/// MMSE of x ~ N(0, I_n) from y = W x + N(0, Δ I_m), W m × n iid N(0, 1/n), α = m/n, as
/// n → ∞: the positive root of mse² + (Δ + α − 1) mse − Δ = 0.
///
/// Derivation: mse = (1/n) tr (I + WᵀW/Δ)⁻¹ = Δ g(−Δ), with g(z) = (1/n) tr (WᵀW − z)⁻¹.
/// WᵀW is a sum of m rank-one terms w wᵀ, w ~ N(0, I/n), so by Marchenko–Pastur
/// g = 1/(−z + α/(1 + g)). With g = mse/Δ at z = −Δ: mse = 1/(1 + α/(Δ + mse)), i.e. the
/// quadratic above.
fn mse_one(alpha: f64, delta: f64) -> f64 {
    let b = delta + alpha - 1.0;
    let r = (b * b + 4.0 * delta).sqrt();
    if b > 0.0 {
        2.0 * delta / (b + r)
    } else {
        0.5 * (r - b)
    }
}

/// MMSE of x ~ N(0, I_{n0}) through two linear layers, h = W1 x + N(0, Δ1), y = W2 h +
/// N(0, Δ2) (W1 n1 × n0, W2 n2 × n1, α1 = n1/n0, α2 = n2/n1), as n → ∞.
///
/// Derivation: integrating h out, y | x ~ N(W2 W1 x, N) with N = Δ1 W2W2ᵀ + Δ2 I, so the
/// posterior precision of x is I + W1ᵀ D W1 with D = W2ᵀ N⁻¹ W2 = f(W2ᵀW2),
/// f(μ) = μ/(Δ2 + Δ1 μ) (push-through identity). D is independent of W1, whose rows are
/// iid N(0, I/n0) in D's eigenbasis, so (Silverstein) q = (1/n0) tr (I + W1ᵀDW1)⁻¹ solves
/// q = 1/(1 + α1 E[d/(1 + d q)]). With d = f(μ):
/// d/(1 + dq) = μ/(Δ2 + (Δ1 + q) μ) and
/// E[μ/(Δ2 + (Δ1 + q)μ)] = (1 − s E[1/(μ + s)])/(Δ1 + q), s = Δ2/(Δ1 + q), where
/// s E[1/(μ + s)] is `mse_one(α2, s)` (μ the spectrum of W2ᵀW2). Hence
/// q = 1/(1 + α1 (1 − mse_one(α2, Δ2/(Δ1 + q)))/(Δ1 + q)), solved by bisection.
fn mse_two(a1: f64, a2: f64, d1: f64, d2: f64) -> f64 {
    let map = |q: f64| {
        let psi = mse_one(a2, d2 / (d1 + q));
        1.0 / (1.0 + a1 * (1.0 - psi) / (d1 + q))
    };
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid - map(mid) > 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

/// lim (1/n) log det(Δ I_m + W Wᵀ), W m × n iid N(0, 1/n), α = m/n. With
/// G(s) = (1/n) log det(Δ I + s W Wᵀ): G(0) = α ln Δ and
/// G'(s) = (1/s)(1 − (1/n) tr (I + (s/Δ) WᵀW)⁻¹) = (1 − mse_one(α, Δ/s))/s.
fn log_det_one(alpha: f64, delta: f64) -> f64 {
    alpha * delta.ln() + integrate_unit(|t| (1.0 - mse_one(alpha, delta / t)) / t)
}

/// −(1/n0) E log P(y) (the free energy of eq. 14, normalised by the signal's size) for one
/// linear layer: y ~ N(0, C), C = WWᵀ + ΔI, E yᵀC⁻¹y = m, so it is
/// (α/2)(ln 2π + 1) + ½ (1/n) log det C.
fn free_energy_one(alpha: f64, delta: f64) -> f64 {
    0.5 * alpha * ((2.0 * std::f64::consts::PI).ln() + 1.0) + 0.5 * log_det_one(alpha, delta)
}

/// The same for two linear layers, C = W2(W1W1ᵀ + Δ1 I)W2ᵀ + Δ2 I. Scaling the prior's
/// variance by t: L(t) = (1/n0) log det C(t) has L'(t) = (1 − mse_two(α1, α2, Δ1/t, Δ2/t))/t
/// (the MMSE of the unit-variance signal with both noises divided by t), and
/// L(0) = (1/n0) log det(Δ1 W2W2ᵀ + Δ2 I) = α1 × [α2 ln Δ2 + ∫₀¹ (1 − mse_one(α2, Δ2/(Δ1 t)))/t dt].
fn free_energy_two(a1: f64, a2: f64, d1: f64, d2: f64) -> f64 {
    let l0 = a1 * (a2 * d2.ln() + integrate_unit(|t| (1.0 - mse_one(a2, d2 / (d1 * t))) / t));
    let l1 = l0 + integrate_unit(|t| (1.0 - mse_two(a1, a2, d1 / t, d2 / t)) / t);
    0.5 * a1 * a2 * ((2.0 * std::f64::consts::PI).ln() + 1.0) + 0.5 * l1
}

// ---------------------------------------------------------------------------------------------
// 1. The binary perceptron
// ---------------------------------------------------------------------------------------------

/// L = 1, x ±1, y = sign(W x): the teacher-student binary perceptron. Literature:
/// α_IT = 1.245 (Györgyi 1990; Barbier et al., PNAS 2019: 1.249), AMP's α_alg = 1.493.
#[test]
fn binary_perceptron_thresholds_match_the_literature() {
    let m = model(
        "[prior]\ntype = \"binary\"\n\
         [[layers]]\nalpha = 1.0\nchannel = { type = \"sign\", noise_var = 0.0 }\n",
    );
    let curve = scan(&state_evolution(&m), 0, 1.0, 2.0, 11, &|| {}).unwrap();
    let alg = curve
        .thresholds
        .alpha_alg
        .expect("an algorithmic threshold in [1, 2]");
    let it = curve
        .thresholds
        .alpha_it
        .expect("an IT threshold in [1, 2]");
    eprintln!(
        "binary perceptron: alpha_alg = {alg:.4} (literature 1.493), \
         alpha_IT = {it:.4} (Györgyi 1.245, Barbier et al. 1.249)"
    );
    assert!((alg - 1.493).abs() <= 0.003, "alpha_alg = {alg}");
    assert!((it - 1.245).abs() <= 0.005, "alpha_IT = {it}");
}

// ---------------------------------------------------------------------------------------------
// 2. Single-layer Gauss–Bernoulli compressed sensing, against its scalar potential
// ---------------------------------------------------------------------------------------------

/// The scalar channel y = √s x + z of x ~ (1 − ρ) δ₀ + ρ N(0, 1), written from scratch.
struct GaussBernoulliScalar {
    rho: f64,
}

impl GaussBernoulliScalar {
    /// mmse(s) = E Var(x | y), with Var(x|y) = π/(1 + s) + π(1 − π) (√s y/(1 + s))², π the
    /// posterior probability that x ≠ 0 (a sum of non-negative terms: accurate when small).
    fn mmse(&self, s: f64) -> f64 {
        let rho = self.rho;
        let log_odds = (rho / (1.0 - rho)).ln() - 0.5 * (1.0 + s).ln();
        let k = s / (1.0 + s);
        let var_post = |y: f64| {
            let l = log_odds + 0.5 * y * y * k;
            let e = (-l.abs()).exp();
            let pi = if l >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            let pq = e / ((1.0 + e) * (1.0 + e));
            let m1 = s.sqrt() * y / (1.0 + s);
            pi / (1.0 + s) + pq * m1 * m1
        };
        let sd1 = (1.0 + s).sqrt();
        (1.0 - rho) * normal_expect(var_post) + rho * normal_expect(|u| var_post(sd1 * u))
    }

    /// The fixed point of E ← mmse(α/(Δ + E)) reached from `e0` (the SE of one linear layer).
    fn se(&self, alpha: f64, delta: f64, e0: f64) -> f64 {
        let mut e = e0;
        for _ in 0..100_000 {
            let next = self.mmse(alpha / (delta + e));
            if (next - e).abs() <= 1e-13 * self.rho {
                return next;
            }
            e = next;
        }
        panic!("scalar SE did not converge at alpha = {alpha}");
    }

    /// AMP's threshold: the fixed points at α are the s with α = s (Δ + mmse(s)); the
    /// uninformative one disappears at the first local maximum of that curve.
    fn alpha_alg(&self, delta: f64) -> f64 {
        let a = |v: f64| v.exp() * (delta + self.mmse(v.exp()));
        let grid: Vec<f64> = (0..=400).map(|i| -1.0 + 17.0 * i as f64 / 400.0).collect();
        let vals: Vec<f64> = grid.iter().map(|&v| a(v)).collect();
        let i = (1..grid.len() - 1)
            .find(|&i| vals[i] >= vals[i - 1] && vals[i] >= vals[i + 1])
            .expect("a local maximum");
        // Golden section on [grid[i−1], grid[i+1]].
        let (mut lo, mut hi) = (grid[i - 1], grid[i + 1]);
        let g = (5f64.sqrt() - 1.0) / 2.0;
        while hi - lo > 1e-9 {
            let (x1, x2) = (hi - g * (hi - lo), lo + g * (hi - lo));
            if a(x1) > a(x2) {
                hi = x2;
            } else {
                lo = x1;
            }
        }
        a(0.5 * (lo + hi))
    }

    /// Φ(E_amp) − Φ(E_inf) for the potential (mutual information per entry, up to a
    /// constant) Φ(E) = I(α/(Δ + E)) + (α/2)[ln(1 + E/Δ) − E/(Δ + E)], whose stationary points
    /// are the SE fixed points (dΦ/dE = (α/2)(E − mmse)/(Δ + E)²); I(s) − I(s') =
    /// ½ ∫_{s'}^{s} mmse (I-MMSE). `None` when both starts reach the same fixed point.
    fn potential_gap(&self, alpha: f64, delta: f64) -> Option<f64> {
        let ea = self.se(alpha, delta, self.rho);
        let ei = self.se(alpha, delta, 1e-12 * self.rho);
        if (ea - ei).abs() <= 1e-6 * self.rho + 1e-3 * ea.min(ei) {
            return None;
        }
        let (sa, si) = (alpha / (delta + ea), alpha / (delta + ei));
        let integral = simpson(sa.ln(), si.ln(), 300, |v| self.mmse(v.exp()) * v.exp());
        let psi = |e: f64| 0.5 * alpha * ((1.0 + e / delta).ln() - e / (delta + e));
        Some(-0.5 * integral + psi(ea) - psi(ei))
    }

    /// The information-theoretic threshold: bisection in [lo, hi] on "the informed fixed point
    /// has the lower potential".
    fn alpha_it(&self, delta: f64, mut lo: f64, mut hi: f64) -> f64 {
        let wins = |a: f64| self.potential_gap(a, delta).is_some_and(|g| g > 0.0);
        assert!(!wins(lo) && wins(hi), "bracket [{lo}, {hi}]");
        while hi - lo > 1e-4 {
            let mid = 0.5 * (lo + hi);
            if wins(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// mmse(s) of x ~ 0.7 δ₀ + 0.3 N(0, 1) observed as √s x + N(0, 1), by mpmath (40 digits,
/// adaptive quadrature of ρ − ∫ p(y) E[x|y]² dy over a split real line).
const GB03_MMSE_MPMATH: [(f64, f64); 5] = [
    (1.0, 0.218943980724173),
    (10.0, 0.0474321482890645),
    (100.0, 0.00435253835384032),
    (1000.0, 0.000367575597678735),
    (1e6, 3.04975144957397e-7),
];

/// The state evolution's average over the signal (`Prior::se` at m̂ = s, eq. 13: E x̂² =
/// ρ − mmse(s)) against high-precision values; also validates the scalar reference used by
/// the threshold tests. The genie bound mmse ≥ ρ/(1 + s) (support known) must hold.
#[test]
fn gauss_bernoulli_prior_average_is_accurate() {
    let m = model(&linear_stack(GB03, &[(1.0, 1e-8)]));
    let gh = GaussHermite::<f64, SE_HERMITE_POINTS>::new();
    let scalar = GaussBernoulliScalar { rho: 0.3 };
    let mut failures = Vec::new();
    for &(s, exact) in &GB03_MMSE_MPMATH {
        let reference = scalar.mmse(s);
        let se = 0.3 - m.prior.se(s, &SeQuadrature::new(gh.rule())).overlap;
        eprintln!(
            "Gauss-Bernoulli mmse({s:e}): mpmath {exact:.10e}, scalar reference {reference:.10e}, \
             SE prior average {se:.10e} (relative error {:+.2e}; genie bound {:.4e})",
            se / exact - 1.0,
            0.3 / (1.0 + s)
        );
        assert!(
            (reference / exact - 1.0).abs() <= 1e-6,
            "the test's own reference at {s}"
        );
        if (se / exact - 1.0).abs() > 1e-6 || se < 0.3 / (1.0 + s) {
            failures.push(format!("s = {s:e}: {se:.6e} vs {exact:.6e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The thresholds (alg, IT) of one Gauss–Bernoulli (ρ = 0.3) linear layer for each noise of
/// `GB_NOISES`, scanned once for the tests that use them.
const GB_NOISES: [f64; 3] = [1e-4, 1e-8, 1e-12];

fn single_layer_thresholds() -> &'static [(f64, f64)] {
    static CELL: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
    CELL.get_or_init(|| {
        GB_NOISES
            .iter()
            .map(|&d| {
                let m = model(&linear_stack(GB03, &[(1.0, d)]));
                let t = scan(&state_evolution(&m), 0, 0.31, 0.71, 9, &|| {})
                    .unwrap()
                    .thresholds;
                (
                    t.alpha_alg.expect("an algorithmic threshold"),
                    t.alpha_it.expect("an IT threshold"),
                )
            })
            .collect()
    })
}

/// As the noise vanishes, α_IT decreases towards ρ (the information dimension of the prior)
/// while AMP's threshold stays above; both agree with the scalar potential computed here.
#[test]
fn gauss_bernoulli_thresholds_approach_rho_as_the_noise_vanishes() {
    let rho = 0.3;
    let scalar = GaussBernoulliScalar { rho };
    let th = single_layer_thresholds();
    let mut refs = Vec::new();
    for (&delta, &(alg, it)) in GB_NOISES.iter().zip(th) {
        let alg_ref = scalar.alpha_alg(delta);
        let it_ref = scalar.alpha_it(delta, rho + 0.005, alg_ref - 0.005);
        eprintln!(
            "Gauss-Bernoulli rho = 0.3, noise {delta:e}: SE alpha_alg = {alg:.5} (scalar \
             potential {alg_ref:.5}), alpha_IT = {it:.5} (scalar potential {it_ref:.5})"
        );
        refs.push((alg_ref, it_ref));
    }
    let mut previous = f64::INFINITY;
    for (&(alg, it), &(alg_ref, it_ref)) in th.iter().zip(&refs) {
        assert!(
            it > rho && it < previous,
            "alpha_IT = {it} (previous {previous})"
        );
        assert!(it < alg, "alpha_IT = {it}, alpha_alg = {alg}");
        previous = it;
        // Both sides bisect to 1e-4.
        assert!(
            (alg - alg_ref).abs() <= 5e-4,
            "alpha_alg: SE {alg} vs {alg_ref}"
        );
        assert!((it - it_ref).abs() <= 5e-4, "alpha_IT: SE {it} vs {it_ref}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Two-layer sparse regression (eq. 18) against one layer
// ---------------------------------------------------------------------------------------------

/// Eq. 18 with Δ2 = 0 and α2 = 3: the two-layer SE closes on the signal with
/// m̂_0 = α2 Â/(1 + Â V_0), Â = α1/(Δ1 + V_0/(1 + Â V_0)) (V_0 the signal's MSE), which tends
/// to α/V_0 — the single-layer SE at α = α1 α2 — as Δ1 → 0 (for α1 < 1). So the thresholds in
/// α coincide in the noiseless limit (the paper: "both α and α2 need to be larger than the
/// corresponding threshold"), and at finite Δ1 they differ by an amount that vanishes with Δ1.
#[test]
fn two_layer_sparse_regression_thresholds_tend_to_the_single_layer_ones() {
    let a2 = 3.0;
    let single = single_layer_thresholds();
    let mut gaps = Vec::new();
    for (&d1, &(alg1, it1)) in GB_NOISES.iter().zip(single).take(2) {
        let m = model(&linear_stack(GB03, &[(a2, 0.0), (0.1, d1)]));
        let t = scan(&state_evolution(&m), 1, 0.31 / a2, 0.71 / a2, 9, &|| {})
            .unwrap()
            .thresholds;
        let alg2 = a2 * t.alpha_alg.expect("an algorithmic threshold");
        let it2 = a2 * t.alpha_it.expect("an IT threshold");
        eprintln!(
            "eq. 18, alpha2 = 3, Delta1 = {d1:e}: alpha_alg = {alg2:.5} (one layer {alg1:.5}), \
             alpha_IT = {it2:.5} (one layer {it1:.5})"
        );
        gaps.push(((alg2 - alg1).abs(), (it2 - it1).abs()));
    }
    let (alg_gap_small_noise, it_gap_small_noise) = gaps[1];
    let it_gap_large_noise = gaps[0].1;
    // The two scans bisect to 1e-4 in alpha1 (3e-4 in alpha) and 1e-4 in alpha.
    assert!(alg_gap_small_noise <= 1e-3, "{gaps:?}");
    assert!(
        it_gap_small_noise < 0.2 * it_gap_large_noise && it_gap_small_noise <= 2e-3,
        "{gaps:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. The free energy of Gaussian models
// ---------------------------------------------------------------------------------------------

/// −(1/n0) log P(y) averaged over y given W (E yᵀC⁻¹y = n_L exactly) for sampled weights:
/// mean and standard deviation over `seeds`.
fn sampled_free_energy(n0: usize, layers: &[(f64, f64)], seeds: &[u64]) -> (f64, f64) {
    let vals: Vec<f64> = seeds
        .iter()
        .map(|&seed| {
            let (c, _) = gaussian_chain(n0, layers, &mut Normals::new(seed));
            let ny = c.nrows() as f64;
            let chol = c.cholesky().expect("C is positive definite");
            let log_det = 2.0 * chol.l().diagonal().iter().map(|d| d.ln()).sum::<f64>();
            (0.5 * (ny * (2.0 * std::f64::consts::PI).ln() + log_det) + 0.5 * ny) / n0 as f64
        })
        .collect();
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (vals.len() - 1) as f64;
    (mean, var.sqrt())
}

/// φ_RS at the SE fixed point equals −(1/n0) E log P(y) (eqs. 14–16) for x ~ N(0, 1) through
/// one and two linear Gaussian layers: against the closed forms above (to 1e-8) and against
/// log det C of sampled weights (to 1e-3). The sampled value fluctuates by O(1/n0) per sample
/// (≈ 1.5e-3 at n0 = 500, 5e-4–1e-3 at n0 = 1000) and its mean is O(1/n0) low (real Gaussian
/// ensembles: ≈ −5e-4 to −1e-3 measured at n0 = 500–800 over 16 seeds), so six samples at
/// n0 = 1000 are averaged; the standard error is printed.
#[test]
fn gaussian_free_energy_is_minus_log_evidence() {
    let seeds = [1, 2, 3, 4, 5, 6];
    let cases: [&[(f64, f64)]; 2] = [&[(1.2, 0.1)], &[(1.2, 0.1), (0.8, 0.05)]];
    let mut results = Vec::new();
    for layers in cases {
        let m = model(&linear_stack(GAUSSIAN, layers));
        let fp = state_evolution(&m).fixed_point(Start::Uninformative);
        assert!(fp.converged);
        let closed = match layers {
            [(a, d)] => free_energy_one(*a, *d),
            [(a1, d1), (a2, d2)] => free_energy_two(*a1, *a2, *d1, *d2),
            _ => unreachable!(),
        };
        let (sampled, sd) = sampled_free_energy(1000, layers, &seeds);
        eprintln!(
            "Gaussian {layers:?}: phi_RS = {:.10}, closed form {closed:.10} (diff {:.1e}); \
             sampled n0 = 1000, {} seeds: {sampled:.6} ± {:.1e} (diff {:.1e})",
            fp.free_energy,
            fp.free_energy - closed,
            seeds.len(),
            sd / (seeds.len() as f64).sqrt(),
            fp.free_energy - sampled
        );
        results.push((layers, fp.free_energy, closed, sampled));
    }
    for (layers, phi, closed, sampled) in results {
        assert!(
            (phi - closed).abs() <= 1e-8,
            "{layers:?}: {phi} vs {closed}"
        );
        assert!(
            (phi - sampled).abs() <= 1e-3,
            "{layers:?}: {phi} vs {sampled}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Fixed points are stationary points of φ_RS
// ---------------------------------------------------------------------------------------------

/// φ_RS(m, m̂) of eq. 15, reassembled here from the layers' averages (the `I` terms):
/// φ = ½ Σ_j ñ_j m_j m̂_j − I_prior(m̂_0) − Σ_{k<L−1} ñ_{k+1} I_k(m_k, m̂_{k+1}) − ñ_L I_out(m_{L−1}),
/// ñ_j = n_j/n_0.
fn phi_of(m_model: &Model, se: &StateEvolution<'_>, m: &[f64], m_hat: &[f64]) -> f64 {
    let gh = GaussHermite::<f64, SE_HERMITE_POINTS>::new();
    let q = SeQuadrature::new(gh.rule());
    let depth = m.len();
    let mut n = vec![1.0];
    for a in se.alphas() {
        n.push(n.last().unwrap() * a);
    }
    let rho = se.rho();
    let mut phi = -m_model.prior.se(m_hat[0], &q).log_z;
    for j in 0..depth {
        phi += 0.5 * n[j] * m[j] * m_hat[j];
        let ch = m_model.channels().unwrap()[j];
        let log_z = if j + 1 == depth {
            ch.se_output(rho[j], m[j], &q).log_z
        } else {
            ch.se_hidden(rho[j], m[j], m_hat[j + 1], &q).log_z
        };
        phi -= n[j + 1] * log_z;
    }
    phi
}

/// Central finite differences of `f` at `x` with steps `h`.
fn gradient(f: impl Fn(&[f64]) -> f64, x: &[f64], h: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|j| {
            let (mut p, mut q) = (x.to_vec(), x.to_vec());
            p[j] += h[j];
            q[j] -= h[j];
            (f(&p) - f(&q)) / (2.0 * h[j])
        })
        .collect()
}

/// `[1.2e-3, …]`.
fn sci(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.2e}")).collect();
    format!("[{}]", parts.join(", "))
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, b| a.max(b.abs()))
}

/// At SE fixed points away from perfect recovery, φ_RS(m) = φ(m, m̂(m)) and φ(m, m̂) are
/// stationary (the paper, below eq. 15). Steps are 1e-4 of the distance to the nearer end of
/// (0, ρ_j) for m_j, and 1e-4 m̂_j for m̂_j. Perfect-recovery fixed points (the shipped models at
/// their own alphas reach MSE ≈ 1e-8 or the 1e-12 floor, where m̂ ~ 1e7 and no step resolves
/// ρ − m) are replaced by the same models in their hard phase (the uninformative fixed point),
/// plus a noisy sparse regression (Δ1 = 1e-3) at its own alpha 0.8, and a Gaussian model.
#[test]
fn fixed_points_are_stationary_points_of_the_free_energy() {
    let cases = [
        (
            "sparse_regression.toml, alpha1 = 0.45",
            with_alpha(&shipped("sparse_regression"), 1, 0.45),
        ),
        (
            "sparse_regression.toml, alpha1 = 0.8, Delta1 = 1e-3",
            shipped("sparse_regression").replace("noise_var = 1e-8", "noise_var = 1e-3"),
        ),
        (
            "perceptron.toml, alpha1 = 1.6",
            with_alpha(&shipped("perceptron"), 1, 1.6),
        ),
        (
            "decoder.toml, alpha1 = 0.2",
            with_alpha(&shipped("decoder"), 1, 0.2),
        ),
        (
            "Gaussian, (1.2, 0.1), (0.8, 0.05)",
            linear_stack(GAUSSIAN, &[(1.2, 0.1), (0.8, 0.05)]),
        ),
    ];
    let mut failures = Vec::new();
    for (label, text) in &cases {
        let m = model(text);
        let se = state_evolution(&m);
        let fp: FixedPoint = se.fixed_point(Start::Uninformative);
        assert!(fp.converged, "{label}");
        let rho = se.rho();
        let h_m: Vec<f64> =
            fp.m.iter()
                .zip(rho)
                .map(|(&m, &r)| 1e-4 * m.min(r - m))
                .collect();
        let h_hat: Vec<f64> = fp.m_hat.iter().map(|v| 1e-4 * v).collect();
        let phi_m = |m: &[f64]| se.free_energy_at(m).0;
        let grad = gradient(phi_m, &fp.m, &h_m);

        // φ(m, m̂) reassembled: equal to free_energy_at at m̂ = m̂(m), then both gradients.
        let phi_own = phi_of(&m, &se, &fp.m, &fp.m_hat);
        let both: Vec<f64> = fp.m.iter().chain(&fp.m_hat).copied().collect();
        let steps: Vec<f64> = h_m.iter().chain(&h_hat).copied().collect();
        let depth = fp.m.len();
        let grad_both = gradient(|v| phi_of(&m, &se, &v[..depth], &v[depth..]), &both, &steps);

        // Away from the fixed point the gradient is not small: the check can fail.
        let off: Vec<f64> = fp.m.iter().zip(&h_m).map(|(m, h)| m + 300.0 * h).collect();
        let grad_off = gradient(phi_m, &off, &h_m);

        eprintln!(
            "{label}: mse {:?}, m_hat {:?}, phi {:.10}; grad_m phi(m) {}; \
             grad phi(m, m_hat) {}; off the fixed point {}",
            fp.mse,
            fp.m_hat,
            fp.free_energy,
            sci(&grad),
            sci(&grad_both),
            sci(&grad_off)
        );
        assert!(
            (phi_own - fp.free_energy).abs() <= 1e-12 * (1.0 + phi_own.abs()),
            "{label}: {phi_own}"
        );
        assert!(max_abs(&grad_off) >= 1e-4, "{label}: {grad_off:?}");
        if max_abs(&grad) > 1e-6 || max_abs(&grad_both) > 1e-6 {
            failures.push(format!("{label}: {} {}", sci(&grad), sci(&grad_both)));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------------
// 6. The SE predicts ML-AMP
// ---------------------------------------------------------------------------------------------

/// ML-AMP on `Instance::sample(model, 2000, seed)` for `seeds` against the SE from the
/// uninformative start, at the given alphas of the last layer: the mean final signal MSE is
/// within 0.02 of the SE's, and both are below 1e-3 where the SE recovers the signal.
fn se_predicts_ml_amp(name: &str, alphas: &[(f64, &str, &[u64])]) {
    let text = shipped(name);
    let last = model(&text).layers.len() - 1;
    let opts = AmpOptions {
        max_iter: 200,
        ..AmpOptions::default()
    };
    let mut failures = Vec::new();
    for &(alpha, phase, seeds) in alphas {
        let m = model(&with_alpha(&text, last, alpha));
        let se = state_evolution(&m)
            .fixed_point(Start::Uninformative)
            .mse_signal();
        let runs: Vec<f64> = seeds
            .iter()
            .map(|&seed| {
                let inst = Instance::sample(&m, 2000, seed).unwrap();
                run_ml_amp(&m, &inst, &opts).unwrap().mse_signal()
            })
            .collect();
        let mean = runs.iter().sum::<f64>() / runs.len() as f64;
        eprintln!(
            "{name} alpha_last = {alpha} ({phase}): SE {se:.4e}, ML-AMP {mean:.4e} \
             (seeds {seeds:?}: {}), diff {:+.4e}",
            sci(&runs),
            mean - se
        );
        let perfect = se < 1e-6;
        if (mean - se).abs() > 0.02 || (perfect && (se >= 1e-3 || mean >= 1e-3)) {
            failures.push(format!("alpha {alpha}: SE {se:.4e}, ML-AMP {}", sci(&runs)));
        }
    }
    assert!(failures.is_empty(), "{name}: {failures:#?}");
}

/// Eq. 18 (ρ = 0.3, α2 = 1, Δ1 = 1e-8): IT threshold ≈ 0.37, algorithmic ≈ 0.543 in α = α1.
#[test]
fn se_predicts_ml_amp_on_sparse_regression() {
    se_predicts_ml_amp(
        "sparse_regression",
        &[
            (0.25, "impossible", &[1, 2, 3]),
            (0.45, "hard", &[1, 2, 3]),
            (0.8, "easy", &[1, 2]),
        ],
    );
}

/// Eq. 19 (α2 = 1): IT threshold ≈ 1.43, algorithmic ≈ 1.90 in α = α1.
#[test]
fn se_predicts_ml_amp_on_the_perceptron() {
    se_predicts_ml_amp(
        "perceptron",
        &[
            (1.0, "impossible", &[1, 2, 3]),
            (1.6, "hard", &[1, 2, 3]),
            (3.0, "easy", &[1, 2]),
        ],
    );
}

/// Eq. 20 (α2 = 2, Δ1 = Δ2 = 1e-8): IT threshold in α1 between 0.03 and 0.05, algorithmic
/// ≈ 0.306.
#[test]
fn se_predicts_ml_amp_on_the_decoder() {
    se_predicts_ml_amp(
        "decoder",
        &[
            (0.03, "impossible", &[1, 2, 3]),
            (0.2, "hard", &[1, 2, 3]),
            (0.6, "easy", &[1, 2]),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Gaussian MMSE: SE against random-matrix closed forms and finite-n traces
// ---------------------------------------------------------------------------------------------

/// (1/n0) tr Cov(x | y) for sampled weights: Cov = I − Pᵀ C⁻¹ P with P = W_{L−1}⋯W_0 and C
/// the covariance of y, i.e. 1 − ‖L⁻¹P‖²_F / n0 with C = LLᵀ.
fn sampled_mmse(n0: usize, layers: &[(f64, f64)], seed: u64) -> f64 {
    let (c, p) = gaussian_chain(n0, layers, &mut Normals::new(seed));
    let chol = c.cholesky().expect("C is positive definite");
    let x = chol.l().solve_lower_triangular(&p).expect("invertible");
    1.0 - x.norm_squared() / n0 as f64
}

/// The critical point α = 1 of a nearly noiseless linear layer, where the plain iteration
/// decays like `1/t` (`V ← V − V²/ρ`, the 793 ms point had 8555 iterations; its
/// Gauss–Bernoulli version is in `critical_sparse_regression_point_is_reached_fast`): the
/// fixed points against the closed forms (one layer: `V² + ΔV − Δ = 0`; two layers:
/// `mse_two`'s bisection) to 1e-6 relative, in a few hundred sweeps at most.
#[test]
fn critical_alpha_one_converges_to_the_closed_form() {
    for &(a, d) in &[(1.0, 1e-8), (1.0, 1e-6)] {
        let closed = mse_one(a, d);
        let m = model(&linear_stack(GAUSSIAN, &[(a, d)]));
        let fp = state_evolution(&m).fixed_point(Start::Uninformative);
        let se = fp.mse_signal();
        eprintln!(
            "Gaussian ({a}, {d}): SE {se:e} in {} sweeps, closed {closed:e}",
            fp.iterations
        );
        assert!(
            fp.converged && fp.iterations < 300,
            "{} sweeps",
            fp.iterations
        );
        assert!(
            (se - closed).abs() <= 1e-6 * closed,
            "({a}, {d}): {se} vs {closed}"
        );
    }
    let (a1, a2, d1, d2) = (1.0, 1.0, 0.01, 1e-8);
    let closed = mse_two(a1, a2, d1, d2);
    let m = model(&linear_stack(GAUSSIAN, &[(a1, d1), (a2, d2)]));
    let se = state_evolution(&m);
    for start in [Start::Uninformative, Start::Informed] {
        let fp = se.fixed_point(start);
        let got = fp.mse_signal();
        eprintln!(
            "Gaussian, two layers, {start:?}: SE {got:e} in {} sweeps, closed {closed:e}",
            fp.iterations
        );
        assert!(
            fp.converged && fp.iterations < 300,
            "{} sweeps",
            fp.iterations
        );
        assert!((got - closed).abs() <= 1e-6 * closed, "{got} vs {closed}");
    }
}

/// The slow point, the two-layer sparse regression at Δ2 = 0.01, α1 = α2 = 1: both
/// ends reach the same fixed point (x's MSE 8.38e-3 and h's 1.3552e-5, which the plain
/// iteration reached after 8555 sweeps, 1e-8 and 7e-6 relative off where it stopped) within
/// the tolerance, in a few hundred sweeps.
#[test]
fn critical_sparse_regression_point_is_reached_fast() {
    let m = model(&linear_stack(GB03, &[(1.0, 0.01), (1.0, 1e-8)]));
    let se = state_evolution(&m);
    let u = se.fixed_point(Start::Uninformative);
    let i = se.fixed_point(Start::Informed);
    eprintln!(
        "UU {:?} in {} sweeps, II {:?} in {}",
        u.mse, u.iterations, i.mse, i.iterations
    );
    for p in [&u, &i] {
        assert!(p.converged && p.iterations < 400, "{} sweeps", p.iterations);
    }
    for j in 0..2 {
        assert!(
            (u.mse[j] - i.mse[j]).abs() <= 1e-6 * u.mse[j],
            "{:?} vs {:?}",
            u.mse,
            i.mse
        );
    }
    // The plain iteration's values where it stopped (`se` before the Newton steps).
    assert!((u.mse[0] - 8.379965147695456e-3).abs() <= 1e-6 * u.mse[0]);
    assert!((u.mse[1] - 1.3552365571489755e-5).abs() <= 1e-4 * u.mse[1]);
}

/// The plain iteration `m ← F(m)` written out (the state evolution before its Newton steps,
/// and without skipping starts): from `m`, clamped below `(1 − 1e-12) ρ`, until every overlap
/// changes by at most 1e-10 of its MSE plus 1e-15 ρ, at most 20 000 sweeps. Its MSEs.
fn plain_iteration(se: &StateEvolution<'_>, mut m: Vec<f64>) -> Vec<f64> {
    let rho = &se.rho()[..m.len()];
    for _ in 0..20_000 {
        let (_, _, next) = se.free_energy_at(&m);
        let next: Vec<f64> = next
            .iter()
            .zip(rho)
            .map(|(v, r)| v.clamp(0.0, (1.0 - 1e-12) * r))
            .collect();
        let done = (0..m.len())
            .all(|j| (next[j] - m[j]).abs() <= 1e-10 * (rho[j] - next[j]) + 1e-15 * rho[j]);
        m = next;
        if done {
            break;
        }
    }
    m.iter().zip(rho).map(|(a, r)| r - a).collect()
}

/// Across the hard phase of the two-layer sparse regression (α2 = 1, α1 from 0.3 to 0.5,
/// both spinodals and the IT threshold inside), every one of the four starts reaches the
/// branch the plain iteration from it reaches (MSEs within `mse_coincide`): the Newton steps,
/// the skipped starts and the stopping rule change no branch. (A Newton step tried while a
/// mixed start still moved x and h in opposite directions sent IU from the informed branch to
/// the uninformed one at α1 = 0.38.) 1.5 s.
#[test]
fn every_start_reaches_the_plain_iterations_branch() {
    let text = shipped("sparse_regression");
    for alpha in [0.3, 0.34, 0.36, 0.38, 0.4, 0.44, 0.48, 0.5] {
        let m = model(&with_alpha(&text, 1, alpha));
        let se = state_evolution(&m);
        let analysis = se.analyse();
        let rho = se.rho();
        for code in StartCode::all(2) {
            let start: Vec<f64> = code
                .starts(2)
                .iter()
                .enumerate()
                .map(|(j, s)| match s {
                    Start::Uninformative => 1e-6 * rho[j],
                    Start::Informed => (1.0 - 1e-6) * rho[j],
                })
                .collect();
            let want = plain_iteration(&se, start);
            let got = &analysis.branch_of(code).point.mse;
            eprintln!("α1 = {alpha}, {}: {got:?}, plain {want:?}", code.label(2));
            for j in 0..2 {
                assert!(
                    mse_coincide(got[j], want[j], rho[j]),
                    "α1 = {alpha}, start {}: {got:?} vs plain {want:?}",
                    code.label(2)
                );
            }
        }
    }
}

#[test]
fn gaussian_mmse_matches_random_matrix_theory() {
    // Single layer: the closed form, then SE against it.
    for &(a, d) in &[(0.5, 0.1), (1.2, 0.1), (2.0, 0.01), (0.8, 1e-4)] {
        let closed = mse_one(a, d);
        // It is the fixed point mse = 1/(1 + α/(Δ + mse)).
        assert!((closed - 1.0 / (1.0 + a / (d + closed))).abs() <= 1e-14);
        let m = model(&linear_stack(GAUSSIAN, &[(a, d)]));
        let se = state_evolution(&m)
            .fixed_point(Start::Uninformative)
            .mse_signal();
        eprintln!("Gaussian, one layer ({a}, {d}): SE {se:.10}, closed form {closed:.10}");
        assert!((se - closed).abs() <= 1e-6, "({a}, {d}): {se} vs {closed}");
    }
    // Two layers.
    for &[(a1, d1), (a2, d2)] in &[
        [(1.2, 0.1), (0.8, 0.05)],
        [(0.7, 0.01), (1.5, 0.2)],
        [(2.0, 1e-3), (0.5, 1e-3)],
    ] {
        let closed = mse_two(a1, a2, d1, d2);
        let m = model(&linear_stack(GAUSSIAN, &[(a1, d1), (a2, d2)]));
        let se = state_evolution(&m)
            .fixed_point(Start::Uninformative)
            .mse_signal();
        eprintln!(
            "Gaussian, two layers ({a1}, {d1}), ({a2}, {d2}): SE {se:.10}, closed form {closed:.10}"
        );
        assert!((se - closed).abs() <= 1e-6, "{se} vs {closed}");
    }
    // The closed forms against finite-n linear algebra.
    let one = [(1.2, 0.1)];
    let emp = sampled_mmse(1000, &one, 7);
    let closed = mse_one(1.2, 0.1);
    eprintln!("one layer (1.2, 0.1): (1/n) tr Cov at n = 1000: {emp:.5}, closed {closed:.5}");
    assert!((emp - closed).abs() <= 1e-2);
    let two = [(1.2, 0.1), (0.8, 0.05)];
    let emp = sampled_mmse(800, &two, 7);
    let closed = mse_two(1.2, 0.8, 0.1, 0.05);
    eprintln!("two layers: (1/n0) tr Cov at n0 = 800: {emp:.5}, closed {closed:.5}");
    assert!((emp - closed).abs() <= 1e-2);
}
