//! A masked output's mask given as a file (`mask = "FILE"` in the model file, the alternative
//! to the seeded fraction `observed`): the instance's mask for imputation (section 2.4, eq. 10
//! of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation
//! in multi-layer models*), `n_L × d` entries, 1 observed and 0 missing.

use std::path::Path;

use mlamp_core::channel::Masked;

use crate::arrays::read_matrix;
use crate::error::{DataProblem, Error};

/// The mask of a masked output, read from a `.npy`, `.npz` or `.csv` file.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskFile {
    /// The file, as resolved (relative paths against the model file's directory).
    pub path: String,
    /// Rows (`n_L`: one per row of the output).
    pub rows: usize,
    /// Columns (`d`).
    pub d: usize,
    /// The entries, row-major, each 0 or 1.
    pub entries: Vec<f64>,
    /// The output's channel with `observed` the file's fraction of observed entries: it
    /// samples the rows' values ([`MaskFile::sample_row`]), and the state evolution averages
    /// over iid masks of that fraction.
    pub channel: Masked<f64>,
}

impl MaskFile {
    /// Reads the mask `spec` (resolved against `dir` if relative) for rows of `d` and the
    /// output's noise variance `noise_var`.
    ///
    /// Errors naming the file ([`Error::Data`]): those of [`read_matrix`] (missing file,
    /// format, non-finite entries), a number of columns other than `d`, an entry other than 0
    /// or 1 (with its row and column), no observed entry at all (the observation would carry
    /// no data); a bad `noise_var` names `field.noise_var`.
    pub fn read(
        spec: &str,
        dir: Option<&Path>,
        d: usize,
        noise_var: f64,
        field: &str,
    ) -> Result<Self, Error> {
        let resolved = match dir {
            Some(dir) if Path::new(spec).is_relative() => dir.join(spec).display().to_string(),
            _ => spec.to_string(),
        };
        let m = read_matrix(&resolved)?;
        let bad = |problem| Error::Data {
            path: resolved.clone(),
            problem,
        };
        if m.cols != d {
            return Err(bad(DataProblem::Shape(format!(
                "is {} but a mask has d = {d} columns (one per entry of a row)",
                m.shape()
            ))));
        }
        if let Some(i) = m.values.iter().position(|&v| v != 0.0 && v != 1.0) {
            return Err(bad(DataProblem::Format(format!(
                "entry [{}, {}] (0-based row, column) is {}: a mask entry is 0 (missing) or 1 \
                 (observed)",
                i / d,
                i % d,
                m.values[i]
            ))));
        }
        let seen = m.values.iter().filter(|&&v| v == 1.0).count();
        if seen == 0 {
            return Err(bad(DataProblem::Format(
                "observes no entry: the observation would carry no data".into(),
            )));
        }
        let fraction = seen as f64 / m.values.len() as f64;
        let channel = Masked::new(fraction, noise_var).map_err(|e| Error::at(field, e))?;
        Ok(Self {
            path: resolved,
            rows: m.rows,
            d,
            entries: m.values,
            channel,
        })
    }

    /// `Ok` if the mask has `rows` rows (the output's), else an error naming the file.
    pub fn check_rows(&self, rows: usize) -> Result<(), Error> {
        if self.rows == rows {
            return Ok(());
        }
        Err(Error::Data {
            path: self.path.clone(),
            problem: DataProblem::Shape(format!(
                "has {} rows but the output has {rows} (one mask row per output row)",
                self.rows
            )),
        })
    }

    /// Row `row` of the observation for the pre-activation row `z`:
    /// [`Masked::sample_row_with_mask`] with this row of the mask (the same draws as a
    /// seeded mask, so a file equal to the seed's mask gives the same bits).
    pub fn sample_row(
        &self,
        row: usize,
        z: &[f64],
        xi: &mut dyn FnMut() -> f64,
        out: &mut [f64],
    ) -> Result<(), Error> {
        if row >= self.rows {
            return self.check_rows(row + 1);
        }
        let mask = &self.entries[row * self.d..(row + 1) * self.d];
        Ok(self.channel.sample_row_with_mask(z, mask, xi, out)?)
    }
}
