//! Progress bars on stderr. indicatif hides them when stderr is not a terminal, so pipes and
//! CI logs stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting bytes (a spinner with a byte count when the size is unknown).
pub fn bytes(total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} {bytes} {bytes_per_sec}",
        ),
    };
    styled(bar, template)
}

/// A bar counting conversations.
pub fn items(total: Option<u64>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    styled(
        bar,
        "{bar:40} {pos}/{len} conversations, {elapsed} elapsed, eta {eta}",
    )
}

/// A bar counting finished scenarios of `chat test`.
pub fn scenarios(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    styled(bar, "{bar:40} {pos}/{len} scenarios, {elapsed} elapsed")
}

/// A bar counting finished replays of `chat replay`.
pub fn replays(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    styled(
        bar,
        "{bar:40} {pos}/{len} conversations replayed, {elapsed} elapsed, eta {eta}",
    )
}

fn styled(bar: ProgressBar, template: &str) -> ProgressBar {
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
