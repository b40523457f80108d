//! The comparison engine: two streams of records in the record contract
//! ([`ConversationRecord`]), matched by id, counted per day, with the ids one side lacks, the
//! facts that differ field by field, the ids a side lists twice, and the conversations reported
//! apart because they were in progress (or arrived) while the sides were read.
//!
//! It is pure: no I/O, no clock. Records of both sides may arrive interleaved in any order
//! ([`Comparison::add`]); [`Comparison::finish`] gives the [`Outcome`].
//!
//! # Memory
//!
//! A record is reduced on arrival to an `Entry` — its start, its in-progress flag and the
//! compared facts, strings interned — and kept only until the other side lists the same id
//! (then both are compared and dropped). What stays is the unmatched entries of each side (a
//! few hundred bytes each: when both sides arrive in step, newest first, little more than the
//! ids one side lacks), a 16-byte key per id seen (for duplicates), the counts per day, and
//! the findings. The engine is right in any order; the order only decides how much it holds.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use polyai_data::Timestamp;
use polyai_data::record::{Api, ConversationRecord};
use serde_json::Value;

use crate::export::idset::{IdSet, key};

/// One of the two sides compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first side (the Data API, or the copy held by `--against`).
    A,
    /// The second side (v3, or the API listing `--against` compares with).
    B,
}

impl Which {
    fn index(self) -> usize {
        match self {
            Which::A => 0,
            Which::B => 1,
        }
    }

    fn other(self) -> Which {
        match self {
            Which::A => Which::B,
            Which::B => Which::A,
        }
    }
}

/// A fact compared, by its name in the record contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `started_at` (within the time tolerance).
    StartedAt,
    /// `created_at` (Data API only).
    CreatedAt,
    /// `finished_at` (Data API only).
    FinishedAt,
    /// `total_duration`, seconds.
    TotalDuration,
    /// `polyai_duration`, seconds.
    PolyaiDuration,
    /// `duration` (Data API only).
    Duration,
    /// `channel`.
    Channel,
    /// `direction` (Data API only).
    Direction,
    /// `environment`.
    Environment,
    /// `variant_id`: the variant, matched by id or name (the Data API sends the variant's name
    /// in `variantId`; v3 sends an id and a name).
    VariantId,
    /// `variant_name` (v3 only).
    VariantName,
    /// `handoff`.
    Handoff,
    /// `handoff_destination`.
    HandoffDestination,
    /// `handoff_reason`.
    HandoffReason,
    /// `from_number`.
    FromNumber,
    /// `to_number`.
    ToNumber,
    /// `language` (Data API only).
    Language,
    /// `turn_count`: compared when both records carry it (a Data API listing does not; its
    /// details do).
    TurnCount,
    /// `num_silences` (v3 only).
    NumSilences,
    /// `num_ood` (v3 only).
    NumOod,
    /// `account_id`.
    AccountId,
    /// `project_id`.
    ProjectId,
}

impl Field {
    /// Every field that can be compared.
    pub const ALL: [Field; 22] = [
        Field::StartedAt,
        Field::CreatedAt,
        Field::FinishedAt,
        Field::TotalDuration,
        Field::PolyaiDuration,
        Field::Duration,
        Field::Channel,
        Field::Direction,
        Field::Environment,
        Field::VariantId,
        Field::VariantName,
        Field::Handoff,
        Field::HandoffDestination,
        Field::HandoffReason,
        Field::FromNumber,
        Field::ToNumber,
        Field::Language,
        Field::TurnCount,
        Field::NumSilences,
        Field::NumOod,
        Field::AccountId,
        Field::ProjectId,
    ];

    /// The facts compared by default: the shared facts of both listings the issue names.
    pub const DEFAULT: [Field; 7] = [
        Field::StartedAt,
        Field::TotalDuration,
        Field::Channel,
        Field::Environment,
        Field::VariantId,
        Field::TurnCount,
        Field::Handoff,
    ];

    /// The name in the record contract.
    pub fn name(self) -> &'static str {
        match self {
            Field::StartedAt => "started_at",
            Field::CreatedAt => "created_at",
            Field::FinishedAt => "finished_at",
            Field::TotalDuration => "total_duration",
            Field::PolyaiDuration => "polyai_duration",
            Field::Duration => "duration",
            Field::Channel => "channel",
            Field::Direction => "direction",
            Field::Environment => "environment",
            Field::VariantId => "variant_id",
            Field::VariantName => "variant_name",
            Field::Handoff => "handoff",
            Field::HandoffDestination => "handoff_destination",
            Field::HandoffReason => "handoff_reason",
            Field::FromNumber => "from_number",
            Field::ToNumber => "to_number",
            Field::Language => "language",
            Field::TurnCount => "turn_count",
            Field::NumSilences => "num_silences",
            Field::NumOod => "num_ood",
            Field::AccountId => "account_id",
            Field::ProjectId => "project_id",
        }
    }

    /// The field of a contract name (`variant` is `variant_id`); the error lists the names.
    pub fn parse(text: &str) -> Result<Field, String> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        let wanted = if wanted == "variant" {
            "variant_id"
        } else {
            &wanted
        };
        Field::ALL
            .into_iter()
            .find(|f| f.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "`{text}` is not a field that can be compared: use {}",
                    names.join(", ")
                )
            })
    }

    /// Whether an API sends this fact at all (`turn_count`: whether this record has it).
    fn carried_by(self, record: &ConversationRecord) -> bool {
        use Field as F;
        match self {
            F::TurnCount => record.turn_count.is_some(),
            F::StartedAt
            | F::TotalDuration
            | F::PolyaiDuration
            | F::Channel
            | F::Environment
            | F::VariantId
            | F::Handoff
            | F::HandoffDestination
            | F::HandoffReason
            | F::FromNumber
            | F::ToNumber
            | F::AccountId
            | F::ProjectId => true,
            F::CreatedAt | F::FinishedAt | F::Duration | F::Direction | F::Language => {
                record.api == Api::Data
            }
            F::VariantName | F::NumSilences | F::NumOod => record.api == Api::V3,
        }
    }
}

/// An interned string.
type Sym = u32;

/// Interned strings: a fact that repeats (a channel, an environment, a variant) is held once.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Box<str>, Sym>,
    texts: Vec<Box<str>>,
}

impl Interner {
    fn intern(&mut self, text: &str) -> Sym {
        if let Some(&sym) = self.ids.get(text) {
            return sym;
        }
        let sym = Sym::try_from(self.texts.len()).unwrap_or(Sym::MAX);
        self.texts.push(text.into());
        self.ids.insert(text.into(), sym);
        sym
    }

    fn text(&self, sym: Sym) -> &str {
        self.texts.get(sym as usize).map_or("", |t| t)
    }
}

/// One fact of one record, as held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fact {
    /// The record's API does not send it: not compared.
    NotCarried,
    Null,
    Bool(bool),
    Int(i64),
    /// Microseconds since the epoch.
    Time(i64),
    Text(Sym),
    /// `variant_id`, `variant_name`.
    Variant(Option<Sym>, Option<Sym>),
}

/// What is kept of a record until the other side lists it.
#[derive(Debug, Clone)]
struct Entry {
    /// `started_at`, microseconds.
    start: i64,
    in_progress: Option<bool>,
    /// One per compared field, in [`Settings::fields`] order.
    facts: Box<[Fact]>,
}

/// What the comparison is told before it starts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Conversations that started at or after this…
    pub since: Timestamp,
    /// …and before this are compared.
    pub until: Timestamp,
    /// Records this far outside the window are still matched, so a conversation whose start
    /// differs across an edge is a difference rather than an id on one side only.
    pub margin_micros: i64,
    /// Start times this close are equal.
    pub tolerance_micros: i64,
    /// Days are dates in this zone.
    pub tz: TimeZone,
    /// Only these environments (`None`: all); a record without one is left out.
    pub environments: Option<Vec<String>>,
    /// The facts compared.
    pub fields: Vec<Field>,
    /// When each side's listing began (`None`: unknown). A conversation on one side only that
    /// started at or after the other side's listing began, less [`Settings::lag_micros`], may
    /// have arrived after that listing: it is reported apart.
    pub listed_from: [Option<Timestamp>; 2],
    /// How late a conversation may reach a listing after it started.
    pub lag_micros: i64,
}

/// Something a side noticed while reading that is not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// A Data API item seen again on the next page after the listing grew (offset paging
    /// shifts when conversations arrive): not a duplicate, skipped.
    PagingRepeat,
    /// A Data API conversation whose detail could not be read: compared on its listing facts.
    DetailFailed,
    /// A line or row that is not a conversation record, skipped.
    Unreadable,
    /// A Data API conversation in the window listed after older ones: the listing is not in
    /// start order, so its walk may have stopped early.
    OutOfOrder,
}

/// Counts of one side.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct SideCounts {
    /// Conversations in the window (each id once).
    pub conversations: u64,
    /// Records of other environments, left out.
    pub other_environments: u64,
    /// Records without an environment, left out when one is asked for.
    pub without_environment: u64,
    /// Records without a start time, left out (they belong to no day).
    pub without_start: u64,
    /// See [`Note::PagingRepeat`].
    pub paging_repeats: u64,
    /// See [`Note::DetailFailed`].
    pub details_failed: u64,
    /// See [`Note::Unreadable`].
    pub unreadable: u64,
    /// See [`Note::OutOfOrder`].
    pub out_of_order: u64,
}

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// Listed by side a only.
    OnlyInA,
    /// Listed by side b only.
    OnlyInB,
    /// Listed by both, with a fact that differs.
    Differs,
    /// Listed twice (or more) by side a.
    DuplicateInA,
    /// Listed twice (or more) by side b.
    DuplicateInB,
    /// In progress on either side (or finished on one, in progress on the other): apart.
    InProgress,
    /// On one side only, and started after the other side's listing began: apart.
    Arrived,
}

impl FindingKind {
    /// The name in every output (`only_in_a`, …).
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::OnlyInA => "only_in_a",
            FindingKind::OnlyInB => "only_in_b",
            FindingKind::Differs => "differs",
            FindingKind::DuplicateInA => "duplicate_in_a",
            FindingKind::DuplicateInB => "duplicate_in_b",
            FindingKind::InProgress => "in_progress",
            FindingKind::Arrived => "arrived",
        }
    }

    /// Whether it makes the listings differ (in progress and arrived do not).
    pub fn is_difference(self) -> bool {
        !matches!(self, FindingKind::InProgress | FindingKind::Arrived)
    }

    /// The side it concerns, for the one-sided kinds.
    pub fn side(self) -> Option<Which> {
        match self {
            FindingKind::OnlyInA | FindingKind::DuplicateInA => Some(Which::A),
            FindingKind::OnlyInB | FindingKind::DuplicateInB => Some(Which::B),
            _ => None,
        }
    }
}

/// One finding: a difference, or a conversation reported apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// The day it is counted on.
    pub day: Date,
    /// The conversation.
    pub conversation_id: String,
    /// The fact (`started_at` for one-sided kinds, `in_progress` for those apart).
    pub field: &'static str,
    /// Side a's value (`null` where a has none).
    pub a: Value,
    /// Side b's value.
    pub b: Value,
}

/// The counts of one day (or of the whole window).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct DayCounts {
    /// Conversations side a lists on this day.
    pub a: u64,
    /// Conversations side b lists on this day.
    pub b: u64,
    /// Conversations both list.
    pub both: u64,
    /// Listed by a only.
    pub only_in_a: u64,
    /// Listed by b only.
    pub only_in_b: u64,
    /// Listed by both with a fact that differs.
    pub differing: u64,
    /// Extra copies a lists.
    pub duplicates_in_a: u64,
    /// Extra copies b lists.
    pub duplicates_in_b: u64,
    /// Reported apart: in progress, finished during the run, or arrived during it.
    pub in_progress: u64,
}

impl DayCounts {
    /// Differences on this day.
    pub fn differences(&self) -> u64 {
        self.only_in_a
            + self.only_in_b
            + self.differing
            + self.duplicates_in_a
            + self.duplicates_in_b
    }

    fn add(&mut self, other: &DayCounts) {
        self.a += other.a;
        self.b += other.b;
        self.both += other.both;
        self.only_in_a += other.only_in_a;
        self.only_in_b += other.only_in_b;
        self.differing += other.differing;
        self.duplicates_in_a += other.duplicates_in_a;
        self.duplicates_in_b += other.duplicates_in_b;
        self.in_progress += other.in_progress;
    }
}

/// How one field fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldStat {
    /// The field.
    pub field: Field,
    /// Pairs in which it was compared.
    pub compared: u64,
    /// Pairs in which it differs.
    pub differing: u64,
    /// Pairs in which side a (index 0) or b (1) does not carry it.
    pub not_carried: [u64; 2],
}

/// The result of a comparison.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// One row per day with a conversation, in date order.
    pub days: Vec<(Date, DayCounts)>,
    /// The sums of the days.
    pub totals: DayCounts,
    /// Differences and conversations apart, by day, kind and id.
    pub findings: Vec<Finding>,
    /// Per field compared.
    pub fields: Vec<FieldStat>,
    /// Per side.
    pub sides: [SideCounts; 2],
}

impl Outcome {
    /// Whether the listings agree: no id on one side only, no fact that differs, no duplicate.
    pub fn agree(&self) -> bool {
        self.totals.differences() == 0
    }
}

/// A comparison in progress; see the [module notes](self).
#[derive(Debug)]
pub struct Comparison {
    settings: Settings,
    interner: Interner,
    pending: [HashMap<Box<str>, Entry>; 2],
    seen: [IdSet; 2],
    sides: [SideCounts; 2],
    days: BTreeMap<Date, DayCounts>,
    findings: Vec<Finding>,
    fields: Vec<FieldStat>,
}

impl Comparison {
    /// A comparison with these settings.
    pub fn new(settings: Settings) -> Comparison {
        let fields = settings
            .fields
            .iter()
            .map(|&field| FieldStat {
                field,
                compared: 0,
                differing: 0,
                not_carried: [0, 0],
            })
            .collect();
        Comparison {
            settings,
            interner: Interner::default(),
            pending: [HashMap::new(), HashMap::new()],
            seen: [IdSet::new(), IdSet::new()],
            sides: [SideCounts::default(), SideCounts::default()],
            days: BTreeMap::new(),
            findings: Vec::new(),
            fields,
        }
    }

    /// Counts what a side noticed.
    pub fn note(&mut self, which: Which, note: Note) {
        let side = &mut self.sides[which.index()];
        match note {
            Note::PagingRepeat => side.paging_repeats += 1,
            Note::DetailFailed => side.details_failed += 1,
            Note::Unreadable => side.unreadable += 1,
            Note::OutOfOrder => side.out_of_order += 1,
        }
    }

    /// Conversations side `which` listed in the window so far.
    pub fn listed(&self, which: Which) -> u64 {
        self.sides[which.index()].conversations
    }

    fn in_window(&self, micros: i64) -> bool {
        micros >= self.settings.since.unix_micros() && micros < self.settings.until.unix_micros()
    }

    fn in_bounds(&self, micros: i64) -> bool {
        let margin = self.settings.margin_micros;
        micros >= self.settings.since.unix_micros().saturating_sub(margin)
            && micros < self.settings.until.unix_micros().saturating_add(margin)
    }

    /// The day of a start time, in the zone of the settings.
    pub fn day(&self, micros: i64) -> Date {
        day_of(&self.settings.tz, micros)
    }

    /// Takes one record of side `which`.
    pub fn add(&mut self, which: Which, record: &ConversationRecord) {
        let w = which.index();
        let Some(start) = record.started_at.map(Timestamp::unix_micros) else {
            self.sides[w].without_start += 1;
            return;
        };
        if !self.in_bounds(start) {
            return;
        }
        if let Some(wanted) = &self.settings.environments {
            match &record.environment {
                None => {
                    self.sides[w].without_environment += 1;
                    return;
                }
                Some(env) if !wanted.iter().any(|e| e == env) => {
                    self.sides[w].other_environments += 1;
                    return;
                }
                Some(_) => {}
            }
        }
        let in_window = self.in_window(start);
        if !self.seen[w].insert(key(&record.conversation_id)) {
            if in_window {
                let day = self.day(start);
                let (kind, a, b) = match which {
                    Which::A => (FindingKind::DuplicateInA, time_value(start), Value::Null),
                    Which::B => (FindingKind::DuplicateInB, Value::Null, time_value(start)),
                };
                let counts = self.days.entry(day).or_default();
                match which {
                    Which::A => counts.duplicates_in_a += 1,
                    Which::B => counts.duplicates_in_b += 1,
                }
                self.findings.push(Finding {
                    kind,
                    day,
                    conversation_id: record.conversation_id.clone(),
                    field: "started_at",
                    a,
                    b,
                });
            }
            return;
        }
        if in_window {
            self.sides[w].conversations += 1;
            let day = self.day(start);
            let counts = self.days.entry(day).or_default();
            match which {
                Which::A => counts.a += 1,
                Which::B => counts.b += 1,
            }
        }
        let entry = self.entry(record, start);
        let other = which.other().index();
        match self.pending[other].remove(record.conversation_id.as_str()) {
            Some(theirs) => {
                let (a, b) = match which {
                    Which::A => (entry, theirs),
                    Which::B => (theirs, entry),
                };
                self.matched(&record.conversation_id, &a, &b);
            }
            None => {
                self.pending[w].insert(record.conversation_id.as_str().into(), entry);
            }
        }
    }

    fn entry(&mut self, record: &ConversationRecord, start: i64) -> Entry {
        let mut facts = Vec::with_capacity(self.settings.fields.len());
        for i in 0..self.settings.fields.len() {
            let field = self.settings.fields[i];
            facts.push(self.fact(field, record));
        }
        Entry {
            start,
            in_progress: record.in_progress,
            facts: facts.into_boxed_slice(),
        }
    }

    fn fact(&mut self, field: Field, r: &ConversationRecord) -> Fact {
        if !field.carried_by(r) {
            return Fact::NotCarried;
        }
        let mut text = |value: &Option<String>| {
            value
                .as_deref()
                .map_or(Fact::Null, |t| Fact::Text(self.interner.intern(t)))
        };
        let time =
            |value: Option<Timestamp>| value.map_or(Fact::Null, |t| Fact::Time(t.unix_micros()));
        let int = |value: Option<i64>| value.map_or(Fact::Null, Fact::Int);
        match field {
            Field::StartedAt => time(r.started_at),
            Field::CreatedAt => time(r.created_at),
            Field::FinishedAt => time(r.finished_at),
            Field::TotalDuration => int(r.total_duration),
            Field::PolyaiDuration => int(r.polyai_duration),
            Field::Duration => int(r.duration),
            Field::TurnCount => int(r.turn_count),
            Field::NumSilences => int(r.num_silences),
            Field::NumOod => int(r.num_ood),
            Field::Handoff => r.handoff.map_or(Fact::Null, Fact::Bool),
            Field::Channel => text(&r.channel),
            Field::Direction => text(&r.direction),
            Field::Environment => text(&r.environment),
            Field::VariantName => text(&r.variant_name),
            Field::HandoffDestination => text(&r.handoff_destination),
            Field::HandoffReason => text(&r.handoff_reason),
            Field::FromNumber => text(&r.from_number),
            Field::ToNumber => text(&r.to_number),
            Field::Language => text(&r.language),
            Field::AccountId => text(&r.account_id),
            Field::ProjectId => text(&r.project_id),
            Field::VariantId => {
                let id = r.variant_id.as_deref().map(|t| self.interner.intern(t));
                let name = r.variant_name.as_deref().map(|t| self.interner.intern(t));
                Fact::Variant(id, name)
            }
        }
    }

    /// Both sides list `id`: compare them.
    fn matched(&mut self, id: &str, a: &Entry, b: &Entry) {
        let day = if self.in_window(a.start) {
            self.day(a.start)
        } else if self.in_window(b.start) {
            self.day(b.start)
        } else {
            return; // both outside the window, within the margin
        };
        self.days.entry(day).or_default().both += 1;
        if a.in_progress == Some(true) || b.in_progress == Some(true) {
            self.days.entry(day).or_default().in_progress += 1;
            self.findings.push(Finding {
                kind: FindingKind::InProgress,
                day,
                conversation_id: id.to_owned(),
                field: "in_progress",
                a: a.in_progress.map_or(Value::Null, Value::Bool),
                b: b.in_progress.map_or(Value::Null, Value::Bool),
            });
            return;
        }
        let mut differs = false;
        for (i, (fa, fb)) in a.facts.iter().zip(b.facts.iter()).enumerate() {
            let Some(stat) = self.fields.get_mut(i) else {
                continue;
            };
            if *fa == Fact::NotCarried || *fb == Fact::NotCarried {
                stat.not_carried[0] += u64::from(*fa == Fact::NotCarried);
                stat.not_carried[1] += u64::from(*fb == Fact::NotCarried);
                continue;
            }
            stat.compared += 1;
            if agree(*fa, *fb, self.settings.tolerance_micros) {
                continue;
            }
            stat.differing += 1;
            differs = true;
            let field = stat.field;
            let (va, vb) = (self.value(field, *fa), self.value(field, *fb));
            self.findings.push(Finding {
                kind: FindingKind::Differs,
                day,
                conversation_id: id.to_owned(),
                field: field.name(),
                a: va,
                b: vb,
            });
        }
        if differs {
            self.days.entry(day).or_default().differing += 1;
        }
    }

    /// A fact as printed.
    fn value(&self, field: Field, fact: Fact) -> Value {
        match fact {
            Fact::NotCarried | Fact::Null => Value::Null,
            Fact::Bool(b) => Value::Bool(b),
            Fact::Int(i) => Value::from(i),
            Fact::Time(t) => time_value(t),
            Fact::Text(s) => Value::String(self.interner.text(s).to_owned()),
            Fact::Variant(id, name) => {
                let id = id.map(|s| self.interner.text(s));
                let name = name.map(|s| self.interner.text(s));
                match (id, name) {
                    (Some(id), Some(name)) if id != name && field == Field::VariantId => {
                        Value::String(format!("{id} ({name})"))
                    }
                    (Some(text), _) | (None, Some(text)) => Value::String(text.to_owned()),
                    (None, None) => Value::Null,
                }
            }
        }
    }

    /// Ends the comparison: what is left unmatched is on one side only (or apart).
    pub fn finish(mut self) -> Outcome {
        for which in [Which::A, Which::B] {
            let pending = std::mem::take(&mut self.pending[which.index()]);
            let listed_from = self.settings.listed_from[which.other().index()]
                .map(|t| t.unix_micros().saturating_sub(self.settings.lag_micros));
            for (id, entry) in pending {
                if !self.in_window(entry.start) {
                    continue;
                }
                let day = self.day(entry.start);
                let arrived = listed_from.is_some_and(|from| entry.start >= from);
                let kind = if entry.in_progress == Some(true) {
                    FindingKind::InProgress
                } else if arrived {
                    FindingKind::Arrived
                } else if which == Which::A {
                    FindingKind::OnlyInA
                } else {
                    FindingKind::OnlyInB
                };
                let counts = self.days.entry(day).or_default();
                let (field, value) = match kind {
                    FindingKind::InProgress => {
                        counts.in_progress += 1;
                        ("in_progress", Value::Bool(true))
                    }
                    FindingKind::Arrived => {
                        counts.in_progress += 1;
                        ("started_at", time_value(entry.start))
                    }
                    _ if which == Which::A => {
                        counts.only_in_a += 1;
                        ("started_at", time_value(entry.start))
                    }
                    _ => {
                        counts.only_in_b += 1;
                        ("started_at", time_value(entry.start))
                    }
                };
                let (a, b) = match which {
                    Which::A => (value, Value::Null),
                    Which::B => (Value::Null, value),
                };
                self.findings.push(Finding {
                    kind,
                    day,
                    conversation_id: id.into(),
                    field,
                    a,
                    b,
                });
            }
        }
        let order: HashMap<&'static str, usize> = self
            .settings
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name(), i))
            .collect();
        self.findings.sort_by(|x, y| {
            (x.day, x.kind, &x.conversation_id, order.get(x.field)).cmp(&(
                y.day,
                y.kind,
                &y.conversation_id,
                order.get(y.field),
            ))
        });
        let mut totals = DayCounts::default();
        for counts in self.days.values() {
            totals.add(counts);
        }
        Outcome {
            days: self.days.into_iter().collect(),
            totals,
            findings: self.findings,
            fields: self.fields,
            sides: self.sides,
        }
    }
}

/// Whether two facts both sides carry are the same.
fn agree(a: Fact, b: Fact, tolerance_micros: i64) -> bool {
    match (a, b) {
        (Fact::Time(x), Fact::Time(y)) => x.abs_diff(y) <= tolerance_micros.unsigned_abs(),
        (Fact::Variant(ai, an), Fact::Variant(bi, bn)) => {
            let ours = [ai, an];
            let theirs = [bi, bn];
            if ours.iter().chain(&theirs).all(Option::is_none) {
                return true;
            }
            ours.iter()
                .flatten()
                .any(|x| theirs.iter().flatten().any(|y| x == y))
        }
        (x, y) => x == y,
    }
}

/// A time as written in records: RFC 3339 in UTC, six fraction digits.
fn time_value(micros: i64) -> Value {
    Timestamp::from_unix_micros(micros)
        .map_or(Value::Null, |t| Value::String(t.to_rfc3339_micros()))
}

/// The date of `micros` in `tz`.
pub fn day_of(tz: &TimeZone, micros: i64) -> Date {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| tz.to_datetime(t).date())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
