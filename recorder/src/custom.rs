//! `recordCustom(type, value)`: turning a page's call into a valid
//! `CUSTOM_EVENT`, or into a warning that says what is wrong.
//!
//! The value goes through the browser's `JSON.stringify` (which also rejects
//! cycles and BigInts), and its size and nesting are checked on that text. The
//! text is what the event carries ([`RawJson`]), keys in the order the page
//! built them: the recorder never decodes it, so it needs no JSON parser. The
//! collector decodes and checks it again against the same limits, and stores
//! it canonical (keys sorted), so the order the page used does not matter.

#[allow(unused_imports)]
use crate::prelude::*;
use shared::limits::{MAX_CUSTOM_TYPE_CHARS, MAX_CUSTOM_VALUE_BYTES, MAX_JSON_DEPTH};
use wasm_bindgen::JsValue;

use crate::json::{CustomData, RawJson};
use crate::text::push_int;

/// Nesting depth of JSON text (a scalar is 1, `[1]` is 2), counting brackets
/// outside strings. Only meaningful for valid JSON, which `JSON.stringify` gives.
pub fn json_text_depth(text: &str) -> usize {
    json_text_measure(text).0
}

/// Depth (as [`json_text_depth`]) and an upper bound of the length the
/// collector measures (see [`fix_and_measure`]).
fn json_text_measure(text: &str) -> (usize, usize) {
    let (_, depth, bytes) = fix_and_measure(text.into());
    (depth, bytes)
}

/// Replaces the `\udXXX` escapes `JSON.stringify` writes for lone surrogates by
/// U+FFFD, as the browser's strings become when they enter Rust: the collector's
/// JSON decoder rejects lone surrogates, and a rejected batch is lost.
pub fn replace_lone_surrogates(text: String) -> String {
    fix_and_measure(text).0
}

/// One pass over JSON text from `JSON.stringify` (one loop where a loop to
/// replace and another to measure each tracked strings and escapes): the
/// text with lone surrogate escapes replaced ([`replace_lone_surrogates`]),
/// its nesting depth (as [`json_text_depth`]) and an upper bound of the
/// length the collector measures after decoding the text and encoding it
/// again with `serde_json`.
///
/// Both encoders escape strings alike and write the same shortest digits, but an
/// integer beyond 64 bits that JS writes in full (`18446744073709552000`)
/// becomes a float for `serde_json` (`1.8446744073709552e19`), up to 2 bytes
/// longer; counting those keeps the recorder from sending what the collector
/// would reject.
fn fix_and_measure(text: String) -> (String, usize, usize) {
    // Byte loops rather than `str` searching: the JSON is ASCII where it matters,
    // and core's substring searcher is kilobytes of wasm. The output is built
    // from slices of the input cut at ASCII bytes, so it needs no UTF-8
    // validation (another kilobyte).
    let b = text.as_bytes();
    // Built only once an escape is found (`copied` stays 0 until then).
    let mut out = String::new();
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    let (mut depth, mut max, mut digits, mut extra) = (0usize, 0usize, 0usize, 0usize);
    while i < b.len() {
        let c = b[i];
        i += 1;
        if in_string {
            match c {
                b'"' => in_string = false,
                b'\\'
                    if matches!(
                        b.get(i..i + 5),
                        Some([b'u', b'd', b'8'..=b'9' | b'a'..=b'f', _, _])
                    ) =>
                {
                    out.push_str(text.get(copied..i - 1).unwrap_or_default());
                    out.push('\u{fffd}');
                    i += 5;
                    copied = i;
                }
                // Any other escape is skipped with the character it escapes,
                // so an escaped quote does not end the string.
                b'\\' => i += 1,
                _ => {}
            }
            continue;
        }
        if c.is_ascii_digit() {
            digits += 1;
            continue;
        }
        // Only plain integers end here with a long run of digits: a fraction or
        // an exponent already makes `serde_json` write a float no longer than JS.
        if digits >= 20 && !matches!(c, b'.' | b'e' | b'E') {
            extra += 2;
        }
        digits = 0;
        match c {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if digits >= 20 {
        extra += 2;
    }
    let out = if copied == 0 {
        text
    } else {
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    };
    let bytes = out.len() + extra;
    (out, max + 1, bytes)
}

// The limits as the messages below write them (literals: no digits built
// at run time for a constant).
const _: () =
    assert!(MAX_CUSTOM_TYPE_CHARS == 64 && MAX_CUSTOM_VALUE_BYTES == 8192 && MAX_JSON_DEPTH == 16);

/// What is wrong with a call: most messages are fixed, borrowed rather than
/// copied into a `String` each.
pub type Error = alloc::borrow::Cow<'static, str>;

/// Checks the type name before anything else is done with the call. Errors
/// here say what is wrong; the caller puts `recordCustom(type, value): `
/// before them.
pub fn check_type(kind: Option<String>) -> Result<String, Error> {
    let kind = kind.ok_or("type must be a string")?;
    if crate::text::is_blank(&kind) {
        return Err("type must not be empty".into());
    }
    if shared::char_count(&kind) > MAX_CUSTOM_TYPE_CHARS {
        return Err("type is longer than 64 characters".into());
    }
    Ok(kind)
}

/// Checks the JSON text of a value against the size and depth limits.
pub fn check_value_text(text: &str) -> Result<(), Error> {
    let (depth, bytes) = json_text_measure(text);
    check_measure(depth, bytes)
}

/// Checks a value's measure ([`fix_and_measure`]) against the size and depth
/// limits.
fn check_measure(depth: usize, bytes: usize) -> Result<(), Error> {
    let (what, n, limit) = if bytes > MAX_CUSTOM_VALUE_BYTES {
        ("value is ", bytes, " bytes as JSON, the limit is 8192")
    } else if depth > MAX_JSON_DEPTH {
        ("value nests ", depth, " levels, the limit is 16")
    } else {
        return Ok(());
    };
    // One message for both, built in one string.
    let mut msg = String::from(what);
    push_int(&mut msg, n as u64);
    msg.push_str(limit);
    Err(msg.into())
}

/// Builds the event data from the page's arguments.
pub fn custom_data(kind: &JsValue, value: &JsValue) -> Result<CustomData, Error> {
    let custom_type = check_type(kind.as_string())?;
    let value = if value.is_undefined() {
        RawJson::null()
    } else {
        let text = js_sys::JSON::stringify(value)
            .map_err(|_| "value is not JSON-serialisable (a cycle or a BigInt?)")?;
        // A function or a symbol has no JSON form (stringify gives `undefined`):
        // that is a mistake in the page's call, not a value to record.
        match text.as_string() {
            None => return Err("value is not a JSON value (a function or a symbol?)".into()),
            Some(text) => {
                let (text, depth, bytes) = fix_and_measure(text);
                check_measure(depth, bytes)?;
                RawJson::new(text)
            }
        }
    };
    Ok(CustomData { custom_type, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two loops `fix_and_measure` replaced, as they were: the reference
    /// it must agree with.
    fn old_measure(text: &str) -> (usize, usize) {
        let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
        let (mut digits, mut bytes) = (0usize, text.len());
        for b in text.bytes() {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            if b.is_ascii_digit() {
                digits += 1;
                continue;
            }
            if digits >= 20 && !matches!(b, b'.' | b'e' | b'E') {
                bytes += 2;
            }
            digits = 0;
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if digits >= 20 {
            bytes += 2;
        }
        (max + 1, bytes)
    }

    fn old_replace(text: String) -> String {
        let b = text.as_bytes();
        let mut out = String::new();
        let (mut i, mut copied, mut in_string) = (0, 0, false);
        while i < b.len() {
            match b[i] {
                b'"' => {
                    in_string = !in_string;
                    i += 1;
                }
                b'\\'
                    if in_string
                        && i + 6 <= b.len()
                        && b[i + 1] == b'u'
                        && b[i + 2] == b'd'
                        && matches!(b[i + 3], b'8'..=b'9' | b'a'..=b'f') =>
                {
                    out.push_str(text.get(copied..i).unwrap_or_default());
                    out.push('\u{fffd}');
                    i += 6;
                    copied = i;
                }
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        if copied == 0 {
            return text;
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    }

    /// One pass gives what replacing, then measuring the result, gave, for
    /// JSON texts as `JSON.stringify` writes them (strings with every kind of
    /// escape, lone surrogates among them, long integers, nesting).
    #[test]
    fn one_pass_agrees_with_replacing_then_measuring() {
        let pieces = [
            "\"a\"",
            "\"\\ud800\"",
            "\"x\\udfffy\"",
            "\"\\\\ud800\"",
            "\"\\\"\"",
            "\"\\u0001\\n\"",
            "\"é日\\udc00本\"",
            "\"\\ud7ff\\ue000\"",
            "\"[{\"",
            "18446744073709552000",
            "1.8446744073709552e19",
            "123456789012345678901.5",
            "99999999999999999999e3",
            "0",
            "-12",
            "true",
            "null",
            "\"\\ud83d\\ude00\"",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..5000 {
            // A random valid JSON value: nested arrays and objects of pieces.
            fn value(next: &mut impl FnMut(usize) -> usize, pieces: &[&str], d: usize) -> String {
                match next(if d > 20 { 1 } else { 4 }) {
                    0 => pieces[next(pieces.len())].to_owned(),
                    1 | 2 => {
                        let items: Vec<String> =
                            (0..next(4)).map(|_| value(next, pieces, d + 1)).collect();
                        format!("[{}]", items.join(","))
                    }
                    _ => {
                        let items: Vec<String> = (0..next(4))
                            .map(|_| {
                                let k = pieces[next(3)];
                                format!("{k}:{}", value(next, pieces, d + 1))
                            })
                            .collect();
                        format!("{{{}}}", items.join(","))
                    }
                }
            }
            let text = value(&mut next, &pieces, 0);
            let fixed = old_replace(text.clone());
            let (depth, bytes) = old_measure(&fixed);
            assert_eq!(
                fix_and_measure(text.clone()),
                (fixed, depth, bytes),
                "{text}"
            );
        }
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert_eq!(json_text_depth("1"), 1);
        assert_eq!(json_text_depth("[1]"), 2);
        assert_eq!(json_text_depth(r#"{"a":[{"b":"[[[[\"]]"}]}"#), 4);
        assert_eq!(json_text_depth(&"[".repeat(20)), 21);
    }

    #[test]
    fn types_must_be_short_non_empty_strings() {
        assert!(check_type(None).is_err());
        assert!(check_type(Some("  ".into())).is_err());
        assert!(check_type(Some("x".repeat(MAX_CUSTOM_TYPE_CHARS + 1))).is_err());
        assert_eq!(check_type(Some("cart".into())).unwrap(), "cart");
    }

    #[test]
    fn values_are_bounded_in_size_and_depth() {
        assert!(check_value_text(&"1".repeat(MAX_CUSTOM_VALUE_BYTES + 1)).is_err());
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(check_value_text(&deep).unwrap_err().contains("nests"));
        assert!(check_value_text(r#"{"sku":"A-1","qty":2}"#).is_ok());
    }

    #[test]
    fn limit_errors_say_the_measure_and_the_limit() {
        // A string of 8193 bytes with its quotes.
        let big = format!("\"{}\"", "x".repeat(MAX_CUSTOM_VALUE_BYTES - 1));
        assert_eq!(
            check_value_text(&big).unwrap_err(),
            "value is 8193 bytes as JSON, the limit is 8192"
        );
        let deep = "[".repeat(20) + &"]".repeat(20);
        assert_eq!(
            check_value_text(&deep).unwrap_err(),
            "value nests 21 levels, the limit is 16"
        );
    }

    #[test]
    fn huge_integers_count_as_long_as_the_collector_will_see_them() {
        let n = "18446744073709552000";
        let collector =
            serde_json::to_string(&serde_json::from_str::<serde_json::Value>(n).unwrap()).unwrap();
        assert!(json_text_measure(n).1 >= collector.len());
        let text = format!("[{n},1.5e+300,\"{n}\"]");
        assert_eq!(json_text_measure(&text).1, text.len() + 2);
        // `["xx…x",n]`: 25 bytes besides the filler, plus 2 for `n`.
        let fill = "x".repeat(MAX_CUSTOM_VALUE_BYTES - 27);
        assert!(check_value_text(&format!("[\"{fill}\",{n}]")).is_ok());
        assert!(check_value_text(&format!("[\"{fill}x\",{n}]")).is_err());
    }

    #[test]
    fn lone_surrogate_escapes_become_replacement_characters() {
        let text = r#"{"a\ud800":"x\udfff\\ud800\"\u0001","b":"\ud83d\ude00"}"#;
        let fixed = replace_lone_surrogates(text.into());
        assert_eq!(
            fixed,
            "{\"a\u{fffd}\":\"x\u{fffd}\\\\ud800\\\"\\u0001\",\"b\":\"\u{fffd}\u{fffd}\"}"
        );
        // What the collector decodes.
        let v: serde_json::Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(v["b"], "\u{fffd}\u{fffd}");
        assert_eq!(replace_lone_surrogates("[1]".into()), "[1]");
        // Text beside the escapes is copied whole, multi-byte characters too.
        assert_eq!(
            replace_lone_surrogates(r#"["é\ud800ü","日本\udc00語",1]"#.into()),
            "[\"é\u{fffd}ü\",\"日本\u{fffd}語\",1]"
        );
    }
}
