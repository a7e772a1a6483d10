//! `PAGE-CHANGE`: the initial page, `history.pushState` / `replaceState`
//! (patched while recording, restored on stop), back/forward and hash changes.
//!
//! URLs are recorded without their query string, which is where tokens, emails
//! and search terms live; path and fragment stay, they are what a reviewer needs.
//! A site may keep named parameters it knows are harmless (`data-allow-params`).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;
use core::cell::RefCell;

use crate::patch::Patch;
use shared::limits::{MAX_TEXT_CHARS, MAX_URL_CHARS};
use shared::{Actor, EventData, Navigation, PageChangeData};
use wasm_bindgen::JsValue;
use web_sys::Window;

use super::{Capture, Entry};
use crate::masking::MaskLevel;
use crate::recorder::Core;
use crate::text::{find_byte, split_byte, split_once_byte};

/// Appends the `name=value` pairs of `params` whose name is allowed, the first
/// after `sep` (if any), the others after `&`.
fn push_allowed(out: &mut String, params: &str, allowed: &[String], sep: Option<char>) {
    let mut sep = sep;
    for pair in split_byte(params, b'&') {
        let name = split_once_byte(pair, b'=').0;
        if !name.is_empty() && allowed.iter().any(|a| a == name) {
            out.extend(sep);
            out.push_str(pair);
            sep = Some('&');
        }
    }
}

/// Appends `path?query` with only the allowed parameters of the query.
fn push_filtered(out: &mut String, part: &str, allowed: &[String]) {
    let (path, query) = split_once_byte(part, b'?');
    out.push_str(path);
    if let Some(query) = query {
        push_allowed(out, query, allowed, Some('?'));
    }
}

/// Drops the query string of a URL, keeping the path and only the parameters
/// named in `allowed` (in their original order). The fragment is kept, filtered
/// the same way where it carries parameters: a hash router's query
/// (`#/accounts?iban=…`) and a sign-in flow's parameter list
/// (`#access_token=…&state=…`, dropped whole unless a name is allowed).
pub fn strip_query(url: &str, allowed: &[String]) -> String {
    let (before, fragment) = split_once_byte(url, b'#');
    let mut out = String::new();
    push_filtered(&mut out, before, allowed);
    if let Some(fragment) = fragment {
        if find_byte(fragment, b'?').is_none() && find_byte(fragment, b'=').is_some() {
            push_allowed(&mut out, fragment, allowed, Some('#'));
        } else {
            out.push('#');
            push_filtered(&mut out, fragment, allowed);
        }
    }
    out
}

/// The URL without its fragment.
fn before_fragment(url: &str) -> &str {
    split_once_byte(url, b'#').0
}

/// Whether a page change is worth a new event: back/forward, hash changes and
/// `replaceState` that keep the URL are noise (routers call `replaceState` to
/// stash scroll positions; a fragment click fires both `popstate` and `hashchange`).
pub fn is_new_page(last_url: &str, url: &str, nav: Navigation) -> bool {
    match nav {
        Navigation::Load | Navigation::Push => true,
        Navigation::Replace | Navigation::Pop | Navigation::Hash => last_url != url,
    }
}

#[derive(Default)]
pub(super) struct State {
    /// Empty before the first and after a return from the back/forward
    /// cache: no URL the page can be at (`location.href` is never empty).
    last_url: String,
    /// The history entry (Navigation API) of the last page change recorded.
    last_entry: Option<String>,
    /// `history.length` when the last page change was recorded.
    last_len: f64,
    /// Ids of the history entries this page has been on, made or found at
    /// start (Navigation API, where the browser has it), the oldest dropped past
    /// [`MAX_SEEN_ENTRIES`].
    seen: Vec<String>,
    /// Navigations waiting for the page to set its new title (a single-page
    /// app sets it after its history call, or in its own `popstate`
    /// handler, which runs after the recorder's).
    pending: Vec<Entry>,
}

fn current_url(core: &Core) -> String {
    let location = crate::element::window_get(&crate::global::js_str!("location"));
    let href = crate::element::prop(&location, &crate::global::js_str!("href")).unwrap_or_default();
    recorded_url(core, &href)
}

/// A URL as the trail holds it: without the parameters the site does not
/// allow ([`strip_query`]), cut to the URL limit (the page's, a form's
/// `action`).
pub fn recorded_url(core: &Core, url: &str) -> String {
    crate::text::cut(strip_query(url, &core.allow_params), MAX_URL_CHARS)
}

/// The document title; empty at the strict level, which captures no text (a
/// title can name the customer: "Welcome, Jane Doe"), and when the `<title>`
/// is masked or blocked (`<title data-cotrail-mask>`, or a mask on `<html>`).
fn title(core: &Core) -> String {
    if core.mask == MaskLevel::Strict {
        return String::new();
    }
    let Some(document) = crate::global::document() else {
        return String::new();
    };
    // The `<title>` selector and the document's property: one string.
    let title = &crate::global::js_str!("title");
    let hidden =
        crate::element::call_element(&document, &crate::global::js_str!("querySelector"), title)
            .is_some_and(|el| !crate::element::readable(&el));
    if hidden {
        return String::new();
    }
    let t = crate::element::prop(&document, title).unwrap_or_default();
    crate::text::cut(t, MAX_TEXT_CHARS)
}

/// Entry ids remembered at most (Chromium keeps 50 entries).
const MAX_SEEN_ENTRIES: usize = 256;

/// `window.navigation`, where the browser has the Navigation API.
fn navigation() -> JsValue {
    crate::element::window_get(&crate::global::js_str!("navigation"))
}

fn id_of(entry: &JsValue) -> Option<String> {
    crate::element::prop(entry, &crate::global::js_str!("id"))
}

/// `navigation.currentEntry.id`: new for every entry a navigation makes (a
/// replacement too), the same when back or forward returns to it.
fn entry_id() -> Option<String> {
    id_of(&crate::global::get(
        &navigation(),
        &crate::global::js_str!("currentEntry"),
    ))
}

fn remember_entry(state: &RefCell<State>, id: String) {
    let mut s = state.borrow_mut();
    if !s.seen.contains(&id) {
        if s.seen.len() == MAX_SEEN_ENTRIES {
            s.seen.remove(0);
        }
        s.seen.push(id);
    }
}

/// Remembers the current history entry as one this page has seen.
fn see_entry(state: &RefCell<State>) {
    if let Some(id) = entry_id() {
        remember_entry(state, id);
    }
}

/// Remembers the entries the page starts with (those of this document before
/// a reload, which back and forward may return to).
fn see_entries(state: &RefCell<State>) {
    let u = JsValue::UNDEFINED;
    // Through `global::call`: a `Function.call` of no arguments would be an
    // import and glue of its own. (Not a function, or no Navigation API: it
    // throws, and no entry is seen.)
    if let Ok(list) = crate::global::call(&navigation(), &crate::global::js_str!("entries"), &u, &u)
    {
        // An array already (no `Array.from` import for a copy), read by
        // index (`Array::iter` reads through an import of its own).
        for i in 0..crate::element::length(&list) {
            if let Some(id) = id_of(&crate::element::item(&list, i)) {
                remember_entry(state, id);
            }
        }
    }
}

/// `history.length`: grows with a new entry, not with back and forward.
fn history_len() -> f64 {
    // (An `unsigned long`: read as a list's length is.)
    let history = crate::element::window_get(&crate::global::js_str!("history"));
    f64::from(crate::element::length(&history))
}

/// (The URL taken out of `p`: recorded once, it is not needed again.)
fn record(cap: &Rc<Capture>, p: &mut Entry) {
    let (core, state) = (&cap.core, &cap.page);
    let url = core::mem::take(&mut p.url);
    let (mut nav, len, entry) = (p.nav, p.last_emit, p.entry.clone());
    {
        let mut s = state.borrow_mut();
        // Back or forward to another entry with the same URL (a modal or a
        // wizard step pushed without changing it) is a page change too, where
        // the browser tells entries apart.
        let other_entry = nav == Navigation::Pop && entry.is_some() && entry != s.last_entry;
        if !other_entry && !is_new_page(&s.last_url, &url, nav) {
            s.last_entry = entry;
            return;
        }
        // A fragment link fires `popstate` before `hashchange`, and the repeat
        // is dropped: a fragment-only change to a new history entry is a hash
        // change, not back or forward. New: an entry id never seen (Navigation
        // API), else a longer history (which misses a fragment link after going
        // back, a `location.replace` and the 50-entry cap).
        let new_entry = match &entry {
            Some(id) if nav == Navigation::Pop => !s.seen.contains(id),
            _ => len > s.last_len,
        };
        if nav == Navigation::Pop
            && new_entry
            && before_fragment(&s.last_url) == before_fragment(&url)
        {
            nav = Navigation::Hash;
        }
        s.last_url = url.clone();
        s.last_entry = entry;
        s.last_len = len;
    }
    let title = title(core);
    core.record_at(
        p.actor.clone(),
        EventData::PageChange(PageChangeData { url, title, nav }),
        Some(p.last),
    );
}

/// Records the navigations waiting for their title, in the order they
/// happened; each one's history entry is seen from then on.
pub(super) fn record_pending(cap: &Rc<Capture>) {
    // The timer is dropped once the state is free again: its
    // `clearTimeout` is the page's, which may call back into the recorder
    // (see `timer`).
    let timer = super::take_timer(cap, super::TITLE);
    let mut pending = core::mem::take(&mut cap.page.borrow_mut().pending);
    drop(timer);
    // By reference: a by-value loop instantiates `vec::IntoIter` of its own.
    for p in &mut pending {
        record(cap, p);
        if let Some(id) = &p.entry {
            remember_entry(&cap.page, id.clone());
        }
    }
}

/// A navigation as it is now: URL, kind, who, `history.length` and the
/// history entry (Navigation API); only the title is read later.
fn now(core: &Core, nav: Navigation, actor: Actor) -> Entry {
    Entry {
        url: current_url(core),
        nav,
        last_emit: history_len(),
        entry: entry_id(),
        ..Entry::new(None, actor, core.now())
    }
}

/// A navigation now: the URL, kind, actor and history entry are read now,
/// the title a moment later, once a single-page app has had the chance to
/// set it (after its history call, or in its own `popstate` handler).
fn navigated(cap: &Rc<Capture>, nav: Navigation, actor: Actor) {
    let p = now(&cap.core, nav, actor);
    cap.page.borrow_mut().pending.push(p);
    if !super::armed(cap, super::TITLE) {
        // Armed with the state free (the page's `setTimeout` may call back).
        super::arm(cap, super::TITLE, 0, record_pending);
    }
}

/// The page came back from the back/forward cache (back or forward to a
/// document left earlier): recorded as back/forward, even at the URL this
/// page last recorded, since the person saw other pages in between.
pub(super) fn returned(cap: &Rc<Capture>, actor: Actor) {
    record_pending(cap);
    cap.page.borrow_mut().last_url.clear();
    // The document is back as it was left: its title is already its own.
    record(cap, &mut now(&cap.core, Navigation::Pop, actor));
}

/// The page as the recorder starts: its load, and the history entries it
/// starts with.
pub(super) fn start(cap: &Rc<Capture>) {
    let core = &cap.core;
    record(cap, &mut now(core, Navigation::Load, core.current_actor()));
    see_entries(&cap.page);
}

// After the history calls made before them (the trail's order and the
// duplicate filter's last URL follow the navigations').

pub(super) fn on_pop_state(cap: &Rc<Capture>, event: &web_sys::Event) {
    navigated(cap, Navigation::Pop, cap.core.actor_after(event));
}

pub(super) fn on_hash_change(cap: &Rc<Capture>, event: &web_sys::Event) {
    navigated(cap, Navigation::Hash, cap.core.actor_after(event));
}

/// `pushState` and `replaceState` patched ([`crate::patch`]); a page that
/// froze or replaced `history` keeps every other observer, only its
/// single-page navigations go unrecorded.
pub(super) fn patch_history(cap: &Rc<Capture>, window: &Window) -> [Option<Patch>; 2] {
    let history = crate::global::get(window, &crate::global::js_str!("history"));
    let patch = |name| {
        let patch = Patch::new(&history, name, cap, pushed);
        if patch.is_none() {
            crate::console::warn(&crate::text::concat(&[
                "cotrail: history.",
                name,
                " cannot be observed; its navigations are not recorded",
            ]));
        }
        patch
    };
    [patch("pushState"), patch("replaceState")]
}

/// After the page's `history.pushState` or `replaceState` returned.
fn pushed(cap: &Rc<Capture>, _: &JsValue, name: &'static str) {
    let nav = if name == "pushState" {
        Navigation::Push
    } else {
        Navigation::Replace
    };
    see_entry(&cap.page);
    navigated(cap, nav, cap.core.current_actor());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_dropped_and_fragments_kept() {
        let none: &[String] = &[];
        assert_eq!(
            strip_query("https://a/b?token=x#sec", none),
            "https://a/b#sec"
        );
        assert_eq!(strip_query("https://a/b?token=x", none), "https://a/b");
        assert_eq!(strip_query("https://a/b#sec-2", none), "https://a/b#sec-2");
        assert_eq!(strip_query("https://a/b#", none), "https://a/b#");
    }

    #[test]
    fn parameters_in_fragments_are_filtered_like_queries() {
        let none: &[String] = &[];
        let allowed = ["view".to_owned()];
        // A hash router's query.
        assert_eq!(
            strip_query("https://a/b#/accounts?iban=DE89&view=list", none),
            "https://a/b#/accounts"
        );
        assert_eq!(
            strip_query("https://a/b?t=1#/accounts?iban=DE89&view=list", &allowed),
            "https://a/b#/accounts?view=list"
        );
        // A sign-in flow's parameter list: dropped whole, or down to what is allowed.
        assert_eq!(
            strip_query("https://a/cb#access_token=eyJ&state=x", none),
            "https://a/cb"
        );
        assert_eq!(
            strip_query("https://a/cb#access_token=eyJ&view=2", &allowed),
            "https://a/cb#view=2"
        );
    }

    #[test]
    fn allowed_parameters_are_kept_and_the_rest_dropped() {
        let allowed = ["view".to_owned(), "page".to_owned()];
        assert_eq!(
            strip_query(
                "https://a/?token=x&view=cart&email=a%40b&page=2#top",
                &allowed
            ),
            "https://a/?view=cart&page=2#top"
        );
        assert_eq!(strip_query("https://a/?token=x", &allowed), "https://a/");
        assert_eq!(strip_query("https://a/?viewer=1", &allowed), "https://a/");
    }

    #[test]
    fn repeated_urls_are_noise_except_for_loads_and_pushes() {
        let u = "https://a/b";
        assert!(!is_new_page(u, "https://a/b", Navigation::Replace));
        assert!(!is_new_page(u, "https://a/b", Navigation::Hash));
        assert!(is_new_page(u, "https://a/b", Navigation::Push));
        assert!(is_new_page(u, "https://a/c", Navigation::Pop));
        assert!(is_new_page("", "https://a/b", Navigation::Replace));
    }
}
