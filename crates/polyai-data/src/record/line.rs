//! A line of a v3 export read straight from its JSON text into a [`ConversationRecord`]: typed
//! structs that borrow the text's strings, without a `serde_json::Value` of the whole line in
//! between (the cost of reading an export is mostly that `Value`: a `String` per key and per
//! value, and the fields the record never reads). The conversions are [`read`](super::read)'s
//! ([`Field`]), so the record is the one [`ConversationRecord::from_v3`] makes of the same text.
//!
//! Whatever this reader does not take on, it refuses (`None`), and the caller reads the line
//! through a `Value`: a line that is not an object, has no string `id`, names a key twice (a
//! `Value` keeps the last; a typed struct cannot tell which), or is a Data API or contract
//! record.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use super::read::Field;
use super::{Api, ConversationRecord, MetricRecord, TurnRecord};

/// The value of a field as read: a string (borrowed from the text when it has no escapes), or
/// any other value.
#[derive(Debug)]
enum Raw<'a> {
    Str(Cow<'a, str>),
    Other(Value),
}

impl Raw<'_> {
    fn field(&self) -> Field<'_> {
        match self {
            Raw::Str(s) => Field::Str(s),
            Raw::Other(v) => Field::Value(v),
        }
    }
}

/// How a typed field reads a value of each JSON type: an object (`map`), an array (`seq`), or
/// anything else (`other`, as a [`Raw`]). Objects and arrays are read as a `Value` unless the
/// type says otherwise.
trait Shape<'de>: Sized {
    fn other(raw: Raw<'de>) -> Self;

    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(|v| Self::other(Raw::Other(v)))
    }

    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(|v| Self::other(Raw::Other(v)))
    }
}

struct ShapeVisitor<T>(PhantomData<T>);

/// Reads any JSON value as `T` (through its [`Shape`]).
fn shape<'de, D: Deserializer<'de>, T: Shape<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_any(ShapeVisitor(PhantomData))
}

/// The scalars as `serde_json::Value`'s own visitor makes them, so `Raw::Other` is the value
/// a `Value` of the line holds.
impl<'de, T: Shape<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<T, E> {
        Ok(T::other(Raw::Other(Value::Bool(v))))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::other(Raw::Other(Value::Number(v.into()))))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::other(Raw::Other(Value::Number(v.into()))))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        Ok(T::other(Raw::Other(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        )))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::other(Raw::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<T, E> {
        Ok(T::other(Raw::Str(Cow::Borrowed(v))))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::other(Raw::Str(Cow::Owned(v))))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<T, E> {
        Ok(T::other(Raw::Other(Value::Null)))
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<T, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::seq(seq)
    }
}

/// Implements `Deserialize` through [`Shape`].
macro_rules! deserialize_by_shape {
    ($($ty:ident),*) => {$(
        impl<'de: 'a, 'a> Deserialize<'de> for $ty<'a> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                shape(deserializer)
            }
        }
    )*};
}

deserialize_by_shape!(
    Raw,
    Top,
    Turns,
    TurnItem,
    Latency,
    Metadata,
    Export,
    MetricValues
);

impl<'de: 'a, 'a> Shape<'de> for Raw<'a> {
    fn other(raw: Raw<'de>) -> Self {
        raw
    }
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Whether a key is there, whatever its value (`null` too).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The line: an object read as a [`V3Line`], anything else nothing.
struct Top<'a>(Option<V3Line<'a>>);

impl<'de: 'a, 'a> Shape<'de> for Top<'a> {
    fn other(_: Raw<'de>) -> Self {
        Top(None)
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        V3Line::deserialize(MapAccessDeserializer::new(map)).map(|l| Top(Some(l)))
    }
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        skip_seq(seq).map(|()| Top(None))
    }
}

/// The fields of a v3 listing item that the record reads (and `_export.audioFile`).
#[derive(Deserialize)]
struct V3Line<'a> {
    #[serde(borrow)]
    id: Option<Raw<'a>>,
    #[serde(default, deserialize_with = "present")]
    conversation_id: bool,
    #[serde(default, deserialize_with = "present", rename = "conversationId")]
    conversation_id_camel: bool,
    #[serde(borrow)]
    account_id: Option<Raw<'a>>,
    #[serde(borrow)]
    project_id: Option<Raw<'a>>,
    #[serde(borrow)]
    environment: Option<Raw<'a>>,
    #[serde(borrow)]
    channel: Option<Raw<'a>>,
    #[serde(borrow)]
    started_at: Option<Raw<'a>>,
    #[serde(borrow)]
    in_progress: Option<Raw<'a>>,
    #[serde(borrow)]
    total_duration: Option<Raw<'a>>,
    #[serde(borrow)]
    polyai_duration: Option<Raw<'a>>,
    #[serde(borrow)]
    from_number: Option<Raw<'a>>,
    #[serde(borrow)]
    to_number: Option<Raw<'a>>,
    #[serde(borrow)]
    variant_id: Option<Raw<'a>>,
    #[serde(borrow)]
    variant_name: Option<Raw<'a>>,
    #[serde(borrow)]
    handoff: Option<Raw<'a>>,
    #[serde(borrow)]
    handoff_destination: Option<Raw<'a>>,
    #[serde(borrow)]
    handoff_reason: Option<Raw<'a>>,
    #[serde(borrow)]
    num_silences: Option<Raw<'a>>,
    #[serde(borrow)]
    num_ood: Option<Raw<'a>>,
    #[serde(borrow)]
    num_turns: Option<Raw<'a>>,
    #[serde(borrow)]
    turns: Option<Turns<'a>>,
    metrics: Option<Metrics>,
    #[serde(borrow)]
    _export: Option<Export<'a>>,
}

/// `turns`: the items of an array (`None` for an item that is not an object, which still
/// counts for the index); nothing when it is not an array.
struct Turns<'a>(Option<Vec<Option<TurnLine<'a>>>>);

impl<'de: 'a, 'a> Shape<'de> for Turns<'a> {
    fn other(_: Raw<'de>) -> Self {
        Turns(None)
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        skip_map(map).map(|()| Turns(None))
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(16));
        while let Some(TurnItem(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Turns(Some(items)))
    }
}

struct TurnItem<'a>(Option<TurnLine<'a>>);

impl<'de: 'a, 'a> Shape<'de> for TurnItem<'a> {
    fn other(_: Raw<'de>) -> Self {
        TurnItem(None)
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        TurnLine::deserialize(MapAccessDeserializer::new(map)).map(|t| TurnItem(Some(t)))
    }
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        skip_seq(seq).map(|()| TurnItem(None))
    }
}

#[derive(Deserialize)]
struct TurnLine<'a> {
    #[serde(borrow)]
    turn_id: Option<Raw<'a>>,
    #[serde(borrow)]
    user_input: Option<Raw<'a>>,
    #[serde(borrow, rename = "userInput")]
    user_input_camel: Option<Raw<'a>>,
    #[serde(borrow)]
    input: Option<Raw<'a>>,
    #[serde(borrow)]
    agent_response: Option<Raw<'a>>,
    #[serde(borrow, rename = "agentResponse")]
    agent_response_camel: Option<Raw<'a>>,
    #[serde(borrow)]
    response: Option<Raw<'a>>,
    #[serde(borrow)]
    user_input_datetime: Option<Raw<'a>>,
    #[serde(borrow)]
    agent_response_datetime: Option<Raw<'a>>,
    #[serde(borrow)]
    latency: Option<Latency<'a>>,
    #[serde(borrow)]
    barge_in: Option<Raw<'a>>,
    #[serde(borrow)]
    asr_lang_code: Option<Raw<'a>>,
    #[serde(borrow)]
    tts_lang_code: Option<Raw<'a>>,
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
}

/// `latency`: a number, or an object's `perceived_latency`.
struct Latency<'a>(Option<f64>, PhantomData<&'a ()>);

#[derive(Deserialize)]
struct LatencyObject<'a> {
    #[serde(borrow)]
    perceived_latency: Option<Raw<'a>>,
}

impl<'de: 'a, 'a> Shape<'de> for Latency<'a> {
    fn other(raw: Raw<'de>) -> Self {
        Latency(raw.field().number(), PhantomData)
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let object = LatencyObject::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Latency(
            object.perceived_latency.and_then(|r| r.field().number()),
            PhantomData,
        ))
    }
}

/// `metadata.current_node`.
struct Metadata<'a>(Option<String>, PhantomData<&'a ()>);

#[derive(Deserialize)]
struct MetadataObject<'a> {
    #[serde(borrow)]
    current_node: Option<Raw<'a>>,
}

impl<'de: 'a, 'a> Shape<'de> for Metadata<'a> {
    fn other(_: Raw<'de>) -> Self {
        Metadata(None, PhantomData)
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let object = MetadataObject::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Metadata(
            object.current_node.and_then(|r| r.field().text()),
            PhantomData,
        ))
    }
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        skip_seq(seq).map(|()| Metadata(None, PhantomData))
    }
}

/// `_export.audioFile`, the recording `polyai export` saved.
struct Export<'a>(Option<String>, PhantomData<&'a ()>);

#[derive(Deserialize)]
struct ExportObject<'a> {
    #[serde(borrow, rename = "audioFile")]
    audio_file: Option<Raw<'a>>,
}

impl<'de: 'a, 'a> Shape<'de> for Export<'a> {
    fn other(_: Raw<'de>) -> Self {
        Export(None, PhantomData)
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let object = ExportObject::deserialize(MapAccessDeserializer::new(map))?;
        let audio = match object.audio_file {
            Some(Raw::Str(s)) => Some(s.into_owned()),
            Some(Raw::Other(Value::String(s))) => Some(s),
            _ => None,
        };
        Ok(Export(audio, PhantomData))
    }
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        skip_seq(seq).map(|()| Export(None, PhantomData))
    }
}

/// `metrics`: name → values, in the order of the text (a name given twice keeps its first
/// place and its last values, as `serde_json`'s ordered map does); nothing but an object
/// gives no metrics.
struct Metrics(Vec<MetricRecord>);

/// By hand, without a lifetime: the records own the names.
impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        shape(deserializer)
    }
}

impl<'de> Shape<'de> for Metrics {
    fn other(_: Raw<'de>) -> Self {
        Metrics(Vec::new())
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut groups: Vec<(String, Vec<MetricValue<'de>>)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let MetricValues(values) = map.next_value()?;
            match groups.iter_mut().find(|(n, _)| *n == name) {
                Some(group) => group.1 = values,
                None => groups.push((name, values)),
            }
        }
        let mut records = Vec::new();
        for (name, values) in groups {
            for (position, entry) in values.into_iter().enumerate() {
                let value = entry
                    .value
                    .filter(|v| !matches!(v, Raw::Other(Value::Null)));
                records.push(MetricRecord {
                    name: name.clone(),
                    position: position as i64,
                    recorded_at: entry.recorded_at,
                    value: value.as_ref().and_then(|v| v.field().text()),
                    number: value.as_ref().and_then(|v| v.field().number()),
                });
            }
        }
        Ok(Metrics(records))
    }
}

/// One metric's values: an array of them, or one.
struct MetricValues<'a>(Vec<MetricValue<'a>>);

impl<'de: 'a, 'a> Shape<'de> for MetricValues<'a> {
    fn other(raw: Raw<'de>) -> Self {
        MetricValues(vec![MetricValue::other(raw)])
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        MetricValue::map(map).map(|v| MetricValues(vec![v]))
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element::<MetricValue<'de>>()? {
            values.push(value);
        }
        Ok(MetricValues(values))
    }
}

/// A metric's value: `{timestamp, value}`, or a bare value.
struct MetricValue<'a> {
    recorded_at: Option<crate::Timestamp>,
    value: Option<Raw<'a>>,
}

#[derive(Deserialize)]
struct MetricObject<'a> {
    #[serde(borrow)]
    timestamp: Option<Raw<'a>>,
    #[serde(borrow)]
    value: Option<Raw<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for MetricValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        shape(deserializer)
    }
}

impl<'de: 'a, 'a> Shape<'de> for MetricValue<'a> {
    fn other(raw: Raw<'de>) -> Self {
        MetricValue {
            recorded_at: None,
            value: Some(raw),
        }
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let object = MetricObject::deserialize(MapAccessDeserializer::new(map))?;
        Ok(MetricValue {
            recorded_at: object.timestamp.and_then(|t| t.field().time()),
            value: object.value,
        })
    }
}

/// The record of a v3 export line (see the [module notes](self)); `None` for a line this
/// reader leaves to the `Value` readers.
pub(super) fn v3_export_line(json: &[u8]) -> Option<ConversationRecord> {
    let Top(line) = serde_json::from_slice(json).ok()?;
    let line = line?;
    if line.conversation_id || line.conversation_id_camel {
        return None;
    }
    let Some(Raw::Str(id)) = line.id else {
        return None;
    };
    let turns: Option<Vec<TurnRecord>> = line.turns.and_then(|t| t.0).map(|items| {
        items
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| Some(t?.record(i as i64)))
            .collect()
    });
    let mut record = ConversationRecord::new(id.into_owned(), Api::V3);
    record.account_id = nonempty(&line.account_id);
    record.project_id = nonempty(&line.project_id);
    record.environment = nonempty(&line.environment);
    record.channel = nonempty(&line.channel);
    record.started_at = field(&line.started_at).and_then(Field::time);
    record.in_progress = field(&line.in_progress).and_then(Field::flag);
    record.total_duration = field(&line.total_duration).and_then(Field::int);
    record.polyai_duration = field(&line.polyai_duration).and_then(Field::int);
    record.from_number = nonempty(&line.from_number);
    record.to_number = nonempty(&line.to_number);
    record.variant_id = nonempty(&line.variant_id);
    record.variant_name = nonempty(&line.variant_name);
    record.handoff = field(&line.handoff).and_then(Field::flag);
    record.handoff_destination = nonempty(&line.handoff_destination);
    record.handoff_reason = nonempty(&line.handoff_reason);
    record.num_silences = field(&line.num_silences).and_then(Field::int);
    record.num_ood = field(&line.num_ood).and_then(Field::int);
    record.turn_count = turns
        .as_ref()
        .map(|t| t.len() as i64)
        .or_else(|| field(&line.num_turns).and_then(Field::int));
    record.turns = turns;
    record.metrics = line.metrics.map(|m| m.0);
    record.audio_file = line._export.and_then(|e| e.0);
    Some(record)
}

fn field<'r>(raw: &'r Option<Raw<'_>>) -> Option<Field<'r>> {
    raw.as_ref().map(Raw::field)
}

fn text(raw: &Option<Raw<'_>>) -> Option<String> {
    field(raw)?.text()
}

/// Text, an empty string as none (v3 sends `""` for an absent value).
fn nonempty(raw: &Option<Raw<'_>>) -> Option<String> {
    text(raw).filter(|t| !t.is_empty())
}

impl TurnLine<'_> {
    fn record(self, turn_index: i64) -> TurnRecord {
        TurnRecord {
            turn_index,
            turn_id: field(&self.turn_id).and_then(Field::int),
            user_input: text(&self.user_input)
                .or_else(|| text(&self.user_input_camel))
                .or_else(|| text(&self.input)),
            agent_response: text(&self.agent_response)
                .or_else(|| text(&self.agent_response_camel))
                .or_else(|| text(&self.response)),
            user_input_at: field(&self.user_input_datetime).and_then(Field::time),
            agent_response_at: field(&self.agent_response_datetime).and_then(Field::time),
            latency: self.latency.and_then(|l| l.0),
            barge_in: field(&self.barge_in).and_then(Field::flag),
            asr_lang_code: nonempty(&self.asr_lang_code),
            tts_lang_code: nonempty(&self.tts_lang_code),
            current_node: self.metadata.and_then(|m| m.0),
        }
    }
}
