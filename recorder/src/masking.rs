//! Masking decisions: which captured values and texts must not leave the page.
//!
//! Pure functions over facts the DOM layer (`element`) gathers, so the privacy
//! rules are tested natively and read in one place. Masking happens before an
//! event reaches the buffer: a masked value is never held in memory for sending.

#[allow(unused_imports)]
use crate::prelude::*;
use shared::MaskReason;

/// The `data-mask` level of the script tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaskLevel {
    /// Passwords, payment cards, hidden inputs and marked elements are masked.
    #[default]
    Default,
    /// Every input value and every captured text (labels, selected text, page
    /// titles) is masked as well.
    Strict,
}

impl MaskLevel {
    /// Parses `default` / `strict`; anything else is `None` (the caller warns).
    pub fn parse(s: &str) -> Option<MaskLevel> {
        let s = crate::text::trim(s);
        if s.is_empty() || s.eq_ignore_ascii_case("default") {
            Some(MaskLevel::Default)
        } else if s.eq_ignore_ascii_case("strict") {
            Some(MaskLevel::Strict)
        } else {
            None
        }
    }
}

/// What the DOM says about an element, as far as masking cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldFacts {
    /// Lower-case tag name.
    pub tag: String,
    /// Lower-case `type` attribute of an `<input>` (empty otherwise).
    pub input_type: String,
    /// Lower-case `autocomplete` attribute.
    pub autocomplete: String,
    /// The element or an ancestor carries `data-cotrail-mask`.
    pub marked: bool,
}

impl FieldFacts {
    /// A form control whose value the recorder may capture.
    pub fn is_field(&self) -> bool {
        one_of(&self.tag, "input,textarea,select")
    }
}

/// Whether `s` is one of the comma-separated words of `list`: one loop over
/// a text, where a `match` on strings compares each word in code.
#[inline(never)]
pub fn one_of(s: &str, list: &str) -> bool {
    crate::text::split_byte(list, b',').any(|w| w == s)
}

/// Why the value of this element must be withheld, if it must.
///
/// The order matters only for the reason reported: a password inside a marked
/// block is reported as `password`, the most specific reason.
pub fn value_mask(f: &FieldFacts, level: MaskLevel) -> Option<MaskReason> {
    // A field the site declares a password is one even while a "show password"
    // button makes it `type="text"`.
    let mut password = f.tag == "input" && f.input_type == "password";
    let mut card = false;
    // `autocomplete` may hold several tokens ("shipping cc-number"), read in
    // one pass.
    for t in f.autocomplete.split_ascii_whitespace() {
        password |= one_of(t, "current-password,new-password");
        card |= t.starts_with("cc-");
    }
    if password {
        return Some(MaskReason::Password);
    }
    if card {
        return Some(MaskReason::CreditCard);
    }
    if f.tag == "input" && f.input_type == "hidden" {
        return Some(MaskReason::Hidden);
    }
    if f.marked {
        return Some(MaskReason::Marked);
    }
    if level == MaskLevel::Strict {
        return Some(MaskReason::Strict);
    }
    None
}

/// Whether an element's label may be captured. A label of a masked element can
/// carry the very data the mask protects (a marked `<td>` holding an account
/// number, a strict-level field pre-filled with a name), so it goes with the
/// value. The strict level captures no text at all.
pub fn label_allowed(f: &FieldFacts, level: MaskLevel) -> bool {
    if level == MaskLevel::Strict {
        false
    } else if f.is_field() {
        value_mask(f, level).is_none()
    } else {
        !f.marked
    }
}

/// Why selected text must be withheld, if it must.
///
/// `touches_masked` is true when the selection starts, ends or passes through a
/// marked element or a password field.
pub fn selection_mask(touches_masked: bool, level: MaskLevel) -> Option<MaskReason> {
    if touches_masked {
        Some(MaskReason::Marked)
    } else if level == MaskLevel::Strict {
        Some(MaskReason::Strict)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(ty: &str) -> FieldFacts {
        FieldFacts {
            tag: "input".into(),
            input_type: ty.into(),
            ..FieldFacts::default()
        }
    }

    #[test]
    fn password_values_are_masked_even_inside_marked_blocks() {
        let mut f = input("password");
        assert_eq!(
            value_mask(&f, MaskLevel::Default),
            Some(MaskReason::Password)
        );
        f.marked = true;
        assert_eq!(
            value_mask(&f, MaskLevel::Strict),
            Some(MaskReason::Password)
        );
    }

    #[test]
    fn fields_declared_passwords_stay_passwords_whatever_their_type() {
        for ac in [
            "current-password",
            "section-login new-password",
            "CURRENT-PASSWORD",
        ] {
            let f = FieldFacts {
                autocomplete: ac.to_ascii_lowercase(),
                ..input("text")
            };
            assert_eq!(
                value_mask(&f, MaskLevel::Default),
                Some(MaskReason::Password),
                "{ac}"
            );
            assert!(!label_allowed(&f, MaskLevel::Default), "{ac}");
        }
        let f = FieldFacts {
            autocomplete: "username".into(),
            ..input("text")
        };
        assert_eq!(value_mask(&f, MaskLevel::Default), None);
    }

    #[test]
    fn any_cc_autocomplete_token_masks_as_credit_card() {
        let mut f = input("text");
        f.autocomplete = "shipping cc-number".into();
        assert_eq!(
            value_mask(&f, MaskLevel::Default),
            Some(MaskReason::CreditCard)
        );
        f.autocomplete = "email".into();
        assert_eq!(value_mask(&f, MaskLevel::Default), None);
    }

    #[test]
    fn hidden_marked_and_strict_have_their_own_reasons() {
        assert_eq!(
            value_mask(&input("hidden"), MaskLevel::Default),
            Some(MaskReason::Hidden)
        );
        let mut f = input("text");
        assert_eq!(value_mask(&f, MaskLevel::Strict), Some(MaskReason::Strict));
        f.marked = true;
        assert_eq!(value_mask(&f, MaskLevel::Default), Some(MaskReason::Marked));
    }

    #[test]
    fn labels_of_masked_things_are_withheld() {
        let button = FieldFacts {
            tag: "button".into(),
            ..FieldFacts::default()
        };
        assert!(label_allowed(&button, MaskLevel::Default));
        assert!(!label_allowed(&button, MaskLevel::Strict));
        assert!(!label_allowed(
            &FieldFacts {
                marked: true,
                ..button
            },
            MaskLevel::Default
        ));
        assert!(!label_allowed(&input("password"), MaskLevel::Default));
        assert!(label_allowed(&input("email"), MaskLevel::Default));
    }

    #[test]
    fn selections_are_masked_when_they_touch_masked_content_or_strict() {
        assert_eq!(
            selection_mask(true, MaskLevel::Default),
            Some(MaskReason::Marked)
        );
        assert_eq!(
            selection_mask(false, MaskLevel::Strict),
            Some(MaskReason::Strict)
        );
        assert_eq!(selection_mask(false, MaskLevel::Default), None);
    }

    #[test]
    fn words_are_looked_up_whole() {
        assert!(one_of("a", "button,a,summary"));
        assert!(one_of("summary", "button,a,summary"));
        assert!(!one_of("butt", "button,a"));
        assert!(!one_of("", "button,a"));
    }

    #[test]
    fn mask_levels_parse_leniently() {
        assert_eq!(MaskLevel::parse(" Strict "), Some(MaskLevel::Strict));
        assert_eq!(MaskLevel::parse(""), Some(MaskLevel::Default));
        assert_eq!(MaskLevel::parse("loose"), None);
    }
}
