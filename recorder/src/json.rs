//! JSON encoding of the wire types into a `String`: a small `serde::Serializer`.
//!
//! The recorder used to build a JS object with serde-wasm-bindgen and encode it
//! with `JSON.stringify`; that costs a JS object per field and a lot of glue and
//! wasm. This serializer writes the same bytes as `serde_json` (compact) for the
//! shapes `shared` uses: structs, maps with string keys, sequences, unit variants,
//! options, booleans, integers and strings. Anything else (floats, tuples, bytes,
//! newtype or struct variants) is an error: the wire types have none, and custom
//! event values travel as [`RawJson`], text the browser's `JSON.stringify` made.
//!
//! Tests prove the output byte-identical to `serde_json` for every event type.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::ser::{self, Impossible, Serialize};

use crate::text::push_int;

/// The wire types as the recorder holds them: a custom event's value is the
/// JSON text the browser produced, not a decoded tree.
pub type Event = shared::Event<RawJson>;
/// See [`Event`].
pub type EventData = shared::EventData<RawJson>;
/// See [`Event`].
pub type CustomData = shared::CustomData<RawJson>;

/// Name under which [`RawJson`] presents itself to a serializer; [`to_string`]
/// writes its text verbatim instead of as a string.
const RAW_TOKEN: &str = "$cotrail::RawJson";

/// Valid JSON text (from `JSON.stringify`), written into the output as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    /// `text` must be valid JSON; the recorder only builds this from
    /// `JSON.stringify`'s result or from literals.
    pub fn new(text: String) -> RawJson {
        RawJson(text)
    }

    /// JSON `null`.
    pub fn null() -> RawJson {
        RawJson("null".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for RawJson {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(RAW_TOKEN, self.0.as_str())
    }
}

/// Encoding failed: the value has a shape the wire types never use.
#[derive(Debug)]
pub struct Error;

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("unsupported value")
    }
}

impl core::error::Error for Error {}

impl ser::Error for Error {
    // The message is dropped on purpose: formatting it would link `core::fmt`,
    // and nothing in the wire types can fail this way.
    fn custom<T: core::fmt::Display>(_msg: T) -> Self {
        Error
    }
}

/// Encodes `value` as compact JSON, exactly as `serde_json::to_string` would.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut out = String::new();
    value.serialize(&mut Writer { out: &mut out })?;
    Ok(out)
}

/// Appends `s` as a JSON string literal, escaped like `serde_json` (and
/// `JSON.stringify`): `"`, `\` and control characters only.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        start = i + 1;
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(esc);
        }
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

struct Writer<'a> {
    out: &'a mut String,
}

/// A struct, map or sequence being written: adds the commas.
pub struct Compound<'a, 'b> {
    w: &'b mut Writer<'a>,
    first: bool,
    close: char,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !self.first {
            self.w.out.push(',');
        }
        self.first = false;
    }

    fn key(&mut self, key: &str) {
        self.comma();
        push_str(self.w.out, key);
        self.w.out.push(':');
    }
}

impl<'a, 'b> ser::Serializer for &'b mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = Compound<'a, 'b>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        if v < 0 {
            self.out.push('-');
        }
        push_int(self.out, v.unsigned_abs());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        push_int(self.out, v);
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result<(), Error> {
        Err(Error)
    }
    fn serialize_f64(self, _: f64) -> Result<(), Error> {
        Err(Error)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        push_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        push_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(Error)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        if name == RAW_TOKEN {
            return v.serialize(RawWriter { out: self.out });
        }
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(Error)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        self.out.push('[');
        Ok(Compound {
            w: self,
            first: true,
            close: ']',
        })
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(Error)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(Error)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        self.out.push('{');
        Ok(Compound {
            w: self,
            first: true,
            close: '}',
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error)
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.comma();
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.w.out.push(self.close);
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        // Keys must be strings, as in `serde_json`; the wire types' keys are.
        key.serialize(KeyWriter { out: self.w.out })?;
        self.w.out.push(':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.key(key);
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

/// Accepts only a string: a map key, or the text inside a [`RawJson`].
macro_rules! string_only {
    ($name:ident, $write:expr) => {
        struct $name<'a> {
            out: &'a mut String,
        }

        impl ser::Serializer for $name<'_> {
            type Ok = ();
            type Error = Error;
            type SerializeSeq = Impossible<(), Error>;
            type SerializeTuple = Impossible<(), Error>;
            type SerializeTupleStruct = Impossible<(), Error>;
            type SerializeTupleVariant = Impossible<(), Error>;
            type SerializeMap = Impossible<(), Error>;
            type SerializeStruct = Impossible<(), Error>;
            type SerializeStructVariant = Impossible<(), Error>;

            fn serialize_str(self, v: &str) -> Result<(), Error> {
                #[allow(clippy::redundant_closure_call)] // the macro's argument is a closure
                ($write)(self.out, v);
                Ok(())
            }
            fn serialize_unit_variant(
                self,
                _: &'static str,
                _: u32,
                v: &'static str,
            ) -> Result<(), Error> {
                self.serialize_str(v)
            }
            fn serialize_newtype_struct<T: Serialize + ?Sized>(
                self,
                _: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                v.serialize(self)
            }
            fn serialize_bool(self, _: bool) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_i8(self, _: i8) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_i16(self, _: i16) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_i32(self, _: i32) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_i64(self, _: i64) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_u8(self, _: u8) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_u16(self, _: u16) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_u32(self, _: u32) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_u64(self, _: u64) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_f32(self, _: f32) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_f64(self, _: f64) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_char(self, _: char) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_none(self) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_unit(self) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_newtype_variant<T: Serialize + ?Sized>(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: &T,
            ) -> Result<(), Error> {
                Err(Error)
            }
            fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
                Err(Error)
            }
            fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
                Err(Error)
            }
            fn serialize_tuple_struct(
                self,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeTupleStruct, Error> {
                Err(Error)
            }
            fn serialize_tuple_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeTupleVariant, Error> {
                Err(Error)
            }
            fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
                Err(Error)
            }
            fn serialize_struct(
                self,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeStruct, Error> {
                Err(Error)
            }
            fn serialize_struct_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeStructVariant, Error> {
                Err(Error)
            }
        }
    };
}

string_only!(KeyWriter, push_str);
string_only!(RawWriter, |out: &mut String, v: &str| out.push_str(v));

#[cfg(test)]
mod tests {
    use super::*;
    use super::{CustomData, Event, EventData};
    use shared::*;

    fn el() -> ElementRef {
        ElementRef {
            id: Some("buy".into()),
            name: Some("n\"a\\m\ne\u{1}\u{7f}é😀".into()),
            tag: "button".into(),
            path: "main>button#buy".into(),
            label: None,
        }
    }

    fn samples() -> Vec<shared::EventData<serde_json::Value>> {
        vec![
            shared::EventData::Click(ClickData { target: el() }),
            shared::EventData::Scroll(ScrollData {
                target: None,
                x: -3,
                y: i64::MAX,
            }),
            shared::EventData::Scroll(ScrollData {
                target: Some(el()),
                x: i64::MIN,
                y: 0,
            }),
            shared::EventData::Form(FormData {
                target: el(),
                action: Some("/x?\t\r\u{8}\u{c}\u{1f}".into()),
                method: None,
            }),
            shared::EventData::Input(InputData {
                target: el(),
                value: None,
                checked: Some(false),
                masked: Some(MaskReason::CreditCard),
            }),
            shared::EventData::PageChange(PageChangeData {
                url: "https://a/b".into(),
                title: String::new(),
                nav: Navigation::Push,
            }),
            shared::EventData::Selection(SelectionData {
                text: Some("x".into()),
                target: None,
                masked: None,
            }),
            shared::EventData::Custom(shared::CustomData {
                custom_type: "cart".into(),
                value: serde_json::json!({"a": [1, "x\u{0}", null, true, {"b": {}}], "c": []}),
            }),
        ]
    }

    fn raw(d: shared::EventData<serde_json::Value>) -> EventData {
        match d {
            shared::EventData::Custom(c) => shared::EventData::Custom(CustomData {
                custom_type: c.custom_type,
                value: RawJson::new(serde_json::to_string(&c.value).unwrap()),
            }),
            shared::EventData::Click(d) => shared::EventData::Click(d),
            shared::EventData::Scroll(d) => shared::EventData::Scroll(d),
            shared::EventData::Form(d) => shared::EventData::Form(d),
            shared::EventData::Input(d) => shared::EventData::Input(d),
            shared::EventData::PageChange(d) => shared::EventData::PageChange(d),
            shared::EventData::Selection(d) => shared::EventData::Selection(d),
        }
    }

    #[test]
    fn events_encode_byte_identically_to_serde_json() {
        let actors = [
            Actor::Customer,
            Actor::Script,
            Actor::Agent {
                id: AgentId::parse("agent-7").unwrap(),
            },
        ];
        for (i, data) in samples().into_iter().enumerate() {
            let e = shared::Event {
                seq: u64::MAX - i as u64,
                ts: -(i as i64),
                mono: i as u64,
                actor: actors[i % 3].clone(),
                data,
            };
            let expected = serde_json::to_string(&e).unwrap();
            let mine = Event {
                seq: e.seq,
                ts: e.ts,
                mono: e.mono,
                actor: e.actor,
                data: raw(e.data),
            };
            assert_eq!(to_string(&mine).unwrap(), expected);
            // And inside a body, which `queue::body` splices together.
            let body = crate::queue::body(
                &crate::queue::body_head("s-1", "t.2"),
                core::iter::once(expected.as_str()),
                &[],
            );
            let batch: Batch = serde_json::from_str(&body).unwrap();
            assert_eq!(batch.events.len(), 1);
            assert_eq!(batch.session_id.as_str(), "s-1");
            let _ = WIRE_VERSION;
        }
    }

    #[test]
    fn every_control_character_is_escaped_like_serde_json() {
        let s: String = (0u8..=0x7f)
            .map(char::from)
            .chain(['é', '\u{2028}'])
            .collect();
        let mut out = String::new();
        push_str(&mut out, &s);
        assert_eq!(out, serde_json::to_string(&s).unwrap());
    }

    #[test]
    fn raw_json_is_written_verbatim() {
        let v = RawJson::new(r#"{"z":1,"a":[1.5e300,"\u2028"]}"#.into());
        assert_eq!(to_string(&v).unwrap(), v.as_str());
        assert_eq!(to_string(&vec![RawJson::null()]).unwrap(), "[null]");
    }

    #[test]
    fn floats_are_refused_rather_than_written_differently() {
        assert!(to_string(&1.5f64).is_err());
    }
}
