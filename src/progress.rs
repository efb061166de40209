//! Progress on a terminal for the command-line tool and the examples: a spinner while the
//! length of the work is unknown, a bar that counts the steps that remain once it is; nothing
//! on a pipe or with `--json`.

use crate::algo::Tick;

/// Whether progress may be drawn: on a terminal, and not with `--json`.
pub fn interactive(json: bool) -> bool {
    use std::io::IsTerminal;
    !json && std::io::stderr().is_terminal()
}

/// A spinner with the elapsed time on stderr for work whose length is not known in advance
/// (hidden on a pipe and with `--json`).
pub fn spinner(json: bool, what: String) -> indicatif::ProgressBar {
    if !interactive(json) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(what);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Turns `spinner` into a bar of `steps` (iterations, starts) at the first [`Tick`] (the
/// sampling and the decompositions before it keep the spinner): done of at most, with the
/// last change (a run stops early once it is below the tolerance) where the step has one.
pub fn counting<'b>(spinner: &'b indicatif::ProgressBar, steps: &str) -> impl Fn(Tick) + Sync + 'b {
    let template = format!("{{bar:40}} {{pos}}/{{len}} {steps}{{msg}} ({{elapsed}})");
    move |t: Tick| {
        if spinner.is_hidden() {
            return;
        }
        if spinner.length().is_none() {
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                spinner.set_style(style);
            }
            spinner.set_length(t.most as u64);
            spinner.set_message("");
        }
        spinner.set_position(t.done as u64);
        if t.change.is_finite() {
            spinner.set_message(format!(", change {:.1e}", t.change));
        }
    }
}

/// A bar of `len` `steps` (e.g. "state evolutions", "runs") on stderr (hidden on a pipe and
/// with `--json`).
pub fn progress(json: bool, len: u64, steps: &str) -> indicatif::ProgressBar {
    if !interactive(json) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {steps} ({{eta}})");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
