//! [`Lenient`]: a value PolyAI's document leaves untyped, typed where it has the expected shape.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that PolyAI's document declares untyped (`{}`, or an object with no properties) and our
/// corrections describe as `T`: [`Typed`](Lenient::Typed) when it has that shape, otherwise
/// [`Raw`](Lenient::Raw), the JSON as it arrived. Either way the response it is part of decodes,
/// and re-encoding gives the value back ([`Raw`](Lenient::Raw) exactly as sent).
///
/// ```
/// use polyai_data_raw::Lenient;
///
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Point { x: i64 }
///
/// let ok: Vec<Lenient<Point>> = serde_json::from_str(r#"[{"x": 1}, null, "odd", {"x": "two"}]"#)?;
/// assert_eq!(ok[0].typed(), Some(&Point { x: 1 }));
/// assert_eq!(ok[1].raw(), Some(&serde_json::Value::Null));
/// assert_eq!(ok[3].raw(), Some(&serde_json::json!({"x": "two"})));
/// assert_eq!(ok.iter().filter_map(Lenient::typed).count(), 1);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Lenient<T> {
    /// The value has the shape the corrections describe.
    Typed(T),
    /// The value has another shape: here as it arrived.
    Raw(serde_json::Value),
}

impl<T> Lenient<T> {
    /// The typed value, if the value had the expected shape.
    pub fn typed(&self) -> Option<&T> {
        match self {
            Lenient::Typed(value) => Some(value),
            Lenient::Raw(_) => None,
        }
    }

    /// The typed value, if the value had the expected shape.
    pub fn into_typed(self) -> Option<T> {
        match self {
            Lenient::Typed(value) => Some(value),
            Lenient::Raw(_) => None,
        }
    }

    /// The JSON as it arrived, if the value did not have the expected shape.
    pub fn raw(&self) -> Option<&serde_json::Value> {
        match self {
            Lenient::Typed(_) => None,
            Lenient::Raw(value) => Some(value),
        }
    }

    /// Whether the value had the expected shape.
    pub fn is_typed(&self) -> bool {
        matches!(self, Lenient::Typed(_))
    }
}

impl<T> From<T> for Lenient<T> {
    fn from(value: T) -> Self {
        Lenient::Typed(value)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(match T::deserialize(&value) {
            Ok(typed) => Lenient::Typed(typed),
            Err(_) => Lenient::Raw(value),
        })
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Typed(value) => value.serialize(serializer),
            Lenient::Raw(value) => value.serialize(serializer),
        }
    }
}

#[cfg(feature = "schemars")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for Lenient<T> {
    fn schema_name() -> String {
        format!("Lenient_{}", T::schema_name())
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{Schema, SchemaObject, SubschemaValidation};
        Schema::Object(SchemaObject {
            subschemas: Some(Box::new(SubschemaValidation {
                any_of: Some(vec![generator.subschema_for::<T>(), Schema::Bool(true)]),
                ..SubschemaValidation::default()
            })),
            ..SchemaObject::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Event {
        name: Option<String>,
        duration: Option<serde_json::Number>,
    }

    #[test]
    fn a_value_of_another_shape_is_kept_as_sent() {
        for odd in [
            json!(null),
            json!(7),
            json!("text"),
            json!([1, 2]),
            json!({"name": 3}),
        ] {
            let decoded: Lenient<Event> = serde_json::from_value(odd.clone()).unwrap();
            assert_eq!(decoded.raw(), Some(&odd));
            assert_eq!(serde_json::to_value(&decoded).unwrap(), odd);
        }
    }

    #[test]
    fn a_value_of_the_expected_shape_is_typed_and_keeps_its_numbers() {
        let text = r#"{"name":"start","duration":4108}"#;
        let decoded: Lenient<Event> = serde_json::from_str(text).unwrap();
        assert_eq!(
            decoded.typed().and_then(|e| e.name.as_deref()),
            Some("start")
        );
        assert_eq!(serde_json::to_string(&decoded).unwrap(), text);
    }
}
