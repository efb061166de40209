//! Golden outputs: the exact bytes of a fixed list of commands (every shipped model through
//! `run` with both algorithms and both estimators, `se` on every model, a `phase` scan, the
//! examples' printed figures), recorded in `tests/golden/` before the host side was
//! restructured. A change of output must be deliberate: regenerate with
//! `MLAMP_BLESS=1 cargo test --test golden` and say why in the commit.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One line of `tests/golden/cases.txt`.
struct Case {
    name: String,
    program: String,
    args: Vec<String>,
    files: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(root().join("tests/golden/cases.txt")).expect("cases.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (command, files) = l.split_once(" :: ").unwrap_or((l, ""));
            let mut words = command.split_whitespace().map(String::from);
            Case {
                name: words.next().expect("a name"),
                program: words.next().expect("a program"),
                args: words.collect(),
                files: files.split_whitespace().map(String::from).collect(),
            }
        })
        .collect()
}

/// The example binaries sit beside the test's own `deps` folder: `target/PROFILE/examples`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile = exe.parent().and_then(Path::parent).expect("target/PROFILE");
    profile.join("examples").join(name)
}

/// Runs a case from the repository root; its output as one text.
fn run(case: &Case) -> String {
    let program = match case.program.strip_prefix("example:") {
        Some(name) => example(name),
        None => PathBuf::from(env!("CARGO_BIN_EXE_mlamp")),
    };
    let out = Command::new(&program)
        .args(&case.args)
        .current_dir(root())
        .env_remove("RAYON_NUM_THREADS")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: cannot run {}: {e} (`cargo test` builds the examples; with a --test filter, \
                 run `cargo build --examples` first)",
                case.name,
                program.display()
            )
        });
    let mut text = format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for f in &case.files {
        let body = std::fs::read_to_string(root().join(f)).unwrap_or_else(|e| format!("{e}\n"));
        text += &format!("--- {f}\n{body}");
    }
    text
}

#[test]
fn every_case_gives_its_recorded_bytes() {
    let cases = cases();
    assert!(cases.len() >= 30, "the case list is short: {}", cases.len());
    let bless = std::env::var_os("MLAMP_BLESS").is_some();
    // The cases are independent processes: run them two at a time (the slowest, `se` on
    // the ReLU model, takes most of the wall time).
    // Two runners take the next case from a shared counter, so that one slow case does not
    // leave the other core idle; the outputs go back in the list's order.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut outputs = vec![String::new(); cases.len()];
    let done: Vec<(usize, String)> = std::thread::scope(|s| {
        let runners: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(case) = cases.get(i) else { break mine };
                        mine.push((i, run(case)));
                    }
                })
            })
            .collect();
        runners
            .into_iter()
            .flat_map(|h| h.join().expect("a case runner"))
            .collect()
    });
    for (i, out) in done {
        outputs[i] = out;
    }
    let mut differ = Vec::new();
    for (case, got) in cases.iter().zip(&outputs) {
        let path = root()
            .join("tests/golden")
            .join(format!("{}.out", case.name));
        if bless {
            std::fs::write(&path, got).expect("write a golden file");
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (record it with MLAMP_BLESS=1)", path.display()));
        if *got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            differ.push(format!(
                "{}: first difference at line {}:\n  got  {}\n  want {}",
                case.name,
                line + 1,
                got.lines().nth(line).unwrap_or("<end>"),
                want.lines().nth(line).unwrap_or("<end>")
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
