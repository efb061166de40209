//! The host side's error type.

use thiserror::Error;

/// Everything that can go wrong between a model file and a result.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An output file or directory could not be written.
    #[error("cannot write {path}: {source} (choose another output directory)")]
    Write {
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The model file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{location}: {message}")]
    Parse {
        /// `file:line:column`.
        location: String,
        /// The parser's message, on one line.
        message: String,
    },
    /// A value is outside its domain; `field` is its path in the model file.
    #[error("{field}: {reason}")]
    Invalid {
        /// Path of the field, e.g. `layers[1].channel.noise_var`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A run would need more memory than it may use: the estimate of what it allocates
    /// (weights, decompositions, buffers) against the memory available or `--max-memory`.
    #[error(
        "{what} needs about {} of memory, more than the {} {limit_from}{hint}",
        crate::bytes::human(*needed),
        crate::bytes::human(*limit)
    )]
    Memory {
        /// What needs it (`"ML-AMP at n = 40000"`).
        what: String,
        /// The bytes needed.
        needed: u64,
        /// The bytes it may use.
        limit: u64,
        /// Where the limit comes from (`"available"`, `"allowed by --max-memory"`).
        limit_from: &'static str,
        /// What to change (`": --n 9000 fits"`), or empty.
        hint: String,
    },
    /// A computation produced NaN or an infinity where a result was due.
    #[error("{what} became NaN or infinite: {hint}")]
    NonFinite {
        /// What did.
        what: String,
        /// What to change.
        hint: String,
    },
    /// An array file (weights, an observation, a ground truth) cannot be used: its format,
    /// element type, shape or an entry; `path` is the file as given.
    #[error("{path}: {problem}")]
    Data {
        /// The file (`FILE.npz:NAME` for an array of an archive).
        path: String,
        /// What is wrong, and where.
        problem: DataProblem,
    },
    /// An error from the core (shapes, non-finite data, parameters).
    #[error(transparent)]
    Core(#[from] mlamp_core::Error),
}

/// What is wrong with an array file ([`Error::Data`]).
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum DataProblem {
    /// Not readable as the format its name says (or an archive without the array asked for).
    #[error("{0}")]
    Format(String),
    /// Elements of a type other than `float64` or `float32`.
    #[error("{0}")]
    Dtype(String),
    /// Not a vector or a matrix, or not the shape the model and the other arrays need.
    #[error("{0}")]
    Shape(String),
    /// A NaN or infinite entry (0-based row and column).
    #[error("entry [{row}, {col}] (0-based row, column) is {value}: every entry must be finite")]
    NonFinite {
        /// Its row.
        row: usize,
        /// Its column.
        col: usize,
        /// The entry.
        value: f64,
    },
    /// A CSV line with another number of fields than the first.
    #[error("line {line} has {found} fields, the first line {expected}")]
    Ragged {
        /// The line (1-based).
        line: u64,
        /// Fields of the first line.
        expected: usize,
        /// Fields of this one.
        found: usize,
    },
    /// A CSV field that is not a number.
    #[error("line {line}, field {field}: `{text}` is not a number")]
    NotANumber {
        /// The line (1-based).
        line: u64,
        /// The field (1-based).
        field: usize,
        /// What it holds.
        text: String,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Wraps a core error raised while building the object at `field`, naming the field.
    pub fn at(field: &str, e: mlamp_core::Error) -> Self {
        match e {
            mlamp_core::Error::InvalidParameter { name, requirement } => {
                Error::invalid(format!("{field}.{name}"), format!("must be {requirement}"))
            }
            mlamp_core::Error::Unsupported { field: f, reason } => {
                Error::invalid(format!("{field}.{f}"), reason)
            }
            other => Error::invalid(field, other.to_string()),
        }
    }
}
