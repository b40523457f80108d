//! The HTML report of a replay: one self-contained file (inline CSS, no script, no external
//! resource) with the run's summary, an index of the conversations, and for each one its turns
//! with the original and the replayed reply side by side, divergences marked.
//!
//! Every text in it comes from outside (transcripts, ids, error messages) and is escaped; a
//! Content-Security-Policy allowing nothing but the inline style is a second guard, so nothing
//! a transcript holds can run when the report is opened.
//!
//! Markers a reader (or a test) can rely on: each conversation is a
//! `<section class="conversation STATUS" data-status="STATUS">`, each compared turn a
//! `<tr class="turn">` with `diverged` added when it differs, `first-divergence` on the first,
//! and `data-divergence="KIND …"` naming what differed (`function`, `handoff`, `ended`, `text`).

use std::fmt::Write as _;

use super::compare::Side;
use super::report::Summary;
use super::run::{ReplayResult, Status, TurnComparison, turn_label};

/// Escapes `text` for HTML content and double- or single-quoted attributes. Control characters
/// other than tab, line feed and carriage return (which HTML forbids) become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
:root { color-scheme: light; --clean: #1a7f37; --diverged: #b35900; --errored: #cf222e;
  --skipped: #6e7781; --line: #d0d7de; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto;
  padding: 1.5rem; max-width: 1400px; color: #1f2328; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.05rem; margin: 0; display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; }
code, .id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .92em; }
.target { color: #59636e; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
table.counts { width: auto; margin-bottom: 1.5rem; }
table.counts td { text-align: right; min-width: 5rem; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 1rem; color: #fff;
  font-size: .78rem; font-weight: 600; letter-spacing: .02em; }
.badge.clean { background: var(--clean); } .badge.diverged { background: var(--diverged); }
.badge.errored { background: var(--errored); } .badge.skipped { background: var(--skipped); }
nav { margin-bottom: 2rem; }
section.conversation { border: 1px solid var(--line); border-left-width: 6px; border-radius: 6px;
  padding: .9rem 1rem; margin: 0 0 1.25rem; }
section.clean { border-left-color: var(--clean); } section.diverged { border-left-color: var(--diverged); }
section.errored { border-left-color: var(--errored); } section.skipped { border-left-color: var(--skipped); }
.meta { color: #59636e; margin: .3rem 0 .6rem; }
.problem { margin: .3rem 0 .7rem; font-weight: 600; }
.problem.diverged { color: var(--diverged); } .problem.errored { color: var(--errored); }
table.turns td.reply { width: 36%; white-space: pre-wrap; word-break: break-word; }
table.turns td.caller { width: 18%; white-space: pre-wrap; word-break: break-word; }
table.turns td.num, table.turns td.sim { white-space: nowrap; width: 1%; }
tr.turn.diverged td { background: #fff4e5; }
tr.turn.first-divergence td:first-child { box-shadow: inset 4px 0 0 var(--diverged); }
.marker { display: block; font-size: .72rem; font-weight: 700; color: var(--diverged);
  text-transform: uppercase; }
.same { color: var(--clean); font-weight: 700; } .differs { color: var(--diverged); font-weight: 700; }
ul.facts { list-style: none; margin: .35rem 0 0; padding: 0; font-size: .82rem; color: #59636e; }
ul.facts li { display: inline-block; margin-right: .6rem; }
tr.differences td { background: #fff8f0; font-size: .85rem; }
tr.differences ul { margin: 0; padding-left: 1.2rem; }
.kind { font-weight: 700; }
.silence, .none { color: #8c959f; font-style: italic; }
footer { color: #8c959f; font-size: .8rem; margin-top: 2rem; }
";

/// The report for `results`.
pub fn render(results: &[ReplayResult], summary: &Summary) -> String {
    let mut h = String::with_capacity(16 * 1024 + results.len() * 4096);
    let title = format!(
        "polyai chat replay: {} diverged, {} errored of {} conversations",
        summary.diverged, summary.errored, summary.total
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(h, "<header>\n<h1>polyai chat replay</h1>");
    let _ = writeln!(
        h,
        "<p class=\"target\">Agent <code>{}</code>, {}; replies at least {:.2} alike (word similarity) are the same.{}</p>",
        escape(&summary.agent_id),
        escape(&summary.target()),
        summary.threshold,
        if summary.interrupted {
            format!(
                " <strong>Interrupted</strong>: {} conversation{} did not finish.",
                summary.not_finished,
                if summary.not_finished == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        h,
        "<table class=\"counts\" id=\"counts\"><tr><th>conversations</th><th>clean</th><th>diverged</th>\
         <th>errored</th><th>skipped</th><th>not finished</th></tr>\n<tr><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td></tr></table>\n</header>",
        summary.total,
        summary.clean,
        summary.diverged,
        summary.errored,
        summary.skipped,
        summary.not_finished
    );
    index(&mut h, results);
    h.push_str("<main>\n");
    for (n, r) in results.iter().enumerate() {
        conversation(&mut h, n, r);
    }
    let _ = writeln!(
        h,
        "</main>\n<footer>Started {}; took {} ms. Made by polyai {}.</footer>\n</body>\n</html>",
        escape(&summary.started_at),
        summary.duration_ms,
        env!("CARGO_PKG_VERSION")
    );
    h
}

fn class(status: Status) -> &'static str {
    status.as_str()
}

fn index(h: &mut String, results: &[ReplayResult]) {
    h.push_str(
        "<nav>\n<table class=\"index\"><tr><th>result</th><th>conversation</th><th>turns</th>\
         <th>first divergence</th></tr>\n",
    );
    for (n, r) in results.iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr class=\"{c}\"><td><span class=\"badge {c}\">{}</span></td><td><a class=\"id\" href=\"#c{n}\">{}</a></td>\
             <td>{}</td><td>{}</td></tr>",
            r.status.label(),
            escape(&r.conversation_id),
            r.turns_replayed,
            escape(&r.problem().unwrap_or_else(|| "-".to_owned())),
            c = class(r.status),
        );
    }
    h.push_str("</table>\n</nav>\n");
}

fn conversation(h: &mut String, n: usize, r: &ReplayResult) {
    let c = class(r.status);
    let _ = writeln!(
        h,
        "<section class=\"conversation {c}\" id=\"c{n}\" data-status=\"{c}\" data-conversation-id=\"{}\">",
        escape(&r.conversation_id)
    );
    let _ = writeln!(
        h,
        "<h2><span class=\"badge {c}\">{}</span> <code>{}</code></h2>",
        r.status.label(),
        escape(&r.conversation_id)
    );
    let mut meta = Vec::new();
    if let Some(record) = &r.conversation {
        if let Some(started) = record.started_at {
            meta.push(format!("recorded {started}"));
        }
        if let Some(channel) = &record.channel {
            meta.push(channel.clone());
        }
        if let Some(variant) = record.variant_name.as_ref().or(record.variant_id.as_ref()) {
            meta.push(format!("recorded on variant {variant:?}"));
        }
    }
    meta.extend(r.how());
    meta.push(format!("{} ms", r.duration_ms));
    let _ = writeln!(h, "<p class=\"meta\">{}</p>", escape(&meta.join(" · ")));
    if let Some(problem) = r.problem() {
        let _ = writeln!(h, "<p class=\"problem {c}\">{}</p>", escape(&problem));
    }
    if !r.turns.is_empty() {
        h.push_str(
            "<table class=\"turns\"><thead><tr><th>turn</th><th>caller</th><th>original</th>\
             <th>replayed</th><th>similarity</th></tr></thead>\n<tbody>\n",
        );
        let first = r.first_diverged_turn().map(|t| t.turn_index);
        for turn in &r.turns {
            turn_row(h, n, turn, first == Some(turn.turn_index));
        }
        h.push_str("</tbody></table>\n");
    }
    if r.turns_not_sent > 0 {
        let _ = writeln!(
            h,
            "<p class=\"meta\">{} caller turn{} not sent.</p>",
            r.turns_not_sent,
            if r.turns_not_sent == 1 { "" } else { "s" }
        );
    }
    h.push_str("</section>\n");
}

fn turn_row(h: &mut String, n: usize, turn: &TurnComparison, first: bool) {
    let mut classes = vec!["turn"];
    if turn.diverged() {
        classes.push("diverged");
    }
    if first {
        classes.push("first-divergence");
    }
    let kinds: Vec<&str> = turn.differences.iter().map(|d| d.kind.as_str()).collect();
    let _ = write!(
        h,
        "<tr class=\"{}\" id=\"c{n}-t{}\" data-turn-index=\"{}\"{}>",
        classes.join(" "),
        turn.turn_index,
        turn.turn_index,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" data-divergence=\"{}\"", kinds.join(" "))
        }
    );
    let mark = if turn.diverged() {
        "<span class=\"differs\" title=\"differs\">≠</span>"
    } else {
        "<span class=\"same\" title=\"the same within the rules\">=</span>"
    };
    let _ = write!(
        h,
        "<td class=\"num\">{mark} {}{}</td>",
        escape(&turn_label(turn.turn_index)),
        if first {
            "<span class=\"marker\">first divergence</span>"
        } else {
            ""
        }
    );
    let caller = match turn.user_input.as_deref() {
        None => "<span class=\"none\">(greeting)</span>".to_owned(),
        Some("") => "<span class=\"silence\">(silence)</span>".to_owned(),
        Some(text) => escape(text),
    };
    let _ = write!(h, "<td class=\"caller\">{caller}</td>");
    side_cell(h, "original", &turn.original);
    side_cell(h, "replayed", &turn.replayed);
    let sim = turn
        .similarity
        .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}"));
    let _ = writeln!(h, "<td class=\"sim\">{sim}</td></tr>");
    if turn.diverged() {
        h.push_str("<tr class=\"differences\"><td></td><td colspan=\"4\"><ul>");
        for d in &turn.differences {
            let _ = write!(
                h,
                "<li class=\"difference {k}\"><span class=\"kind\">{k}</span>: {}</li>",
                escape(&d.message),
                k = d.kind.as_str()
            );
        }
        h.push_str("</ul></td></tr>\n");
    }
}

fn side_cell(h: &mut String, name: &str, side: &Side) {
    let text = side.agent_response.as_deref().map_or_else(
        || "<span class=\"none\">(not recorded)</span>".to_owned(),
        escape,
    );
    let _ = write!(h, "<td class=\"reply {name}\">{text}");
    let facts = super::report::side_notes(side, true);
    if !facts.is_empty() {
        h.push_str("<ul class=\"facts\">");
        for fact in facts {
            let _ = write!(h, "<li>{}</li>", escape(&fact));
        }
        h.push_str("</ul>");
    }
    h.push_str("</td>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_html_gives_meaning_to_is_escaped() {
        assert_eq!(
            escape("<script>document.title='pwned'</script> & \"x\""),
            "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; &amp; &quot;x&quot;"
        );
        assert_eq!(escape("a\u{0}b\u{7f}c\n"), "a\u{FFFD}b\u{FFFD}c\n");
        assert_eq!(escape("café 🎧"), "café 🎧");
    }
}
