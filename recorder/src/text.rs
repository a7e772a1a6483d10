//! Building text without `core::fmt`: `format!` and `to_string` link the
//! formatting machinery (several KB of wasm), so the recorder concatenates.

#[allow(unused_imports)]
use crate::prelude::*;

/// Appends the decimal digits of `n`, the highest first: no buffer, and
/// each digit is known to be ASCII where it is pushed (one byte, no UTF-8
/// encoding).
pub fn push_int(out: &mut String, n: u64) {
    let mut p = 1u64;
    while n / p >= 10 {
        p *= 10;
    }
    loop {
        out.push(char::from(b'0' + (n / p % 10) as u8));
        if p == 1 {
            break;
        }
        p /= 10;
    }
}

/// `s` cut to at most `max` characters (as `shared::truncate_chars` cuts
/// it), in place: one shared function instead of a copy into a new
/// allocation at every site.
pub fn cut(mut s: String, max: usize) -> String {
    // The byte where character `max` starts (a byte that is no UTF-8
    // continuation byte starts one), if there is one.
    let mut seen = 0;
    let mut end = s.len();
    for (i, b) in s.bytes().enumerate() {
        if b & 0xC0 != 0x80 {
            if seen == max {
                end = i;
                break;
            }
            seen += 1;
        }
    }
    s.truncate(end);
    s
}

/// `n` in decimal.
pub fn int(n: u64) -> String {
    let mut s = String::new();
    push_int(&mut s, n);
    s
}

/// The concatenation of `parts`.
pub fn concat(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(p);
    }
    s
}

/// Lower-case hex in the 8-4-4-4-12 UUID layout.
pub fn uuid(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        // (`& 0x7f`: the compiler then knows the digits are ASCII, pushed
        // as one byte each without UTF-8 encoding.)
        s.push(char::from(HEX[(x >> 4) as usize] & 0x7f));
        s.push(char::from(HEX[(x & 15) as usize] & 0x7f));
    }
    s
}

/// An id made of what `s` would be as one: every character outside the id
/// alphabet (ASCII letters, digits, `- _ . :`) becomes `_`, cut at the id
/// length limit; `unknown` when nothing is left. For an agent id the page got
/// wrong (`jane.doe@bank.com`): the agent is still credited, under a name a
/// reviewer can recognise.
pub fn id_like(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(shared::limits::MAX_ID_LEN) {
        out.push(
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') {
                c
            } else {
                '_'
            },
        );
    }
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

/// What `IdError`'s `Display` says, without `core::fmt`: the same words,
/// with a bad character escaped as JSON escapes it where `Display` uses
/// Rust's `{:?}`. The two differ for `'`, `"`, `\` and what Rust escapes as
/// non-printing (combining marks, for one).
pub fn id_error(e: &shared::IdError) -> String {
    let mut s = String::new();
    push_id_error(&mut s, e);
    s
}

// The limit as the message writes it (a literal: no digits built at run time
// for a constant).
const _: () = assert!(shared::limits::MAX_ID_LEN == 64);

/// Appends [`id_error`]'s text to `out` (the messages that say it go on
/// after it: no copy of it of its own).
pub fn push_id_error(out: &mut String, e: &shared::IdError) {
    match e {
        shared::IdError::Empty => out.push_str("must not be empty"),
        shared::IdError::TooLong { len } => {
            out.push_str("is ");
            push_int(out, *len as u64);
            out.push_str(" characters long, the limit is 64");
        }
        shared::IdError::BadChar { ch } => {
            out.push_str("contains '");
            crate::json::push_escaped(out, ch.encode_utf8(&mut [0; 4]));
            out.push_str("'; only ASCII letters, digits and - _ . : are allowed");
        }
    }
}

/// `s.trim()` (Unicode whitespace), in one forward pass: `str::trim` links
/// core's generic pattern matcher and a reverse UTF-8 decoder for it. For short
/// values (attributes, names); see [`is_blank`] for texts.
pub fn trim(s: &str) -> &str {
    // Nothing but whitespace leaves `start` past `end`: empty.
    let (mut start, mut end) = (s.len(), 0);
    for (i, c) in s.char_indices() {
        if !c.is_whitespace() {
            start = start.min(i);
            end = i + c.len_utf8();
        }
    }
    s.get(start..end).unwrap_or_default()
}

/// Whether `s` is empty or only whitespace; stops at the first other character
/// (a selection can be megabytes of text).
pub fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// Position of the first `b` in `s`. A byte loop where `str::find(char)` links
/// core's char searcher and its word-at-a-time `memchr` (most of a kilobyte of
/// wasm): the texts searched here are keys, URLs and short values.
pub fn find_byte(s: &str, b: u8) -> Option<usize> {
    for (i, &c) in s.as_bytes().iter().enumerate() {
        if c == b {
            return Some(i);
        }
    }
    None
}

/// `s` cut at its first `b` (ASCII): what is before it, and what is after
/// it if there is one (`str::split_once` without the char searcher, see
/// [`find_byte`]).
pub fn split_once_byte(s: &str, b: u8) -> (&str, Option<&str>) {
    match find_byte(s, b) {
        // An ASCII byte is a char boundary on both sides.
        Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
        None => (s, None),
    }
}

/// `s.split(sep as char)` for an ASCII `sep`, without the char searcher (see
/// [`find_byte`]).
pub fn split_byte(s: &str, sep: u8) -> SplitByte<'_> {
    SplitByte { rest: Some(s), sep }
}

/// The iterator of [`split_byte`].
pub struct SplitByte<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for SplitByte<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (head, tail) = split_once_byte(self.rest?, self.sep);
        self.rest = tail;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_errors_read_like_their_display() {
        for s in ["", "a b", &"x".repeat(65)] {
            let e = shared::SessionId::parse(s).unwrap_err();
            assert_eq!(id_error(&e), e.to_string());
        }
    }

    #[test]
    fn json_quoting_matches_debug_for_plain_text() {
        let mut quoted = String::new();
        crate::json::push_str(&mut quoted, "a \"b\" c");
        assert_eq!(quoted, format!("{:?}", "a \"b\" c"));
    }

    #[test]
    fn integers_print_like_display() {
        for n in [
            0,
            7,
            9,
            10,
            99,
            100,
            1234567890,
            10_000_000_000_000_000_000,
            9_999_999_999_999_999_999,
            u64::MAX,
        ] {
            assert_eq!(int(n), n.to_string());
        }
    }

    #[test]
    fn uuids_have_the_8_4_4_4_12_layout() {
        let b: [u8; 16] = core::array::from_fn(|i| (i * 17) as u8);
        assert_eq!(uuid(&b), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn cutting_keeps_what_truncate_chars_keeps() {
        for s in ["", "abc", "é日本語x", "ab\u{301}c"] {
            for max in 0..6 {
                assert_eq!(
                    cut(s.to_owned(), max),
                    shared::truncate_chars(s, max),
                    "{s:?} {max}"
                );
            }
        }
    }

    #[test]
    fn concat_joins_in_order() {
        assert_eq!(concat(&["a", "", "bc"]), "abc");
    }

    #[test]
    fn byte_splitting_matches_str_split() {
        for s in [
            "",
            "a",
            "|",
            "a|b",
            "|a||b|",
            "é|日本|x",
            "cotrail|e|s|t|7",
            "no separator",
        ] {
            let ours: Vec<&str> = split_byte(s, b'|').collect();
            let std: Vec<&str> = s.split('|').collect();
            assert_eq!(ours, std, "{s:?}");
            assert_eq!(find_byte(s, b'|'), s.find('|'), "{s:?}");
        }
    }

    #[test]
    fn trimming_matches_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a ",
            "\u{a0}é x\u{3000}",
            "\t\n",
            "日本 ",
            "  two  words\r\n",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
            assert_eq!(is_blank(s), s.trim().is_empty(), "{s:?}");
        }
    }

    #[test]
    fn anything_becomes_an_id_like_it() {
        assert_eq!(id_like("jane.doe@bank.com"), "jane.doe_bank.com");
        assert_eq!(id_like(""), "unknown");
        assert_eq!(id_like("é 7"), "__7");
        let long = "a".repeat(shared::limits::MAX_ID_LEN + 5);
        assert_eq!(id_like(&long).len(), shared::limits::MAX_ID_LEN);
        for s in ["jane.doe@bank.com", "", "é 7", long.as_str()] {
            assert!(shared::AgentId::parse(id_like(s)).is_ok(), "{s}");
        }
    }
}
