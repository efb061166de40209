//! The native module `mlamp._mlamp`: converts Python and numpy values to the library's and
//! back, and forwards to `mlamp-std` (no formula here). The GIL is released while the
//! library works. The Python package `mlamp` (python/mlamp/__init__.py) wraps it.
//!
//! Arrays: outputs are numpy arrays that own the library's buffers (moved, not copied);
//! inputs are copied once into the buffers the library's instance owns (a C-contiguous
//! float64 array with one `memcpy`). Errors: [`MlampError`] (a `ValueError`) carrying the
//! library's typed message.

use std::path::{Path, PathBuf};

use mlamp_std::Error;
use mlamp_std::algo::run::Uncertainty;
use mlamp_std::algo::solve::{solve_data, summary_json, variable};
use mlamp_std::algo::{Algorithm, RunOptions};
use mlamp_std::arrays::Matrix;
use mlamp_std::experiments::phase_report::phase_model;
use mlamp_std::experiments::phase_shard::{PhaseShard, merge_shards, phase_shard};
use mlamp_std::instance::{Data, Instance};
use mlamp_std::model::{Model, ModelSpec};
use mlamp_std::se::{SeOptions, se_model_reporting};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    _mlamp,
    MlampError,
    PyValueError,
    "An error of mlamp: bad input (a model, an array, an option) or a run that cannot give a \
     result; the message is the library's."
);

fn err(e: Error) -> PyErr {
    MlampError::new_err(e.to_string())
}

fn json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    let value = serde_json::to_value(v).map_err(|e| MlampError::new_err(e.to_string()))?;
    Ok(value.to_string())
}

/// A model: the prior and the channels of a multi-layer generalized linear model, and the
/// TOML text it was parsed from (the model file schema of the README).
#[pyclass(module = "mlamp._mlamp", name = "Model", frozen)]
struct PyModel {
    model: Model,
    toml: String,
    name: String,
}

impl PyModel {
    fn parse(toml: String, name: String) -> PyResult<Self> {
        let model = ModelSpec::parse(&toml, &name)
            .and_then(|s| s.build())
            .map_err(err)?;
        Ok(Self { model, toml, name })
    }
}

/// A numpy array as a matrix of the library (`name` in its errors); a copy of its entries in
/// C order.
fn matrix(name: &str, a: &PyReadonlyArrayDyn<'_, f64>) -> PyResult<Matrix> {
    let values = match a.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => a.as_array().iter().copied().collect(),
    };
    Matrix::new(name, a.shape(), values).map_err(err)
}

/// `values` (row-major) as a `rows × cols` numpy array that owns them.
fn array<'py>(
    py: Python<'py>,
    values: Vec<f64>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, values)
        .reshape([rows, cols])?
        .into_any())
}

#[pymethods]
impl PyModel {
    /// Parses `text` (a model file's TOML) named `name` in errors and reports.
    #[staticmethod]
    #[pyo3(signature = (text, name = "<model>".to_string()))]
    fn from_text(text: String, name: String) -> PyResult<Self> {
        Self::parse(text, name)
    }

    /// Parses `text`, a JSON object with the model file's keys, named `name`: the TOML text
    /// it stands for is kept.
    #[staticmethod]
    #[pyo3(signature = (text, name = "<model>".to_string()))]
    fn from_json(text: &str, name: String) -> PyResult<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| MlampError::new_err(format!("{name}: {e}")))?;
        let toml = toml::to_string(&value)
            .map_err(|e| MlampError::new_err(format!("{name}: not a model ({e})")))?;
        Self::parse(toml, name)
    }

    /// Reads and parses the model file `path`, named as given.
    #[staticmethod]
    fn from_file(path: PathBuf) -> PyResult<Self> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| {
            err(Error::Io {
                path: name.clone(),
                source,
            })
        })?;
        Self::parse(text, name)
    }

    /// The model's TOML text.
    #[getter]
    fn toml(&self) -> &str {
        &self.toml
    }

    /// Its name (the file as given, or `<model>`).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Layers L.
    #[getter]
    fn depth(&self) -> usize {
        self.model.depth()
    }

    /// Columns per row d.
    #[getter]
    fn d(&self) -> usize {
        self.model.d
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(name={:?}, depth={}, d={})",
            self.name,
            self.model.depth(),
            self.model.d
        )
    }

    /// A seeded instance with `n` signal rows, as `mlamp run --save` writes it: a dict of
    /// `W1` … `WL` (`W_k` is `n_k × n_{k−1}`), `y` (`n_L × p`), `x`, `h1`, … (`n_k × d`).
    fn sample<'py>(&self, py: Python<'py>, n: usize, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        let inst = py
            .detach(|| Instance::sample(&self.model, n, seed))
            .map_err(err)?;
        let out = PyDict::new(py);
        let Instance {
            sizes,
            d,
            weights,
            layers,
            ..
        } = inst;
        let depth = weights.len();
        for (k, w) in weights.into_iter().enumerate() {
            out.set_item(format!("W{}", k + 1), array(py, w, sizes[k + 1], sizes[k])?)?;
        }
        for (k, h) in layers.into_iter().enumerate() {
            if k == depth {
                let p = h.len() / sizes[depth];
                out.set_item("y", array(py, h, sizes[depth], p)?)?;
            } else {
                out.set_item(variable(k), array(py, h, sizes[k], d)?)?;
            }
        }
        Ok(out)
    }

    /// Runs ML-AMP (`algorithm="amp"`) or ML-Mat-VAMP (`"vamp"`) on the weights
    /// `W_1 … W_L` (from the signal) and the observation `y`, with the ground truths `truth`
    /// (`x`, then `h1`, … as far as known) for the MSEs; options as `mlamp solve`'s. A dict:
    /// `summary` (the JSON of `mlamp solve --json`), `estimates`, and `variances` (ML-AMP,
    /// `n_k × d`) or `covariances` (ML-Mat-VAMP, `d × d`).
    #[pyo3(signature = (
        weights, y, truth = None, algorithm = "amp", estimator = None, iters = None,
        damping = None, mean_variance = false, safeguard = true, max_memory = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn solve<'py>(
        &self,
        py: Python<'py>,
        weights: Vec<PyReadonlyArrayDyn<'py, f64>>,
        y: PyReadonlyArrayDyn<'py, f64>,
        truth: Option<Vec<PyReadonlyArrayDyn<'py, f64>>>,
        algorithm: &str,
        estimator: Option<&str>,
        iters: Option<usize>,
        damping: Option<f64>,
        mean_variance: bool,
        safeguard: bool,
        max_memory: Option<u64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let algorithm: Algorithm = algorithm
            .parse()
            .map_err(|e: String| err(Error::invalid("algorithm", e)))?;
        let estimator = estimator
            .map(|e| {
                e.parse()
                    .map_err(|e: mlamp_core::Error| err(Error::at("estimator", e)))
            })
            .transpose()?;
        let data = Data {
            weights: weights
                .iter()
                .enumerate()
                .map(|(k, w)| matrix(&format!("weights[{k}]"), w))
                .collect::<PyResult<_>>()?,
            observation: matrix("y", &y)?,
            truth: truth
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(k, t)| matrix(&format!("truth[{k}]"), t))
                .collect::<PyResult<_>>()?,
        };
        let run = RunOptions {
            algorithm,
            estimator,
            iters,
            damping,
            mean_variance,
            max_memory,
            safeguard,
            ..RunOptions::default()
        };
        // The instance sets the model's sizes: a fresh one from the text (cheap).
        let model = ModelSpec::parse(&self.toml, &self.name)
            .and_then(|s| s.build())
            .map_err(err)?;
        let name = &self.name;
        let solved = py
            .detach(move || solve_data(model, name, data, &run, None))
            .map_err(err)?;
        let summary = summary_json(&solved.report).map_err(err)?;
        let (sizes, d) = (solved.sizes, solved.d);
        let out = PyDict::new(py);
        out.set_item("summary", summary.trim_end())?;
        let estimates = solved
            .outcome
            .estimates
            .into_iter()
            .enumerate()
            .map(|(k, e)| array(py, e, sizes[k], d))
            .collect::<PyResult<Vec<_>>>()?;
        out.set_item("estimates", estimates)?;
        match solved.outcome.uncertainty {
            Uncertainty::Variances(v) => {
                let v = v
                    .into_iter()
                    .enumerate()
                    .map(|(k, v)| array(py, v, sizes[k], d))
                    .collect::<PyResult<Vec<_>>>()?;
                out.set_item("variances", v)?;
            }
            Uncertainty::MeanCovariances(c) => {
                let c = c
                    .into_iter()
                    .map(|c| array(py, c, d, d))
                    .collect::<PyResult<Vec<_>>>()?;
                out.set_item("covariances", c)?;
            }
        }
        Ok(out)
    }

    /// The state evolution of ML-AMP and the Bayes-optimal one: the JSON of `mlamp se --json`.
    fn state_evolution(&self, py: Python<'_>) -> PyResult<String> {
        let report = py
            .detach(|| {
                se_model_reporting(
                    &self.model,
                    &self.name,
                    &SeOptions::default(),
                    Default::default(),
                )
            })
            .map_err(err)?;
        json(&report)
    }

    /// The scan of layer `layer`'s alpha (from 1 at the signal) over the ascending `alphas`:
    /// writes `phase.csv` and `phase.svg` into `out`; the JSON of `mlamp phase --json`.
    fn phase(
        &self,
        py: Python<'_>,
        layer: usize,
        alphas: Vec<f64>,
        out: PathBuf,
    ) -> PyResult<String> {
        let report = py
            .detach(|| {
                phase_model(
                    &self.model,
                    &self.name,
                    layer,
                    &alphas,
                    SeOptions::default(),
                    &out,
                    &|| {},
                )
            })
            .map_err(err)?;
        json(&report)
    }
}

/// Shard `k` of `n` of the scan of layer `layer` over `alphas` of the model `toml` (named
/// `name`): its grid points' analyses, as the JSON of `mlamp phase --shard K/N`'s file.
#[pyfunction]
fn phase_shard_json(
    py: Python<'_>,
    toml: String,
    name: String,
    layer: usize,
    alphas: Vec<f64>,
    k: usize,
    n: usize,
) -> PyResult<String> {
    py.detach(|| {
        phase_shard(
            &toml,
            &name,
            layer,
            &alphas,
            SeOptions::default(),
            (k, n),
            &|| {},
        )?
        .to_json()
    })
    .map_err(err)
}

/// Merges the JSON shards of one scan (as `mlamp merge`): writes `phase.csv` and `phase.svg`
/// into `out`; the JSON of `mlamp phase --json`.
#[pyfunction]
fn merge_shards_json(py: Python<'_>, shards: Vec<String>, out: PathBuf) -> PyResult<String> {
    let report = py
        .detach(|| {
            let shards = shards
                .iter()
                .enumerate()
                .map(|(i, s)| PhaseShard::from_json(s, &format!("shards[{i}]")))
                .collect::<Result<Vec<_>, Error>>()?;
            merge_shards(&shards, Path::new(&out), &|| {})
        })
        .map_err(err)?;
    json(&report)
}

/// The native part of the `mlamp` package.
#[pymodule]
fn _mlamp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add("MlampError", m.py().get_type::<MlampError>())?;
    m.add_function(wrap_pyfunction!(phase_shard_json, m)?)?;
    m.add_function(wrap_pyfunction!(merge_shards_json, m)?)?;
    Ok(())
}
