//! A phase scan split into independent, deterministic tasks, for a cluster's array jobs or any
//! executor: shard `K` of `N` analyses the grid points `i` with `i mod N = K − 1` (strided, so
//! that the costly stretches of a grid spread over the shards) and keeps their analyses bit
//! for bit ([`PhaseShard`], a JSON document); [`merge_shards`] puts the `N` shards' points
//! back on the grid and does the rest of the scan ([`scan_analysed`]: branches followed along
//! the grid, checks, bisections), writing the same `phase.csv`, `phase.svg` and report as the
//! serial scan, byte for byte (every grid point's analysis depends on its alpha only:
//! [`analyse_points`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::phase::{analyse_points, scan_analysed};
use super::phase_report::{PhaseOptions, PhaseReport, checked_grid, create_outputs, write_report};
use crate::error::Error;
use crate::model::ModelSpec;
use crate::se::branches::{Branch, SeAnalysis, StartCode};
use crate::se::{FixedPoint, SeOptions};

/// The format of a shard document; [`merge_shards`] refuses another.
pub const SHARD_FORMAT: u32 = 1;

/// What every shard of one scan shares: the model (its text and name), the grid, the state
/// evolution's options and the number of shards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardHeader {
    /// [`SHARD_FORMAT`].
    pub format: u32,
    /// The model's name in the plot's title (the model file as given to `mlamp phase`).
    pub model_name: String,
    /// The model file's text: the merge parses it, and needs no file.
    pub model_toml: String,
    /// The scanned layer, from 1 at the signal.
    pub layer: usize,
    /// The grid, ascending (the alphas' bits).
    pub alphas: Vec<u64>,
    /// [`SeOptions::max_iter`].
    pub se_max_iter: usize,
    /// [`SeOptions::tol`] (its bits).
    pub se_tol: u64,
    /// Shards of the scan, `N`.
    pub of: usize,
}

/// One shard of a scan: the analyses of its grid points, every number as its IEEE bits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseShard {
    /// What every shard of the scan shares.
    pub header: ShardHeader,
    /// This shard, `K` in `1..=N`.
    pub shard: usize,
    /// Its grid points, ascending.
    pub points: Vec<ShardPoint>,
}

/// A grid point's analysis in a shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardPoint {
    /// Index on the grid, from 0.
    pub index: usize,
    /// [`SeAnalysis::amp`].
    pub amp: FixedPointBits,
    /// [`SeAnalysis::informed`].
    pub informed: FixedPointBits,
    /// [`SeAnalysis::branches`]: each fixed point and its starts' codes.
    pub branches: Vec<(FixedPointBits, Vec<u32>)>,
    /// [`SeAnalysis::rho`] (bits).
    pub rho: Vec<u64>,
}

/// A [`FixedPoint`] with every float as its bits (JSON numbers need not read back to the
/// same bits, nor hold a NaN).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedPointBits {
    /// [`FixedPoint::m`].
    pub m: Vec<u64>,
    /// [`FixedPoint::m_hat`].
    pub m_hat: Vec<u64>,
    /// [`FixedPoint::mse`].
    pub mse: Vec<u64>,
    /// [`FixedPoint::free_energy`].
    pub free_energy: u64,
    /// [`FixedPoint::iterations`].
    pub iterations: usize,
    /// [`FixedPoint::converged`].
    pub converged: bool,
    /// [`FixedPoint::diverged`].
    pub diverged: bool,
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn floats(v: &[u64]) -> Vec<f64> {
    v.iter().map(|&b| f64::from_bits(b)).collect()
}

impl From<&FixedPoint> for FixedPointBits {
    fn from(p: &FixedPoint) -> Self {
        Self {
            m: bits(&p.m),
            m_hat: bits(&p.m_hat),
            mse: bits(&p.mse),
            free_energy: p.free_energy.to_bits(),
            iterations: p.iterations,
            converged: p.converged,
            diverged: p.diverged,
        }
    }
}

impl From<&FixedPointBits> for FixedPoint {
    fn from(p: &FixedPointBits) -> Self {
        Self {
            m: floats(&p.m),
            m_hat: floats(&p.m_hat),
            mse: floats(&p.mse),
            free_energy: f64::from_bits(p.free_energy),
            iterations: p.iterations,
            converged: p.converged,
            diverged: p.diverged,
        }
    }
}

impl ShardPoint {
    fn new(index: usize, a: &SeAnalysis) -> Self {
        Self {
            index,
            amp: (&a.amp).into(),
            informed: (&a.informed).into(),
            branches: a
                .branches
                .iter()
                .map(|b| ((&b.point).into(), b.starts.iter().map(|s| s.0).collect()))
                .collect(),
            rho: bits(&a.rho),
        }
    }

    fn analysis(&self) -> SeAnalysis {
        SeAnalysis {
            amp: (&self.amp).into(),
            informed: (&self.informed).into(),
            branches: self
                .branches
                .iter()
                .map(|(p, s)| Branch {
                    point: p.into(),
                    starts: s.iter().map(|&c| StartCode(c)).collect(),
                })
                .collect(),
            rho: floats(&self.rho),
        }
    }
}

/// Parses `shard` as `K/N` (`1 <= K <= N`): `(K, N)`.
pub fn parse_shard(shard: &str) -> Result<(usize, usize), Error> {
    let bad = || Error::invalid("shard", format!("`{shard}` is not K/N with 1 <= K <= N"));
    let (k, n) = shard.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The grid points of shard `k` of `n` on a grid of `steps`: `i mod n = k − 1`, ascending.
pub fn shard_indices(k: usize, n: usize, steps: usize) -> impl Iterator<Item = usize> {
    (k - 1..steps).step_by(n.max(1))
}

/// Shard `k` of `n` (from [`parse_shard`]) of the scan of layer `layer` (from 1 at the
/// signal) over `alphas` (ascending) of the model `model_toml` (named `model_name` in the
/// plot and in errors): its grid points' analyses. `tick` is called once per grid point.
pub fn phase_shard(
    model_toml: &str,
    model_name: &str,
    layer: usize,
    alphas: &[f64],
    se: SeOptions,
    (k, n): (usize, usize),
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseShard, Error> {
    if k == 0 || k > n {
        return Err(Error::invalid(
            "shard",
            format!("{k}/{n}: need 1 <= K <= N"),
        ));
    }
    let m = ModelSpec::parse(model_toml, model_name)?.build()?;
    let state_evolution = checked_grid(&m, layer, alphas, se)?;
    let mine: Vec<usize> = shard_indices(k, n, alphas.len()).collect();
    let at: Vec<f64> = mine.iter().map(|&i| alphas[i]).collect();
    let analyses = analyse_points(&state_evolution, layer - 1, &at, tick)?;
    Ok(PhaseShard {
        header: ShardHeader {
            format: SHARD_FORMAT,
            model_name: model_name.into(),
            model_toml: model_toml.into(),
            layer,
            alphas: bits(alphas),
            se_max_iter: se.max_iter,
            se_tol: se.tol.to_bits(),
            of: n,
        },
        shard: k,
        points: mine
            .iter()
            .zip(&analyses)
            .map(|(&i, a)| ShardPoint::new(i, a))
            .collect(),
    })
}

impl PhaseShard {
    /// The shard as one line of JSON.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(|e| Error::invalid("shard", e.to_string()))
    }

    /// Reads a shard from [`PhaseShard::to_json`]'s text; `name` (its file) locates errors.
    pub fn from_json(text: &str, name: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::Parse {
            location: name.into(),
            message: format!("not a phase shard ({e})"),
        })
    }
}

/// Merges the `N` shards of one scan (any order): checks they are all there, once each, of
/// the same scan, then finishes the scan ([`scan_analysed`]) and writes `phase.csv` and
/// `phase.svg` into `out`, as `mlamp phase` does. `tick` is called once per bisection step.
pub fn merge_shards(
    shards: &[PhaseShard],
    out: &Path,
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseReport, Error> {
    let first = shards
        .first()
        .ok_or_else(|| Error::invalid("shards", "none given"))?;
    let h = &first.header;
    if h.format != SHARD_FORMAT {
        return Err(Error::invalid(
            "shards",
            format!("format {} (this mlamp reads {SHARD_FORMAT})", h.format),
        ));
    }
    let mut seen = vec![false; h.of];
    for s in shards {
        if s.header != *h {
            return Err(Error::invalid(
                "shards",
                format!(
                    "shard {}/{} is of another scan than shard {}/{} (model, layer, grid or \
                     shard count differ)",
                    s.shard, s.header.of, first.shard, h.of
                ),
            ));
        }
        if s.shard == 0 || s.shard > h.of || std::mem::replace(&mut seen[s.shard - 1], true) {
            return Err(Error::invalid(
                "shards",
                format!("shard {}/{} is out of range or given twice", s.shard, h.of),
            ));
        }
        let expected: Vec<usize> = shard_indices(s.shard, h.of, h.alphas.len()).collect();
        if s.points.iter().map(|p| p.index).ne(expected) {
            return Err(Error::invalid(
                "shards",
                format!("shard {}/{} does not hold its grid points", s.shard, h.of),
            ));
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(Error::invalid(
            "shards",
            format!("shard {}/{} is missing", k + 1, h.of),
        ));
    }
    let se = SeOptions {
        max_iter: h.se_max_iter,
        tol: f64::from_bits(h.se_tol),
    };
    let alphas = floats(&h.alphas);
    let m = ModelSpec::parse(&h.model_toml, &h.model_name)?.build()?;
    let state_evolution = checked_grid(&m, h.layer, &alphas, se)?;
    let mut analyses: Vec<Option<SeAnalysis>> = vec![None; alphas.len()];
    for s in shards {
        for p in &s.points {
            analyses[p.index] = Some(p.analysis());
        }
    }
    let analyses = analyses
        .into_iter()
        .map(|a| a.expect("every index checked above"))
        .collect();
    let outputs = create_outputs(out)?;
    let curve = scan_analysed(&state_evolution, h.layer - 1, &alphas, analyses, tick)?;
    write_report(curve, &h.model_name, h.layer, outputs)
}

/// [`phase_shard`] of the model file `path` (named as given), written to
/// `opts.out/phase-shard-K-of-N.json` (the directory is created); that file's path.
pub fn phase_shard_model_file(
    path: &Path,
    opts: &PhaseOptions,
    shard: (usize, usize),
    tick: &(dyn Fn() + Sync),
) -> Result<PathBuf, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let name = path.display().to_string();
    let write = |p: &Path| {
        let p = p.display().to_string();
        move |source| Error::Write { path: p, source }
    };
    std::fs::create_dir_all(&opts.out).map_err(write(&opts.out))?;
    let file = opts
        .out
        .join(format!("phase-shard-{}-of-{}.json", shard.0, shard.1));
    // Created before the work, so that an unwritable directory fails now.
    std::fs::File::create(&file).map_err(write(&file))?;
    let alphas = opts.alphas()?;
    let s = phase_shard(&text, &name, opts.layer, &alphas, opts.se, shard, tick)?;
    std::fs::write(&file, s.to_json()? + "\n").map_err(write(&file))?;
    Ok(file)
}

/// [`merge_shards`] of the shard files `paths`.
pub fn merge_shard_files(
    paths: &[PathBuf],
    out: &Path,
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseReport, Error> {
    let shards = paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|source| Error::Io {
                path: p.display().to_string(),
                source,
            })?;
            PhaseShard::from_json(&text, &p.display().to_string())
        })
        .collect::<Result<Vec<_>, Error>>()?;
    merge_shards(&shards, out, tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_shard("1/1").unwrap(), (1, 1));
        assert_eq!(parse_shard("3/8").unwrap(), (3, 8));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", ""] {
            let e = parse_shard(bad).unwrap_err().to_string();
            assert!(e.starts_with("shard: "), "{bad}: {e}");
        }
    }

    #[test]
    fn shards_cover_the_grid_once() {
        for steps in [2, 5, 21] {
            for n in [1, 2, 3, 7, 30] {
                let mut all: Vec<usize> =
                    (1..=n).flat_map(|k| shard_indices(k, n, steps)).collect();
                all.sort_unstable();
                assert_eq!(all, (0..steps).collect::<Vec<_>>(), "{steps} {n}");
            }
        }
    }

    #[test]
    fn a_fixed_point_reads_back_to_the_same_bits() {
        let p = FixedPoint {
            m: vec![0.1 + 0.2, f64::MIN_POSITIVE / 3.0],
            m_hat: vec![f64::NAN, -0.0],
            mse: vec![1e-300, f64::INFINITY],
            free_energy: -std::f64::consts::LN_2,
            iterations: 7,
            converged: true,
            diverged: false,
        };
        let json = serde_json::to_string(&FixedPointBits::from(&p)).unwrap();
        let back = FixedPoint::from(&serde_json::from_str::<FixedPointBits>(&json).unwrap());
        assert_eq!(bits(&back.m), bits(&p.m));
        assert_eq!(bits(&back.m_hat), bits(&p.m_hat));
        assert_eq!(bits(&back.mse), bits(&p.mse));
        assert_eq!(back.free_energy.to_bits(), p.free_energy.to_bits());
        assert_eq!(
            (back.iterations, back.converged, back.diverged),
            (7, true, false)
        );
    }
}
