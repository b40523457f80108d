//! `conversations annotate`: QA findings from repeated flags or from a JSON/CSV file.

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use polyai_data::annotations::{Annotation, AnnotationType, Role};
use serde::Deserialize;

use crate::cli::{AnnotateArgs, AnnotationKind, AnnotationRole, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::parse_csv;
use crate::output::stdout_error;
use crate::session::read_text;

/// One finding as read from flags or a file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Finding {
    /// The conversation, when the file names it (else the command line's ID).
    #[serde(default, alias = "conversationId", alias = "id")]
    pub conversation_id: Option<String>,
    /// Zero-based turn index.
    #[serde(alias = "turnId", alias = "turn_id")]
    pub turn: i64,
    /// Side of the turn.
    pub role: AnnotationRole,
    /// Issue type.
    #[serde(rename = "type", alias = "annotationType", alias = "annotation_type")]
    pub kind: AnnotationKind,
    /// Where it was read, e.g. `notes.csv line 3` (empty for flags).
    #[serde(skip)]
    pub place: String,
}

impl From<&Finding> for Annotation {
    fn from(f: &Finding) -> Self {
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
    let groups = by_conversation(args.id.as_deref(), findings)?;
    let ids: Vec<String> = groups.iter().map(|(id, _)| id.clone()).collect();
    let agent = ctx.session.agent()?;
    crate::commands::each_id(ctx, &ids, async |id: &str| {
        let findings = groups
            .iter()
            .find(|(group, _)| group == id)
            .map(|(_, findings)| findings.as_slice())
            .unwrap_or_default();
        agent
            .annotate(id, findings.iter().map(Annotation::from))
            .await
            .map_err(|err| {
                CliError::unconfirmed(
                    err,
                    || format!("the annotations of {id}"),
                    || format!("polyai conversations get {id}"),
                )
            })?;
        let mut out = crate::output::stdout();
        match ctx.format {
            OutputFormat::Table => writeln!(
                out,
                "added {} annotation{} to {id}",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" },
            ),
            _ => {
                let annotations = findings
                    .iter()
                    .map(Annotation::from)
                    .map(|a| crate::records::AnnotationRecord {
                        turn_index: a.turn_id(),
                        role: a.role().to_string(),
                        annotation_type: a.kind().to_string(),
                    })
                    .collect();
                ctx.write_record(
                    &mut out,
                    &crate::records::AddedAnnotations {
                        conversation_id: id.to_owned(),
                        added: findings.len(),
                        annotations,
                    },
                )
            }
        }
        .map_err(stdout_error)
    })
    .await
    .inspect(|()| crate::commands::sandbox_forgets(ctx, "these annotations"))
}

/// The findings grouped by conversation, in the order the conversations first appear: a
/// finding's own conversation_id, else the command line's `id`. A finding that names another
/// conversation than `id`, or none when `id` is not given, is refused before anything is sent.
pub fn by_conversation(
    id: Option<&str>,
    findings: Vec<Finding>,
) -> Result<Vec<(String, Vec<Finding>)>, CliError> {
    let id = id.map(str::trim).filter(|id| !id.is_empty());
    let mut groups: Vec<(String, Vec<Finding>)> = Vec::new();
    for finding in findings {
        let own = finding
            .conversation_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let place = if finding.place.is_empty() {
            "--turn"
        } else {
            finding.place.as_str()
        };
        let target = match (own, id) {
            (Some(own), Some(id)) if own != id => {
                return Err(CliError::Usage(format!(
                    "{place} annotates conversation {own}, but the command line names {id}: \
                     leave the ID out to annotate each conversation the file names, or correct \
                     the row"
                )));
            }
            (Some(own), _) => own.to_owned(),
            (None, Some(id)) => id.to_owned(),
            (None, None) => {
                return Err(CliError::Usage(format!(
                    "{place} names no conversation: give the conversation ID on the command \
                     line, or add a conversation_id column to the file"
                )));
            }
        };
        match groups.iter_mut().find(|(group, _)| *group == target) {
            Some((_, group)) => group.push(finding),
            None => groups.push((target, vec![finding])),
        }
    }
    Ok(groups)
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
            conversation_id: None,
            place: String::new(),
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

/// Reads findings from a JSON array or a CSV file with the header `turn,role,type` (and
/// optionally `conversation_id`).
pub fn read_findings(path: &Path) -> Result<Vec<Finding>, CliError> {
    let text = read_text(path)?;
    let name = if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    };
    let mut findings = parse_findings(&text).map_err(|e| {
        CliError::Usage(format!(
            "{name}: {e} (`polyai conversations annotate --help` shows the layout)"
        ))
    })?;
    let json = text.trim_start().starts_with('[');
    for (i, finding) in findings.iter_mut().enumerate() {
        finding.place = if json {
            format!("{name} item {}", i + 1)
        } else {
            format!("{name} line {}", i + 2)
        };
    }
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
                    "CSV header needs columns turn,role,type and optionally conversation_id (got {})",
                    header.join(",")
                )
            })
    };
    let turn = column(&["turn", "turnId", "turn_id"])?;
    let role = column(&["role"])?;
    let kind = column(&["type", "annotationType", "annotation_type"])?;
    let conversation = header.iter().position(|h| {
        ["conversation_id", "conversationId", "id"].iter().any(|n| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(n)
        })
    });
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let line = i + 2;
            let cell = |c: usize| row.get(c).map(|s| s.trim()).unwrap_or_default();
            Ok(Finding {
                conversation_id: conversation
                    .map(|c| cell(c).to_owned())
                    .filter(|c| !c.is_empty()),
                place: String::new(),
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
    fn rows_go_to_their_own_conversation_and_a_mismatch_is_refused() {
        let mut findings =
            parse_findings("conversation_id,turn,role,type\nCA1,0,user,wrong_info\nCA2,1,agent,missing_topic\n,2,agent,wrong_info\n")
                .unwrap_or_else(|e| panic!("{e}"));
        for (i, f) in findings.iter_mut().enumerate() {
            f.place = format!("qa.csv line {}", i + 2);
        }
        let groups = by_conversation(Some("CA1"), findings.clone());
        let err = groups.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("qa.csv line 3") && err.contains("CA2") && err.contains("CA1"),
            "{err}"
        );
        let err = by_conversation(None, findings.clone())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("qa.csv line 4 names no conversation"), "{err}");
        findings.pop();
        let groups = by_conversation(None, findings).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = groups.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["CA1", "CA2"]);
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
