//! Progress bars on stderr (hidden when stderr is not a terminal, or when not wanted).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps with `template`, or a spinner with `spinner` when the length is
/// unknown; hidden unless `show`.
pub fn bar(show: bool, len: Option<u64>, template: &str, spinner: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(if len.is_some() { template } else { spinner }) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
