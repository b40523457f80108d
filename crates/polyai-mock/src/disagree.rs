//! Disagreement between the two listings: the Data API and the Conversations API v3 serve the
//! same seeded conversations, and agree by default (so `polyai reconcile --sandbox` agrees with
//! itself). A [`Disagreement`] makes them differ in documented ways, for testing a tool that
//! compares them:
//!
//! - **drop** a fraction of the conversations from one listing (`drop_v3`, `drop_data`): the
//!   other still lists them. On the Data API the listing's `count` and offsets close up over the
//!   gap, as a server that does not know them would answer.
//! - **duplicate** a fraction of the conversations in one listing (`duplicate_v3`,
//!   `duplicate_data`): each is listed twice in a row (a v3 page never splits the pair; on the
//!   Data API the second copy takes the next offset, and `count` includes it).
//! - **change a shared fact** in the v3 listing for a fraction of the conversations (`fields`):
//!   see [`DisagreeField`] for what each change is. v3 filters on what it reports, so a changed
//!   environment or channel moves the conversation to the listing of that environment or channel.
//!
//! Which conversations are chosen is a pure function of the seed, the agent and the
//! conversation's index (one independent draw per kind), so every page, every walk and every run
//! chooses the same ones; [`Disagreement::of`] tells, for tests that predict the differences.
//! Details (`GET …/conversations/{id}`) are the Data API's and are never changed.

use std::fmt;
use std::str::FromStr;

use crate::data::Conversation;
use crate::prng::{Rng, hash};
use crate::script;

/// A shared fact the v3 listing can report differently from the Data API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisagreeField {
    /// `started_at` 90 seconds later.
    StartedAt,
    /// `total_duration` one second longer.
    TotalDuration,
    /// Another channel: `VOICE-SIP` becomes `WEBCHAT`; `CHAT` and `WEBCHAT` become `VOICE-SIP`.
    Channel,
    /// Another environment: live → pre-release → sandbox → live.
    Environment,
    /// Another variant (the next of the agent's variants, or one it does not have), or a variant
    /// where the Data API has none.
    Variant,
    /// `handoff` flipped (a handoff gains the destination `Front Desk` and a reason; a
    /// handed-off call loses them).
    Handoff,
    /// One turn fewer (the last one), or one more (the last, twice) when there is only one.
    TurnCount,
    /// `in_progress` flipped: the call still going on for v3 and finished for the Data API, or
    /// the other way round — what a call that ends while a comparison runs looks like.
    InProgress,
}

impl DisagreeField {
    /// Every field, in the order of the documentation.
    pub const ALL: [DisagreeField; 8] = [
        DisagreeField::StartedAt,
        DisagreeField::TotalDuration,
        DisagreeField::Channel,
        DisagreeField::Environment,
        DisagreeField::Variant,
        DisagreeField::Handoff,
        DisagreeField::TurnCount,
        DisagreeField::InProgress,
    ];

    /// The field's name in the record contract (`polyai_data::record::ConversationRecord`):
    /// `started_at`, `total_duration`, `channel`, `environment`, `variant_id`, `handoff`,
    /// `turn_count`, `in_progress`.
    pub fn name(self) -> &'static str {
        match self {
            DisagreeField::StartedAt => "started_at",
            DisagreeField::TotalDuration => "total_duration",
            DisagreeField::Channel => "channel",
            DisagreeField::Environment => "environment",
            DisagreeField::Variant => "variant_id",
            DisagreeField::Handoff => "handoff",
            DisagreeField::TurnCount => "turn_count",
            DisagreeField::InProgress => "in_progress",
        }
    }

    fn tag(self) -> u64 {
        0xD1F0 + self as u64
    }
}

impl fmt::Display for DisagreeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DisagreeField {
    type Err = String;

    /// A contract name (`total_duration`, `variant_id`, …; `variant` too), any case, `-` or `_`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        if wanted == "variant" {
            return Ok(DisagreeField::Variant);
        }
        DisagreeField::ALL
            .into_iter()
            .find(|f| f.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = DisagreeField::ALL.iter().map(|f| f.name()).collect();
                format!("unknown field {text:?}: use one of {}", names.join(", "))
            })
    }
}

/// How the two listings disagree; the default is not at all. See the [module notes](self).
///
/// ```
/// use polyai_mock::{DisagreeField, Disagreement};
/// let d: Disagreement = "drop-v3=0.1,duplicate-data=0.02,field=total_duration:0.05".parse()?;
/// assert_eq!(d.drop_v3, 0.1);
/// assert_eq!(d.duplicate_data, 0.02);
/// assert_eq!(d.fields, vec![(DisagreeField::TotalDuration, 0.05)]);
/// assert!(!d.is_off());
/// assert!(Disagreement::default().is_off());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Disagreement {
    /// Fraction (0..=1) of conversations the v3 listing leaves out.
    pub drop_v3: f64,
    /// Fraction (0..=1) of conversations the Data API listing leaves out.
    pub drop_data: f64,
    /// Fraction (0..=1) of conversations the v3 listing sends twice in a row.
    pub duplicate_v3: f64,
    /// Fraction (0..=1) of conversations the Data API listing sends twice in a row.
    pub duplicate_data: f64,
    /// Facts the v3 listing reports differently, each for its own fraction (0..=1) of the
    /// conversations.
    pub fields: Vec<(DisagreeField, f64)>,
}

/// What a [`Disagreement`] does to one conversation; from [`Disagreement::of`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disagreed {
    /// Left out of the v3 listing.
    pub dropped_v3: bool,
    /// Left out of the Data API listing.
    pub dropped_data: bool,
    /// Listed twice by v3.
    pub duplicated_v3: bool,
    /// Listed twice by the Data API.
    pub duplicated_data: bool,
    /// Facts v3 reports differently.
    pub fields: Vec<DisagreeField>,
}

/// The default fraction of `field=NAME` without one.
pub const DEFAULT_FIELD_FRACTION: f64 = 0.1;

/// Draw tags of the kinds, so each is an independent choice.
const DROP_V3: u64 = 0xD20B;
const DROP_DATA: u64 = 0xD20D;
const DUPLICATE_V3: u64 = 0xD0B3;
const DUPLICATE_DATA: u64 = 0xD0BD;

impl Disagreement {
    /// Whether the listings agree (every fraction 0, no field).
    pub fn is_off(&self) -> bool {
        self.drop_v3 <= 0.0
            && self.drop_data <= 0.0
            && self.duplicate_v3 <= 0.0
            && self.duplicate_data <= 0.0
            && self.fields.iter().all(|(_, f)| *f <= 0.0)
    }

    /// Whether the Data API listing is changed (drops or duplicates).
    pub(crate) fn changes_data(&self) -> bool {
        self.drop_data > 0.0 || self.duplicate_data > 0.0
    }

    /// A fraction in range, or why not.
    fn check(name: &str, fraction: f64) -> Result<(), String> {
        if (0.0..=1.0).contains(&fraction) {
            Ok(())
        } else {
            Err(format!(
                "{name} must be a fraction between 0 and 1, got {fraction}"
            ))
        }
    }

    /// Checks every fraction is within 0..=1.
    pub fn validate(&self) -> Result<(), String> {
        Self::check("drop-v3", self.drop_v3)?;
        Self::check("drop-data", self.drop_data)?;
        Self::check("duplicate-v3", self.duplicate_v3)?;
        Self::check("duplicate-data", self.duplicate_data)?;
        for (field, fraction) in &self.fields {
            Self::check(&format!("field={field}"), *fraction)?;
        }
        Ok(())
    }

    /// What this disagreement does to conversation `index` of agent number `agent`, with the
    /// server's `seed`.
    pub fn of(&self, seed: u64, agent: usize, index: u64) -> Disagreed {
        let hit = |tag: u64, fraction: f64| chosen(seed, tag, agent, index, fraction);
        let mut fields: Vec<DisagreeField> = self
            .fields
            .iter()
            .filter(|(field, fraction)| hit(field.tag(), *fraction))
            .map(|(field, _)| *field)
            .collect();
        fields.sort_by_key(|f| *f as u8);
        fields.dedup();
        Disagreed {
            dropped_v3: hit(DROP_V3, self.drop_v3),
            dropped_data: hit(DROP_DATA, self.drop_data),
            duplicated_v3: hit(DUPLICATE_V3, self.duplicate_v3),
            duplicated_data: hit(DUPLICATE_DATA, self.duplicate_data),
            fields,
        }
    }

    /// How many times the Data API lists conversation `index` (0, 1 or 2).
    pub(crate) fn data_copies(&self, seed: u64, agent: usize, index: u64) -> u64 {
        if chosen(seed, DROP_DATA, agent, index, self.drop_data) {
            0
        } else if chosen(seed, DUPLICATE_DATA, agent, index, self.duplicate_data) {
            2
        } else {
            1
        }
    }

    /// How many times the v3 listing sends conversation `index` (0, 1 or 2).
    pub(crate) fn v3_copies(&self, seed: u64, agent: usize, index: u64) -> u64 {
        if chosen(seed, DROP_V3, agent, index, self.drop_v3) {
            0
        } else if chosen(seed, DUPLICATE_V3, agent, index, self.duplicate_v3) {
            2
        } else {
            1
        }
    }

    /// Conversation `c` as the v3 listing reports it: the fields chosen for it changed.
    pub(crate) fn apply_v3(&self, seed: u64, c: &mut Conversation, variants: &[&'static str]) {
        if self.fields.is_empty() {
            return;
        }
        for field in self.of(seed, c.agent, c.index).fields {
            change(c, field, variants);
        }
    }
}

/// Whether the draw `tag` picks conversation `index` of `agent` for `fraction`.
fn chosen(seed: u64, tag: u64, agent: usize, index: u64, fraction: f64) -> bool {
    fraction > 0.0 && Rng::new(&[hash(&[seed, tag]), agent as u64, index]).chance(fraction)
}

/// Changes one fact of `c` as [`DisagreeField`] documents.
fn change(c: &mut Conversation, field: DisagreeField, variants: &[&'static str]) {
    match field {
        DisagreeField::StartedAt => c.created = c.created.plus_micros(90_000_000),
        DisagreeField::TotalDuration => c.total_duration += 1,
        DisagreeField::Channel => {
            c.channel = if c.channel == "VOICE-SIP" {
                "WEBCHAT"
            } else {
                "VOICE-SIP"
            }
        }
        DisagreeField::Environment => {
            c.client_env = match c.client_env {
                "live" => "pre-release",
                "pre-release" => "sandbox",
                _ => "live",
            }
        }
        DisagreeField::Variant => {
            let next = c
                .variant
                .and_then(|v| variants.iter().position(|x| *x == v))
                .map(|i| variants[(i + 1) % variants.len()])
                .filter(|next| Some(*next) != c.variant);
            c.variant = Some(next.unwrap_or_else(|| {
                // The agent has one variant or none: one it does not have.
                script::VARIANTS
                    .iter()
                    .copied()
                    .find(|v| Some(*v) != c.variant && !variants.contains(v))
                    .unwrap_or("Disagreeing Variant")
            }));
        }
        DisagreeField::Handoff => {
            c.handoff = match c.handoff {
                Some(_) => None,
                None => Some(("Front Desk", "CALLER_REQUESTED_HUMAN")),
            }
        }
        DisagreeField::TurnCount => {
            if c.turns.len() > 1 {
                c.turns.pop();
            } else if let Some(last) = c.turns.last().cloned() {
                c.turns.push(last);
            }
        }
        DisagreeField::InProgress => c.in_progress = !c.in_progress,
    }
}

impl FromStr for Disagreement {
    type Err = String;

    /// Comma-separated items: `drop-v3=F`, `drop-data=F`, `duplicate-v3=F`,
    /// `duplicate-data=F`, `field=NAME[:F]` (repeatable; F defaults to 0.1); F a fraction
    /// between 0 and 1. `off` (or nothing) is no disagreement.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut d = Disagreement::default();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item.eq_ignore_ascii_case("off") {
                continue;
            }
            let (key, value) = item.split_once('=').ok_or_else(|| {
                format!(
                    "{item:?}: expected KIND=VALUE, e.g. drop-v3=0.1 or field=total_duration:0.05"
                )
            })?;
            let fraction = |text: &str| -> Result<f64, String> {
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| (0.0..=1.0).contains(f))
                    .ok_or_else(|| format!("{item:?}: {text:?} is not a fraction between 0 and 1"))
            };
            match key.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "drop-v3" => d.drop_v3 = fraction(value)?,
                "drop-data" => d.drop_data = fraction(value)?,
                "duplicate-v3" => d.duplicate_v3 = fraction(value)?,
                "duplicate-data" => d.duplicate_data = fraction(value)?,
                "field" => {
                    let (name, f) = match value.split_once(':') {
                        Some((name, f)) => (name, fraction(f)?),
                        None => (value, DEFAULT_FIELD_FRACTION),
                    };
                    let field: DisagreeField = name.parse()?;
                    d.fields.retain(|(x, _)| *x != field);
                    d.fields.push((field, f));
                }
                other => {
                    return Err(format!(
                        "{item:?}: unknown kind {other:?}; use drop-v3, drop-data, duplicate-v3, \
                         duplicate-data or field"
                    ));
                }
            }
        }
        Ok(d)
    }
}

/// Where each Data API listing position comes from when the Data API listing is changed: the
/// slots (a dropped conversation has none, a duplicated one two) with a checkpoint every
/// [`CHECKPOINT`] positions, so a page is found without walking the listing from the start.
#[derive(Debug)]
pub(crate) struct DataSlots {
    /// What the slots were computed for: agent, arrivals, and the disagreement's Data API
    /// fractions (as bits).
    key: (usize, u64, u64, u64),
    /// `(position, first slot of that position)` every [`CHECKPOINT`] positions.
    checkpoints: Vec<(u64, u64)>,
    /// Slots in all: the listing's `count`.
    pub total: u64,
}

/// Positions between two checkpoints.
const CHECKPOINT: u64 = 1024;

impl DataSlots {
    /// The slots of agent `agent` with `arrived` arrivals; `index_at` maps a position to a
    /// conversation index.
    pub(crate) fn compute(
        d: &Disagreement,
        seed: u64,
        agent: usize,
        arrived: u64,
        positions: u64,
        index_at: impl Fn(u64) -> u64,
    ) -> DataSlots {
        let mut checkpoints = Vec::with_capacity((positions / CHECKPOINT + 1) as usize);
        let mut slot = 0u64;
        for position in 0..positions {
            if position.is_multiple_of(CHECKPOINT) {
                checkpoints.push((position, slot));
            }
            slot += d.data_copies(seed, agent, index_at(position));
        }
        DataSlots {
            key: Self::key_of(d, agent, arrived),
            checkpoints,
            total: slot,
        }
    }

    fn key_of(d: &Disagreement, agent: usize, arrived: u64) -> (usize, u64, u64, u64) {
        (
            agent,
            arrived,
            d.drop_data.to_bits(),
            d.duplicate_data.to_bits(),
        )
    }

    /// Whether these slots were computed for this agent, arrivals and disagreement.
    pub(crate) fn fits(&self, d: &Disagreement, agent: usize, arrived: u64) -> bool {
        self.key == Self::key_of(d, agent, arrived)
    }

    /// The positions of slots `offset..offset + limit` (a duplicated conversation's position
    /// appears twice).
    pub(crate) fn page(
        &self,
        d: &Disagreement,
        seed: u64,
        positions: u64,
        index_at: impl Fn(u64) -> u64,
        offset: u64,
        limit: u64,
    ) -> Vec<u64> {
        let start = self
            .checkpoints
            .partition_point(|&(_, slot)| slot <= offset);
        let (mut position, mut slot) = self
            .checkpoints
            .get(start.saturating_sub(1))
            .copied()
            .unwrap_or((0, 0));
        let mut page = Vec::new();
        while position < positions && (page.len() as u64) < limit {
            let copies = d.data_copies(seed, self.key.0, index_at(position));
            for _ in 0..copies {
                if slot >= offset && (page.len() as u64) < limit {
                    page.push(position);
                }
                slot += 1;
            }
            position += 1;
        }
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_why() {
        let d: Disagreement =
            "drop-v3=0.5, drop_data=0.25,duplicate-v3=1,field=variant,field=turn-count:0.3"
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.drop_v3, d.drop_data, d.duplicate_v3), (0.5, 0.25, 1.0));
        assert_eq!(
            d.fields,
            vec![
                (DisagreeField::Variant, DEFAULT_FIELD_FRACTION),
                (DisagreeField::TurnCount, 0.3)
            ]
        );
        assert_eq!("off".parse::<Disagreement>(), Ok(Disagreement::default()));
        for (bad, says) in [
            ("drop-v3", "KIND=VALUE"),
            ("drop-v3=2", "between 0 and 1"),
            ("drop-v3=x", "between 0 and 1"),
            ("shuffle=0.1", "unknown kind"),
            ("field=colour", "unknown field"),
        ] {
            let err = bad.parse::<Disagreement>().err().unwrap_or_default();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn choices_are_deterministic_independent_and_near_their_fraction() {
        let d = Disagreement {
            drop_v3: 0.1,
            duplicate_v3: 0.1,
            ..Disagreement::default()
        };
        let n = 20_000u64;
        let dropped = (0..n).filter(|&i| d.of(42, 0, i).dropped_v3).count() as f64;
        assert!((dropped / n as f64 - 0.1).abs() < 0.01, "{dropped}");
        let both = (0..n)
            .filter(|&i| {
                let x = d.of(42, 0, i);
                x.dropped_v3 && x.duplicated_v3
            })
            .count() as f64;
        assert!((both / n as f64 - 0.01).abs() < 0.005, "{both}");
        assert_eq!(d.of(42, 0, 7), d.of(42, 0, 7));
        assert!(Disagreement::default().of(42, 0, 7) == Disagreed::default());
    }

    #[test]
    fn data_slots_find_every_page_as_a_walk_from_the_start_would() {
        let d = Disagreement {
            drop_data: 0.2,
            duplicate_data: 0.2,
            ..Disagreement::default()
        };
        let positions = 5_000;
        let index_at = |p: u64| p;
        let slots = DataSlots::compute(&d, 42, 0, 0, positions, index_at);
        let every: Vec<u64> = (0..positions)
            .flat_map(|p| std::iter::repeat_n(p, d.data_copies(42, 0, p) as usize))
            .collect();
        assert_eq!(slots.total, every.len() as u64);
        for (offset, limit) in [(0, 10), (1023, 50), (1024, 1000), (4990, 1000), (9999, 5)] {
            let want: Vec<u64> = every
                .iter()
                .copied()
                .skip(offset as usize)
                .take(limit as usize)
                .collect();
            assert_eq!(
                slots.page(&d, 42, positions, index_at, offset, limit),
                want,
                "{offset}+{limit}"
            );
        }
        assert!(slots.fits(&d, 0, 0) && !slots.fits(&d, 0, 1) && !slots.fits(&d, 1, 0));
    }
}
