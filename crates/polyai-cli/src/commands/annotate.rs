//! `conversations annotate`: QA findings from repeated flags or from a JSON/CSV file.

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use polyai_data::{Annotation, AnnotationType, Role};
use serde::Deserialize;

use crate::cli::{AnnotateArgs, AnnotationKind, AnnotationRole, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::parse_csv;
use crate::output::stdout_error;
use crate::session::read_text;

/// One finding as read from flags or a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Finding {
    /// Zero-based turn index.
    #[serde(alias = "turnId", alias = "turn_id")]
    pub turn: i64,
    /// Side of the turn.
    pub role: AnnotationRole,
    /// Issue type.
    #[serde(rename = "type", alias = "annotationType", alias = "annotation_type")]
    pub kind: AnnotationKind,
}

impl From<Finding> for Annotation {
    fn from(f: Finding) -> Self {
        let role = match f.role {
            AnnotationRole::User => Role::User,
            AnnotationRole::Agent => Role::Agent,
        };
        let kind = match f.kind {
            AnnotationKind::MissingTopic => AnnotationType::MissingTopic,
            AnnotationKind::WrongTranscript => AnnotationType::WrongTranscript,
            AnnotationKind::WrongInfo => AnnotationType::WrongInfo,
        };
        Annotation::new(f.turn, role, kind)
    }
}

/// `conversations annotate`.
pub async fn annotate(ctx: &Ctx<'_>, args: &AnnotateArgs) -> Result<(), CliError> {
    let mut findings = match &args.from {
        Some(path) => read_findings(path)?,
        None => Vec::new(),
    };
    findings.extend(findings_from_flags(args)?);
    if findings.is_empty() {
        return Err(CliError::Usage(
            "nothing to annotate: give --turn N --role R --type T (repeatable) or --from FILE"
                .into(),
        ));
    }
    let agent = ctx.session.agent()?;
    agent
        .annotate(&args.id, findings.iter().copied().map(Annotation::from))
        .await
        .map_err(|err| {
            CliError::unconfirmed(
                err,
                || format!("the annotations of {}", args.id),
                || format!("polyai conversations get {} -O json", args.id),
            )
        })?;
    let mut out = crate::output::stdout();
    match ctx.format {
        OutputFormat::Table => writeln!(
            out,
            "added {} annotation{} to {}",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            args.id
        ),
        _ => {
            let annotations = findings
                .iter()
                .map(|f| Annotation::from(*f))
                .map(|a| crate::records::AnnotationRecord {
                    turn_index: a.turn_id(),
                    role: a.role().to_string(),
                    annotation_type: a.kind().to_string(),
                })
                .collect();
            ctx.write_record(
                &mut out,
                &crate::records::AddedAnnotations {
                    conversation_id: args.id.clone(),
                    added: findings.len(),
                    annotations,
                },
            )
        }
    }
    .map_err(stdout_error)
}

/// Pairs the i-th `--turn` with the i-th `--role` and `--type`.
pub fn findings_from_flags(args: &AnnotateArgs) -> Result<Vec<Finding>, CliError> {
    let n = args.turn.len();
    if args.role.len() != n || args.kind.len() != n {
        return Err(CliError::Usage(format!(
            "each annotation needs --turn, --role and --type: got {} --turn, {} --role, {} --type",
            n,
            args.role.len(),
            args.kind.len()
        )));
    }
    let findings: Vec<Finding> = (0..n)
        .map(|i| Finding {
            turn: args.turn[i],
            role: args.role[i],
            kind: args.kind[i],
        })
        .collect();
    check_turns(&findings)?;
    Ok(findings)
}

fn check_turns(findings: &[Finding]) -> Result<(), CliError> {
    match findings.iter().find(|f| f.turn < 0) {
        Some(f) => Err(CliError::Usage(format!(
            "turn {} is negative; turns are zero-based indexes",
            f.turn
        ))),
        None => Ok(()),
    }
}

/// Reads findings from a JSON array or a CSV file with the header `turn,role,type`.
pub fn read_findings(path: &Path) -> Result<Vec<Finding>, CliError> {
    let text = read_text(path)?;
    let findings =
        parse_findings(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    check_turns(&findings)?;
    Ok(findings)
}

/// Parses findings from JSON (`[{"turn":1,"role":"user","type":"wrong_info"}]`) or CSV.
pub fn parse_findings(text: &str) -> Result<Vec<Finding>, String> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"));
    }
    let records = parse_csv(text.trim_start_matches('\u{feff}'))?;
    let Some((header, rows)) = records.split_first() else {
        return Ok(Vec::new());
    };
    let column = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
            .ok_or_else(|| {
                format!(
                    "CSV header needs columns turn,role,type (got {})",
                    header.join(",")
                )
            })
    };
    let turn = column(&["turn", "turnId", "turn_id"])?;
    let role = column(&["role"])?;
    let kind = column(&["type", "annotationType", "annotation_type"])?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let line = i + 2;
            let cell = |c: usize| row.get(c).map(|s| s.trim()).unwrap_or_default();
            Ok(Finding {
                turn: cell(turn)
                    .parse()
                    .map_err(|_| format!("line {line}: turn `{}` is not a number", cell(turn)))?,
                role: AnnotationRole::from_str(cell(role), true)
                    .map_err(|_| format!("line {line}: role `{}` is not user or agent", cell(role)))?,
                kind: AnnotationKind::from_str(cell(kind), true).map_err(|_| {
                    format!(
                        "line {line}: type `{}` is not missing_topic, wrong_transcript or wrong_info",
                        cell(kind)
                    )
                })?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_csv_files_parse_alike() {
        let json = r#"[{"turn":1,"role":"user","type":"wrong_transcript"},
                       {"turnId":3,"role":"agent","annotationType":"wrong_info"}]"#;
        let csv = "role,turn,type\r\nuser,1,wrong_transcript\nagent,3,wrong-info\n";
        let a = parse_findings(json).unwrap_or_else(|e| panic!("{e}"));
        let b = parse_findings(csv).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].kind, AnnotationKind::WrongInfo);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let err = parse_findings("turn,role,type\n1,user,wrong_info\nx,user,wrong_info\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("line 3"), "{err}");
        let err = parse_findings("turn,who\n1,user\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("turn,role,type"), "{err}");
    }
}
