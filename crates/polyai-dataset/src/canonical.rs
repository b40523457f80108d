//! [`to_json`]: the JSON text `serde_json::to_writer` writes for a value, byte for byte, written
//! faster, for the record's [fingerprint](crate::fingerprint).
//!
//! serde_json looks up every byte of every string in a table of escapes; a record's text is
//! mostly strings without any (transcripts, ids, times), and that scan was a tenth of the
//! conversion's CPU time. Here a string is first checked whole for a byte that needs escaping
//! (a loop the compiler turns into vector instructions), and copied as it is when it has none.
//! Everything else — numbers, strings that need escapes — is written by serde_json itself, so
//! the text is the same. A value this writer does not take (a map key that is not a string,
//! serde_json's raw values, an enum's tuple or struct variant: none in a record) makes
//! [`to_json`] fail, and the caller falls back on serde_json.

use serde::ser::{self, Serialize, Serializer};

/// Why [`to_json`] gave up (the caller then writes the value with serde_json).
#[derive(Debug)]
pub(crate) struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not written by the fast JSON writer")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

/// Appends `value`'s compact JSON text to `out`, as `serde_json::to_writer` writes it; on
/// [`Unsupported`], `out` holds part of it (clear it before writing again).
pub(crate) fn to_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result {
    value.serialize(&mut Json { out })
}

struct Json<'a> {
    out: &'a mut Vec<u8>,
}

impl Json<'_> {
    /// A value serde_json writes (a number, a string with escapes).
    fn serde_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        serde_json::to_writer(&mut *self.out, value).map_err(|_| Unsupported)
    }

    fn string(&mut self, s: &str) -> Result {
        if needs_escape(s.as_bytes()) {
            return self.serde_json(s);
        }
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(b'"');
        Ok(())
    }

    fn compound(&mut self, open: u8, close: u8) -> Compound<'_> {
        self.out.push(open);
        Compound {
            first: true,
            close,
            out: self.out,
        }
    }
}

/// Whether `bytes` hold a byte serde_json escapes: a control character (below 0x20), `"` or
/// `\\`. Eight bytes at a time: a word has a byte below `n` (n ≤ 128) exactly when
/// `(w - n·0x01…01) & !w & 0x80…80` is not zero, and a byte equal to `c` when `w ^ c·0x01…01`
/// has a zero byte.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_ne_bytes(word);
        if below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            != 0
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A sequence, map or struct being written.
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    close: u8,
}

impl Compound<'_> {
    fn separate(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.separate();
        value.serialize(&mut Json { out: self.out })
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result {
        self.separate();
        Json { out: self.out }.string(key)?;
        self.out.push(b':');
        value.serialize(&mut Json { out: self.out })
    }

    fn end(self) -> Result {
        self.out.push(self.close);
        Ok(())
    }
}

macro_rules! by_serde_json {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result {
            self.serde_json(&v)
        })*
    };
}

impl<'a, 'b> Serializer for &'b mut Json<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'b>;
    type SerializeTuple = Compound<'b>;
    type SerializeTupleStruct = Compound<'b>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Compound<'b>;
    type SerializeStruct = Compound<'b>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    by_serde_json!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128, serialize_f32: f32, serialize_f64: f64,
        serialize_char: char
    );

    fn serialize_bool(self, v: bool) -> Result {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result {
        self.string(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result {
        self.serde_json(v)
    }

    fn serialize_none(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_none()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        let mut map = self.compound(b'{', b'}');
        map.field(variant, value)?;
        map.end()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'b>> {
        Ok(self.compound(b'[', b']'))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'b>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'b>> {
        self.serialize_seq(Some(len))
    }

    /// Not in a record: left to serde_json.
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'b>> {
        Ok(self.compound(b'{', b'}'))
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Compound<'b>> {
        // serde_json's raw values and arbitrary-precision numbers pass as such structs.
        if name.starts_with("$serde_json") {
            return Err(Unsupported);
        }
        self.serialize_map(None)
    }

    /// Not in a record: left to serde_json.
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

/// serde's three kinds of sequence, each written as a JSON array.
macro_rules! arrays {
    ($($kind:ident::$method:ident),*) => {
        $(impl ser::$kind for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                self.element(value)
            }
            fn end(self) -> Result {
                Compound::end(self)
            }
        })*
    };
}

arrays!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.separate();
        // Only string keys (serde_json also writes numbers and flags as quoted keys).
        key.serialize(KeyOnly {
            json: Json { out: self.out },
        })?;
        self.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut Json { out: self.out })
    }
    fn end(self) -> Result {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.field(key, value)
    }
    fn end(self) -> Result {
        Compound::end(self)
    }
}

/// A map key: a string, or [`Unsupported`].
struct KeyOnly<'a> {
    json: Json<'a>,
}

macro_rules! unsupported {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, _: $ty) -> Result {
            Err(Unsupported)
        })*
    };
}

impl<'a> Serializer for KeyOnly<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<(), Unsupported>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = ser::Impossible<(), Unsupported>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    unsupported!(
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
        serialize_f64: f64, serialize_char: char, serialize_bytes: &[u8],
        serialize_unit_struct: &'static str
    );

    fn serialize_str(mut self, v: &str) -> Result {
        self.json.string(v)
    }
    fn serialize_none(self) -> Result {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result {
        Err(Unsupported)
    }
    fn serialize_unit_variant(mut self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.json.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Unsupported)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `value`'s text by both writers, which must be the same.
    fn same<T: Serialize>(value: &T) {
        let want = serde_json::to_vec(value).unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        to_json(&mut got, value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn the_text_is_serde_jsons() {
        same(&json!({
            "plain": "hello", "quote": "say \"hi\"", "back": "C:\\dir", "ctl": "a\u{1}b\tc\nd\re",
            "del": "\u{7f}", "unicode": "café ☕ 𝄞", "empty": "", "long": "x".repeat(1000),
            "numbers": [0, -1, 18446744073709551615u64, 1.5, 0.1, 1e300, -0.0, 12345678.9],
            "flags": [true, false, null], "nested": {"a": [], "b": {}, "c": [[1], {"d": null}]},
        }));
        #[derive(serde::Serialize)]
        enum E {
            Unit,
            New(Vec<f64>),
        }
        #[derive(serde::Serialize)]
        struct S<'a> {
            e: Vec<E>,
            t: (i64, &'a str),
            c: char,
            u: (),
            o: Option<String>,
            f: f32,
            bytes: &'a [u8],
            map: std::collections::BTreeMap<String, i32>,
        }
        same(&S {
            e: vec![E::Unit, E::New(vec![f64::NAN, 2.0])],
            t: (-5, "é"),
            c: '"',
            u: (),
            o: Some("\u{0}".into()),
            f: 0.3,
            bytes: b"ab",
            map: [("k\n".to_owned(), 1), ("z".to_owned(), 2)].into(),
        });
    }

    #[test]
    fn a_byte_to_escape_is_found_wherever_it_is() {
        for len in 0..40 {
            let plain = "a".repeat(len);
            assert!(!needs_escape(plain.as_bytes()), "{len}");
            assert!(!needs_escape("é☕ ~\u{7f}!#".repeat(len).as_bytes()));
            for at in 0..len {
                for special in [0u8, 0x1f, b'"', b'\\', b'\n'] {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = special;
                    assert!(needs_escape(&bytes), "{special:#x} at {at} of {len}");
                }
                // Neighbours of the special bytes are not special.
                for near in [0x20u8, 0x21, 0x23, 0x5b, 0x5d, 0x7f] {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = near;
                    assert!(!needs_escape(&bytes), "{near:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn what_it_does_not_write_is_refused() {
        let raw = serde_json::value::RawValue::from_string("{\"a\":1}".into())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(to_json(&mut Vec::new(), &raw).is_err());
        let numeric_keys: std::collections::BTreeMap<i32, i32> = [(1, 2)].into();
        assert!(to_json(&mut Vec::new(), &numeric_keys).is_err());
        #[derive(serde::Serialize)]
        enum E {
            Tuple(u8, u8),
            Struct { a: u8 },
        }
        assert!(to_json(&mut Vec::new(), &E::Tuple(1, 2)).is_err());
        assert!(to_json(&mut Vec::new(), &E::Struct { a: 1 }).is_err());
    }
}
