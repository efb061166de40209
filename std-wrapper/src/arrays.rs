//! Array files: the matrices that `mlamp solve` reads (weights, the observation, the ground
//! truth) and the ones it and `mlamp run --save` write (instances, estimates, variances).
//!
//! Read: NumPy's `.npy` (one array) and `.npz` (a zip of `.npy`, compressed or not; `FILE.npz`
//! if it holds one array, `FILE.npz:NAME` to pick one), through `ndarray-npy`, and CSV (one
//! row of the matrix per line, no header, `,` between numbers) through `csv`. Elements `f64`
//! or `f32` (widened exactly), little- or big-endian, C or Fortran order. A 1-D array of `n`
//! entries is an `n × 1` matrix. Written: `.npy`, `f64` little-endian, C order.
//!
//! Every error names the file and what is wrong ([`DataProblem`]): an element type other than
//! `f32`/`f64` (integers, complex, objects), a shape other than a vector or a matrix, a NaN or
//! infinite entry (with its row and column), a ragged CSV line (with its line number) or a
//! CSV field that is not a number (with its line and field).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{NpzReader, ReadNpyError, ReadNpyExt, ReadNpzError, WriteNpyExt};

use crate::error::{DataProblem, Error};

/// A matrix read from an array file: `rows × cols` entries, row-major, every one finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// The file it was read from (as given), for the errors that concern it later.
    pub path: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// The entries, row after row.
    pub values: Vec<f64>,
}

impl Matrix {
    /// `rows×cols`, for messages.
    pub fn shape(&self) -> String {
        format!("{}×{}", self.rows, self.cols)
    }
}

/// Reads the matrix in `spec`: a `.npy`, `.npz` (optionally `FILE.npz:NAME`) or `.csv` file;
/// every entry must be finite.
pub fn read_matrix(spec: &str) -> Result<Matrix, Error> {
    let (file, name) = split_npz(spec);
    let ext = Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let (shape, values) = match ext.as_deref() {
        Some("npy") => read_npy_file(spec, file)?,
        Some("npz") => read_npz_file(spec, file, name)?,
        Some("csv") => read_csv_file(spec, file)?,
        _ => {
            return Err(data(
                spec,
                DataProblem::Format("not a .npy, .npz or .csv file".into()),
            ));
        }
    };
    Matrix::new(spec, &shape, values)
}

impl Matrix {
    /// The matrix named `name` (a file as given, or an argument's name) of the given shape
    /// (a vector of `n` entries is `n × 1`) with the entries `values` (row-major): refused,
    /// naming it, unless it is a non-empty vector or matrix of finite entries.
    pub fn new(name: &str, shape: &[usize], values: Vec<f64>) -> Result<Self, Error> {
        let (rows, cols) = match *shape {
            [n] => (n, 1),
            [r, c] => (r, c),
            _ => {
                return Err(data(
                    name,
                    DataProblem::Shape(format!(
                        "has {} dimensions {shape:?}: a vector or a matrix is needed",
                        shape.len()
                    )),
                ));
            }
        };
        if rows == 0 || cols == 0 {
            return Err(data(
                name,
                DataProblem::Shape(format!("is empty ({rows}×{cols})")),
            ));
        }
        if rows.checked_mul(cols) != Some(values.len()) {
            return Err(data(
                name,
                DataProblem::Shape(format!(
                    "has {} entries for its shape {rows}×{cols}",
                    values.len()
                )),
            ));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(data(
                name,
                DataProblem::NonFinite {
                    row: i / cols,
                    col: i % cols,
                    value: values[i],
                },
            ));
        }
        Ok(Self {
            path: name.to_string(),
            rows,
            cols,
            values,
        })
    }
}

/// Writes `values` (row-major, C order) as an `f64` `.npy` file of the given shape.
pub fn write_npy(path: &Path, shape: &[usize], values: &[f64]) -> Result<(), Error> {
    let write_err = |e: std::io::Error| Error::Write {
        path: path.display().to_string(),
        source: e,
    };
    let array = ArrayD::from_shape_vec(IxDyn(shape), values.to_vec()).map_err(|e| {
        write_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            e.to_string(),
        ))
    })?;
    let file = File::create(path).map_err(write_err)?;
    let mut out = std::io::BufWriter::new(file);
    array
        .write_npy(&mut out)
        .map_err(|e| write_err(std::io::Error::other(e.to_string())))?;
    use std::io::Write;
    out.flush().map_err(write_err)
}

/// `FILE.npz:NAME` into the file and the array's name.
fn split_npz(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once(".npz:") {
        Some((stem, name)) if !name.is_empty() => (&spec[..stem.len() + 4], Some(name)),
        _ => (spec, None),
    }
}

fn data(path: &str, problem: DataProblem) -> Error {
    Error::Data {
        path: path.to_string(),
        problem,
    }
}

fn open(spec: &str, file: &str) -> Result<BufReader<File>, Error> {
    File::open(file)
        .map(BufReader::new)
        .map_err(|source| Error::Io {
            path: spec.to_string(),
            source,
        })
}

/// The read of one array as one element type: its error if the file could not be opened
/// (outer) or is not an array of that type (inner).
type Attempt<T> = Result<Result<ArrayD<T>, ReadNpyError>, Error>;

/// An array's shape and entries (in logical C order, whatever the file's order): read as
/// `f64`, or, if the file holds another element type, as `f32` widened exactly.
fn float_array(
    spec: &str,
    as_f64: impl FnOnce() -> Attempt<f64>,
    as_f32: impl FnOnce() -> Attempt<f32>,
) -> Result<(Vec<usize>, Vec<f64>), Error> {
    let array = match as_f64()? {
        Ok(a) => a,
        Err(ReadNpyError::WrongDescriptor(_)) => {
            as_f32()?.map_err(|e| npy_error(spec, e))?.mapv(f64::from)
        }
        Err(e) => return Err(npy_error(spec, e)),
    };
    Ok((array.shape().to_vec(), array.iter().copied().collect()))
}

fn npy_error(spec: &str, e: ReadNpyError) -> Error {
    match e {
        ReadNpyError::WrongDescriptor(d) => data(
            spec,
            DataProblem::Dtype(format!(
                "holds elements of type {d}: float64 or float32 is needed (convert with \
                 .astype('float64'))"
            )),
        ),
        ReadNpyError::Io(source) => Error::Io {
            path: spec.to_string(),
            source,
        },
        other => data(
            spec,
            DataProblem::Format(format!("not a valid .npy: {other}")),
        ),
    }
}

fn read_npy_file(spec: &str, file: &str) -> Result<(Vec<usize>, Vec<f64>), Error> {
    float_array(
        spec,
        || Ok(ArrayD::<f64>::read_npy(open(spec, file)?)),
        || Ok(ArrayD::<f32>::read_npy(open(spec, file)?)),
    )
}

fn read_npz_file(
    spec: &str,
    file: &str,
    name: Option<&str>,
) -> Result<(Vec<usize>, Vec<f64>), Error> {
    let zip_err = |e: ReadNpzError| match e {
        ReadNpzError::Npy(e) => npy_error(spec, e),
        other => data(
            spec,
            DataProblem::Format(format!("not a valid .npz: {other}")),
        ),
    };
    let mut npz = NpzReader::new(open(spec, file)?).map_err(zip_err)?;
    let names = npz.names().map_err(zip_err)?;
    let name = match name {
        Some(n) if names.iter().any(|m| m == n) => n.to_string(),
        Some(n) => {
            return Err(data(
                spec,
                DataProblem::Format(format!("has no array `{n}` (it has {names:?})")),
            ));
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(data(
                spec,
                DataProblem::Format(format!(
                    "holds {} arrays {names:?}: name one, as {file}:NAME",
                    names.len()
                )),
            ));
        }
    };
    // An inner read error is the array's (its element type); any other is the archive's.
    fn attempt<T>(r: Result<ArrayD<T>, ReadNpzError>, spec: &str) -> Attempt<T> {
        match r {
            Ok(a) => Ok(Ok(a)),
            Err(ReadNpzError::Npy(e)) => Ok(Err(e)),
            Err(e) => Err(data(
                spec,
                DataProblem::Format(format!("not a valid .npz: {e}")),
            )),
        }
    }
    let first = npz.by_name::<_, IxDyn>(&name);
    let as_f64 = attempt(first, spec);
    float_array(
        spec,
        || as_f64,
        || attempt(npz.by_name::<_, IxDyn>(&name), spec),
    )
}

fn read_csv_file(spec: &str, file: &str) -> Result<(Vec<usize>, Vec<f64>), Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(open(spec, file)?);
    let mut values = Vec::new();
    let (mut rows, mut cols) = (0usize, 0usize);
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(spec, e))?;
        let line = record.position().map_or(rows as u64 + 1, |p| p.line());
        for (j, field) in record.iter().enumerate() {
            let v: f64 = field.parse().map_err(|_| {
                data(
                    spec,
                    DataProblem::NotANumber {
                        line,
                        field: j + 1,
                        text: field.to_string(),
                    },
                )
            })?;
            values.push(v);
        }
        cols = record.len();
        rows += 1;
    }
    Ok((vec![rows, cols], values))
}

fn csv_error(spec: &str, e: csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => data(
            spec,
            DataProblem::Ragged {
                line: pos.as_ref().map_or(0, |p| p.line()),
                expected: *expected_len as usize,
                found: *len as usize,
            },
        ),
        _ => data(spec, DataProblem::Format(format!("not a valid CSV: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh directory for one test's files.
    fn dir(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mlamp-arrays-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// An `.npy` file's bytes written by hand from NumPy's format description (version 1.0:
    /// magic, header length, the header dict padded with spaces to a multiple of 64 bytes
    /// ending in a newline, then the raw data).
    fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        let pad = (64 - (10 + header.len() + 1) % 64) % 64;
        header.push_str(&" ".repeat(pad));
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    fn file(d: &Path, name: &str, bytes: &[u8]) -> String {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    fn problem(spec: &str) -> DataProblem {
        match read_matrix(spec) {
            Err(Error::Data { path, problem }) => {
                assert_eq!(path, spec);
                problem
            }
            other => panic!("{spec}: expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn npy_round_trip_keeps_every_bit() {
        let d = dir("round-trip");
        let values: Vec<f64> = (0..12)
            .map(|i| (i as f64 - 5.5) * 0.1f64.powi(i) + 1e-300)
            .collect();
        let p = d.join("m.npy");
        write_npy(&p, &[4, 3], &values).unwrap();
        let m = read_matrix(p.to_str().unwrap()).unwrap();
        assert_eq!((m.rows, m.cols), (4, 3));
        assert!(
            m.values
                .iter()
                .zip(&values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        // A vector is a column.
        let p = d.join("v.npy");
        write_npy(&p, &[5], &values[..5]).unwrap();
        let v = read_matrix(p.to_str().unwrap()).unwrap();
        assert_eq!((v.rows, v.cols, &v.values[..]), (5, 1, &values[..5]));
    }

    #[test]
    fn fortran_order_and_f32_and_big_endian_files_read_as_their_matrix() {
        let d = dir("orders");
        // The matrix [[1, 2, 3], [4, 5, 6]] stored column by column.
        let col_major: Vec<u8> = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = file(&d, "f.npy", &npy_bytes("<f8", true, "(2, 3)", &col_major));
        let m = read_matrix(&f).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // f32, row by row: widened exactly (0.1f32 is not 0.1).
        let f32s = [0.1f32, -2.5, 3e-38, 7.0];
        let bytes: Vec<u8> = f32s.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f = file(&d, "s.npy", &npy_bytes("<f4", false, "(2, 2)", &bytes));
        let m = read_matrix(&f).unwrap();
        assert_eq!(m.values, f32s.map(f64::from));
        // Big-endian f64.
        let bytes: Vec<u8> = [1.5f64, -0.25]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let f = file(&d, "b.npy", &npy_bytes(">f8", false, "(2,)", &bytes));
        assert_eq!(read_matrix(&f).unwrap().values, [1.5, -0.25]);
    }

    #[test]
    fn npz_archives_by_name_compressed_or_not() {
        let d = dir("npz");
        let a = ndarray::arr2(&[[1.0f64, 2.0], [3.0, 4.0]]);
        let b = ndarray::arr1(&[0.5f32, 0.25, 0.125]);
        for compressed in [false, true] {
            let p = d.join(format!("two-{compressed}.npz"));
            let f = File::create(&p).unwrap();
            let mut w = if compressed {
                ndarray_npy::NpzWriter::new_compressed(f)
            } else {
                ndarray_npy::NpzWriter::new(f)
            };
            w.add_array("W1", &a).unwrap();
            w.add_array("y", &b).unwrap();
            w.finish().unwrap();
            let s = p.display().to_string();
            let m = read_matrix(&format!("{s}:W1")).unwrap();
            assert_eq!(
                (m.rows, m.cols, &m.values[..]),
                (2, 2, &[1.0, 2.0, 3.0, 4.0][..])
            );
            let y = read_matrix(&format!("{s}:y")).unwrap();
            assert_eq!(
                (y.rows, y.cols, &y.values[..]),
                (3, 1, &[0.5, 0.25, 0.125][..])
            );
            // Two arrays and no name, or a name it lacks: typed errors naming the file.
            assert!(matches!(problem(&s), DataProblem::Format(m) if m.contains("W1")));
            assert!(
                matches!(problem(&format!("{s}:W2")), DataProblem::Format(m) if m.contains("W2"))
            );
        }
        // One array: no name needed.
        let p = d.join("one.npz");
        let mut w = ndarray_npy::NpzWriter::new(File::create(&p).unwrap());
        w.add_array("x", &a).unwrap();
        w.finish().unwrap();
        assert_eq!(
            read_matrix(p.to_str().unwrap()).unwrap().values,
            [1.0, 2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn wrong_element_types_are_typed_errors() {
        let d = dir("dtypes");
        let ints: Vec<u8> = [1i64, 2, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let f = file(&d, "i.npy", &npy_bytes("<i8", false, "(3,)", &ints));
        assert!(matches!(problem(&f), DataProblem::Dtype(m) if m.contains("<i8")));
        let complex: Vec<u8> = [1.0f64, 0.0, 2.0, -1.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = file(&d, "c.npy", &npy_bytes("<c16", false, "(2,)", &complex));
        assert!(matches!(problem(&f), DataProblem::Dtype(m) if m.contains("<c16")));
        // An array in an archive too.
        let p = d.join("i.npz");
        let mut w = ndarray_npy::NpzWriter::new(File::create(&p).unwrap());
        w.add_array("W1", &ndarray::arr1(&[1i32, 2])).unwrap();
        w.finish().unwrap();
        assert!(matches!(problem(p.to_str().unwrap()), DataProblem::Dtype(m) if m.contains("i4")));
        // Three dimensions, or none; a truncated file; another extension.
        let f = file(
            &d,
            "3d.npy",
            &npy_bytes("<f8", false, "(1, 1, 1)", &1.0f64.to_le_bytes()),
        );
        assert!(matches!(problem(&f), DataProblem::Shape(_)));
        let f = file(
            &d,
            "0d.npy",
            &npy_bytes("<f8", false, "()", &1.0f64.to_le_bytes()),
        );
        assert!(matches!(problem(&f), DataProblem::Shape(_)));
        let f = file(
            &d,
            "short.npy",
            &npy_bytes("<f8", false, "(4,)", &1.0f64.to_le_bytes()),
        );
        assert!(matches!(problem(&f), DataProblem::Format(_)));
        let f = file(&d, "m.txt", b"1,2\n");
        assert!(matches!(problem(&f), DataProblem::Format(_)));
        assert!(matches!(
            read_matrix(d.join("missing.npy").to_str().unwrap()),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn non_finite_entries_are_named_by_position() {
        let d = dir("nan");
        let p = d.join("w.npy");
        write_npy(&p, &[2, 3], &[0.0, 1.0, 2.0, 3.0, f64::NAN, 5.0]).unwrap();
        let s = p.to_str().unwrap();
        assert!(
            matches!(problem(s), DataProblem::NonFinite { row: 1, col: 1, value } if value.is_nan())
        );
        let e = read_matrix(s).unwrap_err().to_string();
        assert!(
            e.starts_with(s) && e.contains("[1, 1]") && !e.contains('\n'),
            "{e}"
        );
        let f = file(&d, "inf.csv", b"1, 2\n3, inf\n");
        assert!(
            matches!(problem(&f), DataProblem::NonFinite { row: 1, col: 1, value } if value == f64::INFINITY)
        );
    }

    #[test]
    fn csv_reads_rows_and_refuses_ragged_lines_and_words() {
        let d = dir("csv");
        let f = file(&d, "m.csv", b"# a comment\n1, 2.5, -3e-2\n4,5,6\n");
        let m = read_matrix(&f).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.values, [1.0, 2.5, -3e-2, 4.0, 5.0, 6.0]);
        let f = file(&d, "ragged.csv", b"1,2,3\n4,5,6\n7,8\n");
        assert_eq!(
            problem(&f),
            DataProblem::Ragged {
                line: 3,
                expected: 3,
                found: 2
            }
        );
        let e = read_matrix(&f).unwrap_err().to_string();
        assert!(e.contains("line 3") && !e.contains('\n'), "{e}");
        let f = file(&d, "word.csv", b"1,2\n3,x\n");
        assert_eq!(
            problem(&f),
            DataProblem::NotANumber {
                line: 2,
                field: 2,
                text: "x".into()
            }
        );
        let f = file(&d, "empty.csv", b"");
        assert!(matches!(problem(&f), DataProblem::Shape(_)));
    }
}
