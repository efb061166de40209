//! Byte counts for people: printing (`"1.5 GB"`) and parsing (`--max-memory 8G`).

/// `bytes` for people: `"1.5 GB"`, `"320 MB"`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e12 {
        format!("{:.3} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} kB", (b / 1e3).ceil())
    }
}

/// Parses a `--max-memory` value: bytes, or a number with `K`, `M`, `G`, `T` (powers of
/// 1000; `KiB`-style `Ki`, `Mi`, `Gi`, `Ti` are powers of 1024), an optional `B`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let (num, mult) = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("K", 1e3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ]
    .iter()
    .find_map(|&(suf, m)| t.strip_suffix(suf).map(|x| (x, m)))
    .unwrap_or((t, 1.0));
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * mult < u64::MAX as f64 => Ok((v * mult) as u64),
        _ => Err(format!(
            "`{s}` is not a memory size (bytes > 0, or with K, M, G, T: 500M, 8G)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("8G"), Ok(8_000_000_000));
        assert_eq!(parse_bytes("500MB"), Ok(500_000_000));
        assert_eq!(parse_bytes("1Gi"), Ok(1 << 30));
        for bad in ["", "x", "-1G", "0", "nanG", "1e30T"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(320_000_000_000), "320.00 GB");
        assert_eq!(human(57_600_000), "57.6 MB");
    }
}
