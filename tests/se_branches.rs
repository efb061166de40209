//! Every fixed point of the multi-layer state evolution (the SE started from all 2^L
//! informed/uninformative combinations, merged and ranked by free energy) and the
//! consistency checks that no correct SE violates, against references that do not come from
//! the multi-layer ranking:
//! - the binary perceptron's MMSE and free-entropy gap, from the one-layer model's own SE
//!   (whose thresholds `tests/state_evolution.rs` checks against the literature): a lower
//!   bound on the decoder's MMSE by data processing (x → h¹ → y is a Markov chain), and the
//!   exact MMSE and free-energy gap of a three-layer model's branches where the hidden
//!   variables are recovered;
//! - the fixed point iterated directly from each branch's own starts;
//! - monotonicity of the MMSE in every alpha and noise, along scans of every shipped model.
//!
//! Variables are ours, signal first: `h_0 = x`, `h_1`, …; a start is one letter per variable,
//! U uninformative, I informed.

use mlamp::experiments::phase::{TransitionKind, follow_along, scan};
use mlamp::se::checks::{self, Direction};
use mlamp::se::{SeAnalysis, SeOptions, Start, StartCode, StateEvolution};
use mlamp::{Error, Model};

fn model(text: &str) -> Model {
    Model::from_toml(text).expect("valid model")
}

fn state_evolution(m: &Model) -> StateEvolution<'_> {
    StateEvolution::new(m, SeOptions::default()).expect("an ML-AMP model")
}

fn analyse(m: &Model) -> SeAnalysis {
    state_evolution(m).analyse().checked().expect("finite")
}

/// The decoder of eq. 20 (ML-AMP paper, Manoel, Krzakala, Mézard, Zdeborová): x ±1,
/// h¹ = sign(W2 x + N(0, 1e-8)), y = W1 h¹ + N(0, 1e-8); our layer 0 has α2, layer 1 α1.
fn decoder(alpha2: f64, alpha1: f64) -> String {
    format!(
        "[prior]\ntype = \"binary\"\n\
         [[layers]]\nalpha = {alpha2:?}\nchannel = {{ type = \"sign\", noise_var = 1e-8 }}\n\
         [[layers]]\nalpha = {alpha1:?}\nchannel = {{ type = \"linear\", noise_var = 1e-8 }}\n"
    )
}

/// The binary perceptron x ±1, y = sign(W x + N(0, noise)) at `alpha`: the decoder's first
/// layer observed directly.
fn perceptron(alpha: f64, noise: f64) -> String {
    format!(
        "[prior]\ntype = \"binary\"\n\
         [[layers]]\nalpha = {alpha:?}\nchannel = {{ type = \"sign\", noise_var = {noise:?} }}\n"
    )
}

/// Its fixed points from the two starts (one variable: 2 starts, no ranking to get wrong).
fn perceptron_branches(alpha: f64, noise: f64) -> (f64, f64, f64) {
    let m = model(&perceptron(alpha, noise));
    let se = state_evolution(&m);
    let u = se.fixed_point(Start::Uninformative);
    let i = se.fixed_point(Start::Informed);
    let mmse = if i.free_energy < u.free_energy {
        i.mse_signal()
    } else {
        u.mse_signal()
    };
    (mmse, u.free_energy, i.free_energy)
}

/// The fixed points from only the all-uninformative and the all-informed starts, ranked: what
/// the SE did before it tried every combination.
fn two_starts(se: &StateEvolution<'_>) -> SeAnalysis {
    let depth = se.depth();
    SeAnalysis::from_fixed_points(
        vec![
            (
                StartCode::UNINFORMATIVE,
                se.fixed_point(Start::Uninformative),
            ),
            (StartCode::informed(depth), se.fixed_point(Start::Informed)),
        ],
        se.rho()[..depth].to_vec(),
    )
}

const ALPHA1_GRID: [f64; 4] = [0.05, 0.1, 0.3, 1.0];

/// The case: at α2 = 1 and 1.2 (below the perceptron's α_IT = 1.245) x cannot be
/// decoded from h¹ however well h¹ is known, so for every α1 the decoder's MMSE is at least
/// the perceptron's at α2 (0.439 at α2 = 1), and the all-informed fixed point (x recovered)
/// is never the optimal one: no information-theoretic threshold in α1. (The SE from only the
/// all-uninformative and all-informed starts reported 1e-12.) Along α1 the MMSE is
/// non-increasing.
#[test]
fn decoder_below_the_perceptron_threshold_never_recovers_x() {
    let mut failures = Vec::new();
    for alpha2 in [1.0, 1.2] {
        let mut curve = Vec::new();
        let (bound, _, _) = perceptron_branches(alpha2, 1e-8);
        assert!(bound > 0.2, "perceptron MMSE at {alpha2}: {bound}");
        for alpha1 in ALPHA1_GRID {
            let a = analyse(&model(&decoder(alpha2, alpha1)));
            let mmse = a.mmse_signal();
            let informed_optimal = a.optimal_branch().reached_from(StartCode::informed(2));
            eprintln!(
                "decoder alpha2 = {alpha2}, alpha1 = {alpha1}: MMSE {mmse:.5} (perceptron \
                 {bound:.5}), {} branches {:?}, optimal {:?}",
                a.branches.len(),
                a.ranking_labels(),
                a.optimal().mse
            );
            if mmse < bound - 1e-6 || informed_optimal {
                failures.push(format!("alpha2 {alpha2}, alpha1 {alpha1}: MMSE {mmse}"));
            }
            curve.push((alpha1, mmse));
        }
        failures.extend(checks::monotone(
            &curve,
            1.0,
            Direction::NonIncreasing,
            "alpha1",
        ));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// At α2 = 1 and α1 = 0.3 the branch "h¹ recovered, x not" is reached only from UI; its x MSE
/// is the perceptron's MMSE at α = 1 and its free energy is below the all-recovered branch's
/// by the perceptron's gap φ_U − φ_I… reversed: the perceptron's all-recovered point is the
/// higher by φ_I − φ_U (0.106 at α = 1, x being all that differs once h¹ is known).
#[test]
fn decoder_h1_only_branch_is_the_perceptron() {
    let a = analyse(&model(&decoder(1.0, 0.3)));
    let (p_mmse, p_u, p_i) = perceptron_branches(1.0, 1e-8);
    let ui = StartCode(0b10);
    let b = a.branch_of(ui);
    let all = a.branch_of(StartCode::informed(2));
    let gap = all.point.free_energy - b.point.free_energy;
    eprintln!(
        "decoder (1, 0.3): UI branch mse {:?} phi {:.8}; all-recovered phi {:.8}; gap {gap:.6}, \
         perceptron gap {:.6}, perceptron MMSE {p_mmse:.6}",
        b.point.mse,
        b.point.free_energy,
        all.point.free_energy,
        p_i - p_u
    );
    assert_eq!(a.rank_of(ui), 0, "{:?}", a.ranking_labels());
    assert!(!b.reached_from(StartCode::UNINFORMATIVE) && !b.reached_from(StartCode::informed(2)));
    assert!(
        (b.point.mse[0] - p_mmse).abs() <= 1e-6,
        "{} vs {p_mmse}",
        b.point.mse[0]
    );
    assert!(b.point.mse[1] < 1e-9);
    assert!((gap - (p_i - p_u)).abs() <= 1e-5, "{gap} vs {}", p_i - p_u);
    assert!((gap - 0.106).abs() <= 0.001, "the issue's 0.106: {gap}");
}

/// The data-processing check catches the two-start SE's error: ranking only the UU and II
/// fixed points of the decoder at (1, 0.3) gives MMSE 1e-12 < 0.439, which the check flags;
/// on the full analysis it is silent.
#[test]
fn data_processing_check_flags_the_two_start_answer() {
    let m = model(&decoder(1.0, 0.3));
    let se = state_evolution(&m);
    let two = two_starts(&se);
    assert!(two.mmse_signal() < 1e-9);
    let flagged = checks::data_processing(&se, &two).unwrap();
    eprintln!("two starts: {flagged:?}");
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert!(flagged[0].contains("data-processing"));
    assert!(checks::consistency(&se, &se.analyse()).unwrap().is_empty());
}

/// The checks can fail: an ML-AMP MSE below the MMSE and a rising MMSE are flagged.
#[test]
fn consistency_checks_can_fail() {
    let m = model(&decoder(1.0, 0.3));
    let se = state_evolution(&m);
    let mut a = se.analyse();
    assert!(checks::amp_not_below_mmse(&a).is_empty());
    a.amp.mse = vec![1e-3, 1e-3];
    assert_eq!(
        checks::amp_not_below_mmse(&a).len(),
        1,
        "x only: h1's MMSE is 1e-12"
    );
    let rising = [(0.1, 0.5), (0.2, 0.4), (0.3, 0.45)];
    assert_eq!(
        checks::monotone(&rising, 1.0, Direction::NonIncreasing, "alpha").len(),
        1
    );
    assert!(checks::monotone(&rising[..2], 1.0, Direction::NonIncreasing, "alpha").is_empty());
    assert_eq!(
        checks::monotone(&rising[..2], 1.0, Direction::NonDecreasing, "noise").len(),
        1
    );
}

/// Above α2 = 1.245 the decoder's algorithmic threshold is what it was: at α2 = 2,
/// α1_alg = 0.306 (the ML-AMP paper's Fig. 2): ML-AMP's fixed point (UU) is not the
/// all-recovered one at 0.3055 and is at 0.3065, where that one is optimal.
#[test]
fn decoder_above_the_perceptron_threshold_keeps_its_algorithmic_threshold() {
    let below = analyse(&model(&decoder(2.0, 0.3055)));
    let above = analyse(&model(&decoder(2.0, 0.3065)));
    eprintln!(
        "decoder alpha2 = 2: ML-AMP x MSE {:.4e} at 0.3055, {:.4e} at 0.3065",
        below.amp.mse_signal(),
        above.amp.mse_signal()
    );
    assert!(!below.branches_agree() && below.amp.mse_signal() > 0.1);
    assert!(above.branches_agree() && above.mmse_signal() < 1e-9);
    assert_eq!(above.branches.len(), 1, "{:?}", above.ranking_labels());
}

/// The same by `mlamp phase`'s scan over [0.3, 0.31] (slow near the spinodal: ≈ 70 s): one
/// threshold, algorithmic, at 0.3060 where x and h¹ jump.
#[test]
#[ignore = "70 s; run with --ignored"]
fn decoder_phase_scan_above_the_perceptron_threshold() {
    let m = model(&decoder(2.0, 1.0));
    let curve = scan(&state_evolution(&m), 1, 0.3, 0.31, 2, &|| {}).unwrap();
    let alg = curve.thresholds.alpha_alg.expect("alpha_alg in range");
    eprintln!("decoder alpha2 = 2: alpha1_alg = {alg:.5}");
    assert!((alg - 0.306).abs() <= 5e-4, "{alg}");
    assert_eq!(curve.transitions.len(), 1);
    assert_eq!(curve.transitions[0].kind, TransitionKind::Algorithmic);
    assert_eq!(curve.transitions[0].variables, ["x", "h1"]);
    assert!(curve.warnings.is_empty(), "{:?}", curve.warnings);
}

/// Three layers, x ±1 → h¹ = sign(W x) (α = 1) → h² = sign(W h¹) (α = 2) → y = W h² +
/// N(0, 1e-8) (α = 0.2, below ML-AMP's threshold for h²). Once h² is known, h¹ (±1) is a perceptron's signal at α = 2 > 1.493:
/// recovered; x is one at α = 1 < 1.245: not. So three fixed points: nothing recovered (UUU),
/// "h², h¹ recovered, x at the perceptron's MMSE" and everything recovered, ranked (from the
/// lowest free energy) the middle one, everything, nothing; the middle one is the
/// perceptron's uninformative branch at α = 1 and the gap to "everything" the perceptron's.
#[test]
fn three_layer_model_has_three_ranked_branches() {
    let text = "[prior]\ntype = \"binary\"\n\
        [[layers]]\nalpha = 1.0\nchannel = { type = \"sign\", noise_var = 0.0 }\n\
        [[layers]]\nalpha = 2.0\nchannel = { type = \"sign\", noise_var = 0.0 }\n\
        [[layers]]\nalpha = 0.2\nchannel = { type = \"linear\", noise_var = 1e-8 }\n";
    let m = model(text);
    let se = state_evolution(&m);
    let a = se.analyse().checked().unwrap();
    let (p_mmse, p_u, p_i) = perceptron_branches(1.0, 0.0);
    for (rank, b) in a.branches.iter().enumerate() {
        eprintln!(
            "three layers: rank {rank}: phi {:.8}, mse {:?}, starts {:?}",
            b.point.free_energy,
            b.point.mse,
            b.starts.iter().map(|s| s.label(3)).collect::<Vec<_>>()
        );
    }
    assert_eq!(a.branches.len(), 3, "{:?}", a.ranking_labels());
    let [best, all, none] = [&a.branches[0], &a.branches[1], &a.branches[2]];
    // Each found from its own starts: the first start of each branch, iterated alone, gives
    // its MSEs; and the expected starts reach it.
    for b in &a.branches {
        let own = se.fixed_point_from(&b.starts[0].starts(3));
        for j in 0..3 {
            assert!((own.mse[j] - b.point.mse[j]).abs() <= 1e-6 + 1e-3 * own.mse[j]);
        }
    }
    assert!(none.reached_from(StartCode::UNINFORMATIVE));
    assert!(all.reached_from(StartCode::informed(3)));
    assert!(best.reached_from(StartCode(0b110)), "x U, h1 I, h2 I");
    // What each branch is.
    assert!(
        (best.point.mse[0] - p_mmse).abs() <= 1e-6,
        "{} {p_mmse}",
        best.point.mse[0]
    );
    assert!(best.point.mse[1] < 1e-9 && best.point.mse[2] < 1e-9);
    assert!(all.point.mse.iter().all(|&e| e < 1e-9));
    assert!(none.point.mse.iter().all(|&e| e > 0.1));
    let gap = all.point.free_energy - best.point.free_energy;
    assert!((gap - (p_i - p_u)).abs() <= 1e-5, "{gap} vs {}", p_i - p_u);
    assert!(none.point.free_energy > all.point.free_energy);
    // MMSE and ML-AMP as the issue defines them, and the checks hold.
    assert_eq!(a.mmse_signal(), best.point.mse[0]);
    assert!(checks::consistency(&se, &a).unwrap().is_empty());
}

/// `text` with every `noise_var = 1e-8` replaced by `noise`.
fn with_noise(text: &str, noise: f64) -> String {
    text.replace("noise_var = 1e-8", &format!("noise_var = {noise:?}"))
}

/// The models shipped in `examples/models` that ML-AMP's SE accepts (the others are refused
/// with a typed error naming d or the weights), and the decoder below the perceptron's
/// threshold (the three-layer model and the decoder at α2 = 1.2 are scanned in their tests).
fn models() -> Vec<(String, String)> {
    let dir = format!("{}/examples/models", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    for p in names {
        let text = std::fs::read_to_string(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        match StateEvolution::new(&model(&text), SeOptions::default()) {
            Ok(_) => out.push((name, text)),
            Err(Error::Invalid { field, .. }) => {
                assert!(
                    field == "d" || field.ends_with(".weights"),
                    "{name}: {field}"
                );
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    out.push(("decoder (1, 0.3)".into(), decoder(1.0, 0.3)));
    out
}

/// Along a scan of each layer's alpha (0.5×, 1×, 2× the model's) of each of
/// `models`, the signal's MMSE is non-increasing and every point passes the consistency
/// checks (ML-AMP's MSE not below the MMSE, the data-processing bound).
fn mmse_is_monotone_in_every_alpha(models: Vec<(String, String)>) {
    let mut failures = Vec::new();
    for (name, text) in models {
        let m = model(&text);
        let se = state_evolution(&m);
        for k in 0..m.depth() {
            let a0 = se.alphas()[k];
            let grid = [0.5 * a0, a0, 2.0 * a0];
            let mut curve = Vec::new();
            for &alpha in &grid {
                let s = se.with_alpha(k, alpha).unwrap();
                let a = s.analyse().checked().unwrap();
                failures.extend(
                    checks::consistency(&s, &a)
                        .unwrap()
                        .into_iter()
                        .map(|w| format!("{name}, layer {k}, alpha {alpha}: {w}")),
                );
                curve.push((alpha, a.mmse_signal()));
            }
            eprintln!("{name}, layer {k}: MMSE {curve:?}");
            failures.extend(
                checks::monotone(&curve, se.rho()[0], Direction::NonIncreasing, "alpha")
                    .into_iter()
                    .map(|w| format!("{name}, layer {k}: {w}")),
            );
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// [`mmse_is_monotone_in_every_alpha`] on every model but `relu_generative.toml`.
#[test]
fn mmse_is_monotone_in_every_alpha_of_every_model() {
    mmse_is_monotone_in_every_alpha(
        models()
            .into_iter()
            .filter(|(n, _)| !n.starts_with("relu"))
            .collect(),
    );
}

/// The same for `relu_generative.toml` (three ReLU layers: 8 starts of ~200 iterations of
/// the ReLU channel's quadratures, ~2 s each, at 18 points: ≈ 3 min on 2 cores; its
/// truncations end in a noiseless ReLU and have no data-processing check).
#[test]
#[ignore = "3 min with the ReLU channel's quadrature averages"]
fn mmse_is_monotone_in_every_alpha_of_relu_generative() {
    mmse_is_monotone_in_every_alpha(
        models()
            .into_iter()
            .filter(|(n, _)| n.starts_with("relu"))
            .collect(),
    );
}

/// The MMSE is non-decreasing in the noise: the decoder (below and above the perceptron's
/// threshold) and eq. 18 with every 1e-8 noise set to 1e-8, 1e-4, 1e-2, 1e-1.
#[test]
fn mmse_is_monotone_in_the_noise() {
    let sparse = "[prior]\ntype = \"gauss-bernoulli\"\nrho = 0.3\n\
        [[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 0.0 }\n\
        [[layers]]\nalpha = 0.5\nchannel = { type = \"linear\", noise_var = 1e-8 }\n";
    let mut failures = Vec::new();
    for (name, text) in [
        ("decoder (1, 0.3)", decoder(1.0, 0.3)),
        ("decoder (2, 0.3)", decoder(2.0, 0.3)),
        ("eq. 18 (1, 0.5)", sparse.to_string()),
    ] {
        let curve: Vec<(f64, f64)> = [1e-8, 1e-4, 1e-2, 1e-1]
            .iter()
            .map(|&d| (d, analyse(&model(&with_noise(&text, d))).mmse_signal()))
            .collect();
        eprintln!("{name}: MMSE along the noise {curve:?}");
        failures.extend(checks::monotone(
            &curve,
            1.0,
            Direction::NonDecreasing,
            "noise",
        ));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `mlamp phase`'s scan of the decoder at α2 = 1 over α1 ∈ [0.02, 1] (slow: 8 grid points and
/// three bisected thresholds, ≈ 35 s): no signal threshold (x is never recovered), the MMSE
/// non-increasing, and the thresholds it names: h¹ becomes recoverable (IT, at 0.064: x and
/// h¹ jump), then ML-AMP reaches it (algorithmic, 0.392).
#[test]
#[ignore = "35 s; run with --ignored"]
fn decoder_phase_scan_below_the_perceptron_threshold() {
    let m = model(&decoder(1.0, 1.0));
    let c = scan(&state_evolution(&m), 1, 0.02, 1.0, 8, &|| {}).unwrap();
    for t in &c.transitions {
        eprintln!("{:.4} {:?} {:?}", t.alpha, t.kind, t.variables);
    }
    assert_eq!(c.thresholds.alpha_it, None);
    assert_eq!(c.thresholds.alpha_alg, None);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let kinds: Vec<_> = c.transitions.iter().map(|t| t.kind).collect();
    assert!(kinds.contains(&TransitionKind::InformationTheoretic));
    assert!(kinds.contains(&TransitionKind::Algorithmic));
}

/// Following a branch (the continuation along a scan that deep models rely on): from only the
/// UU and II starts, the decoder at (α2, α1) = (1, 0.3) misses the branch "h¹ recovered, x
/// not" and reports MMSE 1e-12; following the branches of the full analysis at α1 = 0.35
/// finds it here, as a branch no start of this analysis reaches, optimal, with the
/// perceptron's MMSE at α = 1 (the one-layer model's own SE), and the followed analysis has
/// exactly the branches that all four starts find.
#[test]
fn following_a_neighbours_branch_finds_what_the_starts_miss() {
    let m = model(&decoder(1.0, 0.3));
    let se = state_evolution(&m);
    let two = two_starts(&se);
    assert!(two.mmse_signal() < 1e-9, "the two starts' answer");
    let neighbour = analyse(&model(&decoder(1.0, 0.35)));
    let followed = two.follow(&se, &neighbour).checked().unwrap();
    let (p_mmse, _, _) = perceptron_branches(1.0, 1e-8);
    let best = followed.optimal_branch();
    eprintln!(
        "followed: {:?}, optimal mse {:?}, perceptron {p_mmse}",
        followed.ranking_labels(),
        best.point.mse
    );
    assert!(best.followed(), "{:?}", followed.ranking_labels());
    assert!((best.point.mse[0] - p_mmse).abs() <= 1e-6);
    assert!(best.point.mse[1] < 1e-9);
    let full = analyse(&m);
    assert_eq!(followed.branches.len(), full.branches.len());
    for (f, b) in followed.branches.iter().zip(&full.branches) {
        for j in 0..2 {
            assert!(
                (f.point.mse[j] - b.point.mse[j]).abs() <= 1e-6 + 1e-3 * b.point.mse[j],
                "{:?} vs {:?}",
                f.point.mse,
                b.point.mse
            );
        }
    }
}

/// The same on the three-layer model whose optimal branch (x U, h¹ and h² I) only the start
/// UII reaches: from UUU and III alone it is missed; following the full analysis at the
/// output's α = 0.25 finds it at α = 0.2, x's MSE the noiseless perceptron's.
#[test]
fn following_finds_the_three_layer_models_hidden_branch() {
    let three = |alpha: f64| {
        model(&format!(
            "[prior]\ntype = \"binary\"\n\
             [[layers]]\nalpha = 1.0\nchannel = {{ type = \"sign\", noise_var = 0.0 }}\n\
             [[layers]]\nalpha = 2.0\nchannel = {{ type = \"sign\", noise_var = 0.0 }}\n\
             [[layers]]\nalpha = {alpha:?}\nchannel = {{ type = \"linear\", noise_var = 1e-8 }}\n"
        ))
    };
    let m = three(0.2);
    let se = state_evolution(&m);
    let two = two_starts(&se);
    let (p_mmse, _, _) = perceptron_branches(1.0, 0.0);
    assert!(two.mmse_signal() < 1e-9, "{}", two.mmse_signal());
    let followed = two.follow(&se, &analyse(&three(0.25))).checked().unwrap();
    let best = followed.optimal_branch();
    assert!(best.followed(), "{:?}", followed.ranking_labels());
    assert!((best.point.mse[0] - p_mmse).abs() <= 1e-6);
    assert_eq!(followed.mmse_signal(), best.point.mse[0]);
}

/// Following along a grid of a deep model (five layers: the starts are the monotone ones, not
/// all 32) carries every branch from one point to the next: after [`follow_along`], following
/// either neighbour's branches at a point finds no fixed point that the point does not have,
/// while before it the points' own starts found fewer branches than following adds (or as
/// many). Linear layers (closed-form averages) keep it fast.
#[test]
fn deep_grids_follow_every_branch_to_the_next_point() {
    // Two-layer sparse regression (eq. 18) stretched to five layers: the product of the alphas
    // crosses the hard phase (two branches) inside the grid.
    let text = "[prior]\ntype = \"gauss-bernoulli\"\nrho = 0.3\n\
        [[layers]]\nalpha = 2.0\nchannel = { type = \"linear\", noise_var = 1e-8 }\n\
        [[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 1e-8 }\n\
        [[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 1e-8 }\n\
        [[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 1e-8 }\n\
        [[layers]]\nalpha = 0.2\nchannel = { type = \"linear\", noise_var = 1e-8 }\n";
    let m = model(text);
    let se = state_evolution(&m);
    assert!(!StartCode::search_is_complete(se.depth()));
    let alphas = [0.15, 0.2, 0.25, 0.3];
    let own: Vec<SeAnalysis> = alphas
        .iter()
        .map(|&a| se.with_alpha(4, a).unwrap().analyse().checked().unwrap())
        .collect();
    let mut followed = own.clone();
    follow_along(&se, 4, &alphas, &mut followed).unwrap();
    for (i, (o, f)) in own.iter().zip(&followed).enumerate() {
        eprintln!(
            "alpha {}: own {:?}, followed {:?}",
            alphas[i],
            o.ranking_labels(),
            f.ranking_labels()
        );
        assert!(f.branches.len() >= o.branches.len());
    }
    assert!(
        followed.iter().any(|a| a.branches.len() > 1),
        "the grid crosses the hard phase"
    );
    for i in 0..alphas.len() {
        let se_i = se.with_alpha(4, alphas[i]).unwrap();
        for j in [i.wrapping_sub(1), i + 1] {
            if let Some(there) = followed.get(j) {
                let again = followed[i].clone().follow(&se_i, there);
                assert_eq!(
                    again.branches.len(),
                    followed[i].branches.len(),
                    "alpha {}",
                    alphas[i]
                );
            }
        }
    }
}
