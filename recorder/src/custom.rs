//! `recordCustom(type, value)`: turning a page's call into a valid
//! `CUSTOM_EVENT`, or into a warning that says what is wrong.
//!
//! The value goes through the browser's `JSON.stringify` (which also rejects
//! cycles and BigInts), its size and nesting are checked on the text before it is
//! decoded, so a hostile value cannot exhaust memory or the stack.

use shared::limits::{MAX_CUSTOM_TYPE_CHARS, MAX_CUSTOM_VALUE_BYTES, MAX_JSON_DEPTH};
use shared::CustomData;
use wasm_bindgen::JsValue;

/// Nesting depth of JSON text (a scalar is 1, `[1]` is 2), counting brackets
/// outside strings. Only meaningful for valid JSON, which `JSON.stringify` gives.
pub fn json_text_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
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
    max + 1
}

/// Checks the type name before anything else is done with the call.
pub fn check_type(kind: Option<String>) -> Result<String, String> {
    let kind = kind.ok_or("recordCustom(type, value): type must be a string")?;
    if kind.trim().is_empty() {
        return Err("recordCustom(type, value): type must not be empty".into());
    }
    if kind.chars().count() > MAX_CUSTOM_TYPE_CHARS {
        return Err(format!(
            "recordCustom(type, value): type is longer than {MAX_CUSTOM_TYPE_CHARS} characters"
        ));
    }
    Ok(kind)
}

/// Checks the JSON text of a value against the size and depth limits.
pub fn check_value_text(text: &str) -> Result<(), String> {
    if text.len() > MAX_CUSTOM_VALUE_BYTES {
        return Err(format!(
            "recordCustom(type, value): value is {} bytes as JSON, the limit is {MAX_CUSTOM_VALUE_BYTES}",
            text.len()
        ));
    }
    let depth = json_text_depth(text);
    if depth > MAX_JSON_DEPTH {
        return Err(format!(
            "recordCustom(type, value): value nests {depth} levels, the limit is {MAX_JSON_DEPTH}"
        ));
    }
    Ok(())
}

/// Builds the event data from the page's arguments.
pub fn custom_data(kind: &JsValue, value: &JsValue) -> Result<CustomData, String> {
    let custom_type = check_type(kind.as_string())?;
    let value = if value.is_undefined() {
        serde_json::Value::Null
    } else {
        let text = js_sys::JSON::stringify(value).map_err(|_| {
            "recordCustom(type, value): value is not JSON-serialisable (a cycle or a BigInt?)"
        })?;
        // A function or a symbol has no JSON form (stringify gives `undefined`):
        // that is a mistake in the page's call, not a value to record.
        match text.as_string() {
            None => return Err(
                "recordCustom(type, value): value is not a JSON value (a function or a symbol?)"
                    .into(),
            ),
            Some(text) => {
                check_value_text(&text)?;
                let parsed = js_sys::JSON::parse(&text)
                    .map_err(|_| "recordCustom: JSON round trip failed")?;
                serde_wasm_bindgen::from_value(parsed).map_err(|e| e.to_string())?
            }
        }
    };
    let data = CustomData { custom_type, value };
    data.validate()
        .map_err(|e| format!("recordCustom(type, value): {e}"))?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
