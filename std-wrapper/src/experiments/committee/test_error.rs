//! Test error of an estimate (placeholder, filled in by the next commit).
