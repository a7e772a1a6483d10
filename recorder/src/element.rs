//! Element descriptors: what the trail says about a DOM element (`ElementRef`:
//! id, name, tag, short CSS path, label) and the DOM facts masking needs.
//!
//! Path building and text clean-up are pure and tested natively; the functions
//! taking DOM types only read the DOM.

#[allow(unused_imports)]
use crate::prelude::*;
use shared::limits::{MAX_ID_LEN, MAX_PATH_CHARS, MAX_TEXT_CHARS};
use shared::ElementRef;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use crate::global::{get, js_str};
use crate::masking::{self, one_of, FieldFacts, MaskLevel};
use crate::text::push_int;

/// Ancestors a path climbs above the element: enough to tell siblings apart on a
/// real page, short enough to read in a table cell.
pub const MAX_ANCESTORS: usize = 4;

/// Longest label, in characters: a label names a control, it is not content.
pub const MAX_LABEL_CHARS: usize = 80;

/// Attribute that masks an element's values and texts (and those of descendants).
pub const MASK_ATTR: &str = "data-cotrail-mask";
/// Attribute that makes an element and its descendants invisible to the recorder.
pub const BLOCK_ATTR: &str = "data-cotrail-block";
/// What a selection or a label text must not reveal: masked or blocked subtrees,
/// passwords and payment card fields (any `cc-*` autocomplete token). The
/// selectors below are parts of it: one text in the module for all of them.
pub const PRIVATE_SELECTOR: &str =
    "[data-cotrail-mask],[data-cotrail-block],input[type=password],[autocomplete*=cc-]";
/// Selectors for [`MASK_ATTR`] and [`BLOCK_ATTR`] (a test keeps them in step).
const MASK_SELECTOR: &str = part(0, 19);
const BLOCK_SELECTOR: &str = part(20, 40);
/// Either: an element under one gives no label to another element.
const HIDDEN_SELECTOR: &str = part(0, 40);
/// Password inputs.
const PASSWORD_SELECTOR: &str = part(41, 61);

/// `PRIVATE_SELECTOR[start..end]`, at compile time.
const fn part(start: usize, end: usize) -> &'static str {
    let (head, _) = PRIVATE_SELECTOR.as_bytes().split_at(end);
    match core::str::from_utf8(head.split_at(start).1) {
        Ok(s) => s,
        Err(_) => panic!(),
    }
}

/// `"value"`, read at several sites: one [`js_str!`] (a static and a JS
/// string each).
pub fn value_key() -> &'static JsValue {
    &js_str!("value")
}

/// `obj[method](arg)` through [`crate::global::call`] (the DOM methods the
/// recorder calls with one argument: no import and glue adapter each),
/// `undefined` when it throws.
#[inline(never)]
pub fn call1(obj: &JsValue, method: &JsValue, arg: &JsValue) -> JsValue {
    crate::global::call(obj, method, arg, &JsValue::UNDEFINED).unwrap_or(JsValue::UNDEFINED)
}

/// [`call1`] for a method answering an element or `null` (`closest`,
/// `querySelector`, `getElementById`): `None` for `null` and when it throws.
#[inline(never)]
pub fn call_element(obj: &JsValue, method: &JsValue, arg: &JsValue) -> Option<Element> {
    let v = call1(obj, method, arg);
    v.is_object().then(|| v.unchecked_into())
}

/// `node.getRootNode()`: the document or shadow root it is in, or the
/// topmost node above it when it is in neither.
pub fn root_node(node: &JsValue) -> JsValue {
    call1(node, &js_str!("getRootNode"), &JsValue::UNDEFINED)
}

/// `root.querySelectorAll(selectors)` (`None` when it throws), read as an
/// array (`length` and `[i]`, which a `NodeList` has): the `Array` imports
/// serve it, no `NodeList` ones of its own.
pub fn select_all(root: &JsValue, selectors: &JsValue) -> Option<js_sys::Array> {
    call_element(root, &js_str!("querySelectorAll"), selectors).map(JsCast::unchecked_into)
}

/// `window[key]`, through [`get`] (`undefined` without a window, as
/// reading a property of `undefined` is).
pub fn window_get(key: &JsValue) -> JsValue {
    crate::global::window().map_or(JsValue::UNDEFINED, |w| get(&w, key))
}

/// `list.length` of an array or a `NodeList`, through [`get`]: 0 for what
/// has none (a page's `navigation.entries()` that answers `null` is not an
/// exception out of `start()`).
pub fn length(list: &JsValue) -> u32 {
    get(list, &js_str!("length"))
        .as_f64()
        .map_or(0, |n| n as u32)
}

/// `list[i]`, through [`get`]: no `Array` import of its own.
pub fn item(list: &JsValue, i: u32) -> JsValue {
    get(list, &JsValue::from(i))
}

/// `el.closest(selectors)`, `None` also when it throws.
fn closest(el: &Element, selectors: &JsValue) -> Option<Element> {
    let v = CLOSEST
        // `call2`, which `global::call` imports anyway: a `Function.call`
        // of one argument is an import and glue of its own.
        .with(|f| f.call2(el, selectors, &JsValue::UNDEFINED))
        .unwrap_or(JsValue::UNDEFINED);
    v.is_object().then(|| v.unchecked_into())
}

crate::global::page_global! {
    /// `Element.prototype.closest`, called on an element rather than read
    /// from it: a form's control named `closest` shadows the method on the
    /// form (a form's named properties), and the block or mask around that
    /// form would go unseen.
    static CLOSEST: js_sys::Function = {
        let proto = get(&window_get(&js_str!("Element")), &js_str!("prototype"));
        get(&proto, &js_str!("closest")).unchecked_into()
    };
}

/// Whether `el.querySelector(selectors)` finds something.
pub fn has_match(el: &JsValue, selectors: &JsValue) -> bool {
    call_element(el, &js_str!("querySelector"), selectors).is_some()
}

/// `closest` along what the page shows around an element (the flat tree), not
/// only its own tree: a `data-cotrail-mask` or `data-cotrail-block` around a
/// web component covers what is inside its shadow root, and one inside a
/// component's shadow root around a `<slot>` covers the page content shown in
/// that slot.
fn closest_composed(el: &Element, selectors: &JsValue) -> Option<Element> {
    let mut el = el.clone();
    loop {
        if let Some(found) = closest(&el, selectors) {
            return Some(found);
        }
        // The tree goes on at the slot the element (or an ancestor) is shown
        // in, else at the shadow root's host; a document has neither.
        el = match slot_above(&el) {
            Some(slot) => slot,
            None => crate::global::get_object(&root_node(&el), &js_str!("host"))?,
        };
    }
}

/// The slot that `el` or its nearest slotted ancestor in its own tree is
/// assigned to.
fn slot_above(el: &Element) -> Option<Element> {
    let mut current = Some(el.clone());
    while let Some(e) = current {
        if let Some(slot) = crate::global::get_object(&e, &js_str!("assignedSlot")) {
            return Some(slot);
        }
        current = e.parent_element();
    }
    None
}

/// The element has a descendant whose text must not be read with its own
/// (a masked `<span>` inside a button, a card field inside a label).
pub fn has_private(el: &Element) -> bool {
    has_match(el, &js_str!(PRIVATE_SELECTOR))
}

/// Inputs seen as `type="password"` once, or switched away from it (a "show
/// password" button): their values stay masked whatever their type now says
/// (made when the first one is remembered); and the ids and names (`#id`,
/// `@name`) of those inputs: a "show password" button that replaces the
/// input by a new `type="text"` one keeps them.
type Passwords = (Option<js_sys::WeakMap>, Vec<String>);

crate::global::page_const! {
    /// The remembered password fields (see [`Passwords`]).
    static PASSWORDS: core::cell::RefCell<Passwords> = core::cell::RefCell::new((None, Vec::new()));
}

/// Adds `key` to a `WeakMap` used as a set (mapped to `true`): the
/// `WeakMap` imports the path cache needs serve the sets too, no `WeakSet`
/// ones of their own.
fn weak_add(set: &js_sys::WeakMap, key: &JsValue) {
    set.set(key.unchecked_ref(), &JsValue::TRUE);
}

/// Whether [`weak_add`] added `key` to `set`.
fn weak_has(set: &js_sys::WeakMap, key: &JsValue) -> bool {
    !set.get(key.unchecked_ref()).is_undefined()
}

/// Remembered ids and names at most (a page has a handful of password fields).
const MAX_PASSWORD_KEYS: usize = 64;

/// `#id` and `@name` of an input.
fn password_keys(el: &Element) -> [Option<String>; 2] {
    // Built by the one `concat` (an `insert(0, ..)` each moved the text).
    let key = |prefix: &str, name| attr(el, name).map(|v| crate::text::concat(&[prefix, &v]));
    [key("#", "id"), key("@", "name")]
}

/// Remembers an input that is, or was, a password field.
pub fn remember_password(el: &Element) {
    // No borrow held while the page's `WeakMap` is called.
    let set = PASSWORDS.with(|p| {
        p.borrow_mut()
            .0
            .get_or_insert_with(js_sys::WeakMap::new)
            .clone()
    });
    weak_add(&set, el);
    // Read before the borrow: `getAttribute` may be the page's.
    let found = password_keys(el);
    PASSWORDS.with(|p| {
        let keys = &mut p.borrow_mut().1;
        // By reference: an owning `flatten` links drop glue of its own.
        for key in found.iter().flatten() {
            if keys.len() < MAX_PASSWORD_KEYS && !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    });
}

/// Whether this very element was remembered as a password field.
pub fn is_remembered(el: &Element) -> bool {
    let set = PASSWORDS.with(|p| p.borrow().0.clone());
    set.is_some_and(|set| weak_has(&set, el))
}

/// An `<input type="password">`.
pub fn is_password_input(el: &Element) -> bool {
    is_tag(el, "input") && is_type(el, "password")
}

/// Whether the element's `type` attribute is `ty`, ignoring ASCII case.
pub fn is_type(el: &Element, ty: &str) -> bool {
    attr(el, "type").is_some_and(|t| t.eq_ignore_ascii_case(ty))
}

/// Whether an input is, or stands in for, a remembered password field.
fn was_password(el: &Element) -> bool {
    if is_remembered(el) {
        return true;
    }
    if PASSWORDS.with(|p| p.borrow().1.is_empty()) {
        return false;
    }
    // Read with no borrow held: `getAttribute` may be the page's.
    let found = password_keys(el);
    PASSWORDS.with(|p| {
        let keys = &p.borrow().1;
        found.iter().flatten().any(|k| keys.contains(k))
    })
}

/// Remembers every password input of `root` (the document, a shadow root).
pub fn remember_passwords_in(root: &JsValue) {
    if let Some(list) = select_all(root, &js_str!(PASSWORD_SELECTOR)) {
        for i in 0..length(&list) {
            remember_password(item(&list, i).unchecked_ref());
        }
    }
}

/// Points the `type` observer at `root` (the document or a shadow root):
/// `observer.observe(root, options)` through [`crate::global::call`].
pub fn observe_types(observer: &JsValue, root: &JsValue) -> Result<JsValue, JsValue> {
    let options = crate::listener::flags(&["subtree", "childList", "attributeOldValue"]);
    let _ = js_sys::Reflect::set(
        &options,
        &"attributeFilter".into(),
        &js_sys::Array::of1(&"type".into()),
    );
    crate::global::call(observer, &js_str!("observe"), root, &options)
}

/// What the running recorder keeps about shadow roots.
struct Shadow {
    /// The observer of `type` attributes (see `observers::input`) while the
    /// recorder runs: [`watch_root`] points it at shadow roots too.
    type_watch: Option<web_sys::MutationObserver>,
    /// The shadow roots hooked (`None` for none yet).
    watched: Option<js_sys::WeakMap>,
    /// While the recorder runs, what every shadow root listens with.
    hooks: Option<RootHooks>,
}

/// The listeners of events that do not leave a shadow root
/// ([`crate::observers::ROOT_HANDLERS`]: `scroll`, `submit`, not composed,
/// so the document's listeners never hear them): one closure per handler for
/// every root, and the controller whose `abort()` removes them from every
/// root at once. The recorder holds no root: a component the page drops goes
/// with its listeners.
struct RootHooks {
    callbacks: [Closure<crate::listener::JsFn>; 2],
    abort: JsValue,
}

crate::global::page_const! {
    /// See [`Shadow`].
    static SHADOW: core::cell::RefCell<Shadow> = core::cell::RefCell::new(Shadow {
        type_watch: None,
        watched: None,
        hooks: None,
    });
}

/// Listens with [`crate::observers::ROOT_HANDLERS`] in every shadow root
/// [`watch_root`] hooks from now on.
pub fn hook_roots(cap: &alloc::rc::Rc<crate::observers::Capture>) {
    let Ok(abort) = web_sys::AbortController::new() else {
        return;
    };
    let [(_, submit), (_, scroll)] = crate::observers::ROOT_HANDLERS;
    let hooks = RootHooks {
        callbacks: [
            crate::listener::callback(cap, submit),
            crate::listener::callback(cap, scroll),
        ],
        abort: abort.into(),
    };
    SHADOW.with(|h| h.borrow_mut().hooks = Some(hooks));
}

/// On stop: every root's listeners removed, no root hooked any more.
pub fn unhook_roots() {
    // Dropped after the borrow: aborting talks to the page.
    let hooks = SHADOW.with(|h| {
        let mut h = h.borrow_mut();
        h.watched = None;
        h.hooks.take()
    });
    if let Some(hooks) = hooks {
        let u = JsValue::UNDEFINED;
        let _ = crate::global::call(&hooks.abort, &js_str!("abort"), &u, &u);
    }
}

/// Whether an event a shadow root's listener hears comes from the root's
/// own nodes: its target's root is the root listening.
pub fn in_own_root(e: &web_sys::Event) -> bool {
    let t = target(e);
    t.is_instance_of::<web_sys::Node>() && root_node(&t) == get(e, &js_str!("currentTarget"))
}

/// `event.target` (`null` for none) through [`get`], no getter import; also
/// a `MutationRecord`'s `target`.
pub fn target(event: &JsValue) -> JsValue {
    get(event, &js_str!("target"))
}

/// Sets (or clears, on stop) the observer [`watch_root`] extends.
pub fn set_type_watch(observer: Option<web_sys::MutationObserver>) {
    SHADOW.with(|w| w.borrow_mut().type_watch = observer);
}

/// Hooks an open shadow root once, while the recorder runs: its password
/// inputs are remembered, its `type` changes and added fields watched (the
/// document's observer does not see into shadow roots), its scrolls and
/// submits heard; then the roots nested in it. Called for every root there
/// at start ([`watch_tree`]), for every root `attachShadow` makes after
/// ([`attached`]), for one the type observer sees added, and, for a root made
/// some other way, from its first event (before the page's own handlers: the
/// recorder listens in the capture phase).
pub fn watch_root(root: &JsValue) {
    let hooks = SHADOW.with(|w| {
        let mut w = w.borrow_mut();
        let w = &mut *w;
        let hooks = w.hooks.as_ref()?;
        // Copied out: what follows talks to the page (the `WeakMap`'s
        // methods are the page's too).
        Some((
            w.watched.get_or_insert_with(js_sys::WeakMap::new).clone(),
            w.type_watch.clone(),
            hooks.abort.clone(),
            hooks.callbacks[0].as_ref().clone(),
            hooks.callbacks[1].as_ref().clone(),
        ))
    });
    let Some((set, observer, abort, submit, scroll)) = hooks else {
        return;
    };
    if weak_has(&set, root) {
        return;
    }
    weak_add(&set, root);
    remember_passwords_in(root);
    if let Some(observer) = observer {
        let _ = observe_types(&observer, root);
    }
    let signal = get(&abort, &js_str!("signal"));
    let [(submit_kind, _), (scroll_kind, _)] = crate::observers::ROOT_HANDLERS;
    crate::listener::listen_until(root, submit_kind, &submit, &signal);
    crate::listener::listen_until(root, scroll_kind, &scroll, &signal);
    watch_tree(root);
}

/// Hooks every open shadow root of the elements in `root` (the document or a
/// shadow root), and the roots nested in those: at start, once.
pub fn watch_tree(root: &JsValue) {
    if let Some(all) = select_all(root, &js_str!("*")) {
        for i in 0..length(&all) {
            watch_shadow_of(&item(&all, i));
        }
    }
}

/// Hooks the open shadow root of `el`, if it has one ([`watch_root`]).
pub fn watch_shadow_of(el: &JsValue) {
    let root = get(el, &js_str!("shadowRoot"));
    if root.is_object() {
        watch_root(&root);
    }
}

/// After the page's `attachShadow` returned `root` (see [`crate::patch`]):
/// hooked when open (a closed root's events reach the recorder as its host's).
pub fn attached(_: &alloc::rc::Rc<crate::observers::Capture>, root: &JsValue, _: &'static str) {
    if get(root, &js_str!("mode")) == js_str!("open") {
        watch_root(root);
    }
}

/// The shadow root an event came from, hooked if it was not yet.
fn see_shadow_root(el: &Element) {
    let root = root_node(el);
    if get(&root, &js_str!("host")).is_object() {
        watch_root(&root);
    }
}

/// What a click is usually about: the control around the clicked node (the
/// `<span>` inside a `<button>` is not what the reviewer wants to see).
const INTERACTIVE: &str = "a,button,input,select,textarea,label,summary,option,[role=button],[role=link],[role=tab],[role=menuitem],[role=checkbox]";

/// True for a CSS identifier that needs no escaping (`#id`, `.class`).
pub fn is_css_ident(s: &str) -> bool {
    // Bytes, not chars: every character allowed is ASCII, so a byte of a
    // longer character fails like the character would (no UTF-8 decoding).
    let b = s.as_bytes();
    // `1x`, `-1x` and `--x` are not plain identifiers (nor is `""`, read as
    // a digit).
    let first = b.first().copied().unwrap_or(b'0');
    let odd = first.is_ascii_digit()
        || (first == b'-' && b.get(1).is_some_and(|c| c.is_ascii_digit() || *c == b'-'));
    !odd && b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

/// One step of a path: `tag#id`, `tag[id="…"]`, `tag.class`, with
/// `:nth-of-type(n)` when siblings of the same tag need telling apart.
#[inline(always)]
pub fn segment(tag: &str, id: Option<&str>, class: Option<&str>, nth: Option<usize>) -> String {
    let mut s = tag.to_owned();
    if let Some(id) = id {
        if is_css_ident(id) {
            s.push('#');
            s.push_str(id);
            return s;
        }
        // `\` and `"` escaped (a char loop: `str::replace` links a searcher).
        s.push_str("[id=\"");
        for c in id.chars() {
            if c == '\\' || c == '"' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push_str("\"]");
        return s;
    }
    if let Some(c) = class.filter(|c| is_css_ident(c)) {
        s.push('.');
        s.push_str(c);
    }
    if let Some(n) = nth {
        s.push_str(":nth-of-type(");
        push_int(&mut s, n as u64);
        s.push(')');
    }
    s
}

/// Puts the next segment of a path, leaf first, in front of `path`, whose
/// segments so far count `chars` characters (each with its `>`), if it fits
/// [`MAX_PATH_CHARS`] (the leaf always does; cut later if it alone is too
/// long). False when it does not: the outermost ancestors are dropped, so no
/// segment further out is kept either. Built in front: no list of segments
/// to join.
pub fn prepend_segment(path: &mut String, chars: &mut usize, mut segment: String) -> bool {
    let c = shared::char_count(&segment) + 1;
    if *chars > 0 {
        if *chars + c > MAX_PATH_CHARS + 1 {
            return false;
        }
        segment.push('>');
        segment.push_str(path);
    }
    *chars += c;
    *path = segment;
    true
}

/// Collapses whitespace runs to one space, trims, and cuts to `max` characters
/// (one pass over the characters, stopping at `max`).
pub fn clean_text(s: &str, max: usize) -> String {
    let mut out = String::new();
    let (mut count, mut gap) = (0, false);
    for c in s.chars() {
        if c.is_whitespace() {
            gap = count > 0;
            continue;
        }
        if gap {
            if count == max {
                break;
            }
            out.push(' ');
            count += 1;
            gap = false;
        }
        if count == max {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// A label's text: [`clean_text`] to [`MAX_LABEL_CHARS`], `None` when
/// none or empty.
fn clean(s: Option<String>) -> Option<String> {
    let s = clean_text(&s?, MAX_LABEL_CHARS);
    (!s.is_empty()).then_some(s)
}

/// `el.textContent` (`None` when it is no string): the text of a label,
/// of a button, of a contenteditable host.
pub fn text_content(el: &Element) -> Option<String> {
    prop(el, &js_str!("textContent"))
}

/// A string property of a DOM object (`localName`, `textContent`, a form's
/// `action` ...), read with [`crate::global::get`].
pub fn prop(obj: &JsValue, name: &JsValue) -> Option<String> {
    crate::global::get(obj, name).as_string()
}

/// Whether `a` and `b` are the same object: `===`, the comparison import
/// every `JsValue` comparison uses, where web-sys's derived `==` on elements
/// calls `Object.is` (the same answer for objects) through one of its own.
pub fn same(a: &JsValue, b: &JsValue) -> bool {
    a == b
}

/// [`same`] for elements that may be absent (both absent: the same).
pub fn same_or_none(a: &Option<Element>, b: &Option<Element>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// Whether the element's `localName` is `tag`, ignoring ASCII case.
pub fn is_tag(el: &Element, tag: &str) -> bool {
    local_name(el).eq_ignore_ascii_case(tag)
}

/// `s` in ASCII lower case, in place (`to_ascii_lowercase` copies it).
pub fn lower(mut s: String) -> String {
    s.make_ascii_lowercase();
    s
}

/// `localName` (`""` if absent).
pub fn local_name(el: &Element) -> String {
    prop(el, &js_str!("localName")).unwrap_or_default()
}

/// A non-empty attribute.
fn attr(el: &Element, name: &str) -> Option<String> {
    call1(el, &js_str!("getAttribute"), &JsValue::from_str(name))
        .as_string()
        .filter(|s| !s.is_empty())
}

/// The element an event is about: the innermost target, seen through open
/// shadow roots, or the parent of a text node.
pub fn event_element(event: &web_sys::Event) -> Option<Element> {
    let path = call1(event, &js_str!("composedPath"), &JsValue::UNDEFINED);
    let first = item(&path, 0);
    // (No target: `null`, neither an element nor a node.)
    let target: JsValue = if first.is_undefined() {
        target(event)
    } else {
        first
    };
    if !target.is_instance_of::<web_sys::Node>() {
        return None;
    }
    let el = element_or_parent(target.unchecked_into())?;
    see_shadow_root(&el);
    Some(el)
}

/// [`event_element`] unless it is blocked ([`is_blocked`]): the clicked
/// element, the field typed into (also inside an open shadow root, where
/// the event's `target` is the component's host).
pub fn unblocked_event_element(event: &web_sys::Event) -> Option<Element> {
    event_element(event).filter(|el| !is_blocked(el))
}

/// The node if it is an element, else its parent element (a text node's).
pub fn element_or_parent(node: web_sys::Node) -> Option<Element> {
    match node.dyn_into::<Element>() {
        Ok(el) => Some(el),
        Err(node) => node.parent_element(),
    }
}

/// The control a click landed in, or the element itself.
pub fn interactive(el: Element) -> Element {
    closest(&el, &js_str!(INTERACTIVE)).unwrap_or(el)
}

/// Inside `data-cotrail-block` (also from outside a shadow root): no event at
/// all may mention it.
pub fn is_blocked(el: &Element) -> bool {
    closest_composed(el, &js_str!(BLOCK_SELECTOR)).is_some()
}

/// The element or an ancestor (also from outside a shadow root) carries
/// `data-cotrail-mask`.
pub fn is_marked(el: &Element) -> bool {
    closest_composed(el, &js_str!(MASK_SELECTOR)).is_some()
}

/// The DOM facts masking decides on.
pub fn facts(el: &Element) -> FieldFacts {
    let tag = lower(local_name(el));
    // A `getAttribute` that throws (a page's patch of it) hides what masking
    // decides on: the field is then taken as marked, its value masked rather
    // than sent as an ordinary field's. ([`call1`] answers `undefined` for a
    // throw, which the platform's `getAttribute` never answers: a patch that
    // does is taken as unread too.)
    let mut unread = false;
    let mut lower = |name: &str| {
        let v = call1(el, &js_str!("getAttribute"), &JsValue::from_str(name));
        unread |= v.is_undefined();
        lower(v.as_string().unwrap_or_default())
    };
    let mut input_type = lower("type");
    let autocomplete = lower("autocomplete");
    let mut marked = unread || is_marked(el);
    if tag == "input" {
        if input_type == "password" {
            remember_password(el);
        } else if was_password(el) {
            input_type.clear();
            input_type.push_str("password");
        }
    } else if tag == "select" {
        // Its value is its selected options' values (or their texts): one
        // masked or blocked option masks the whole select.
        marked |= has_private(el);
    } else if tag == "option" {
        // An option's text is its select's value: masked with it.
        if let Some(select) = closest(el, &js_str!("select")) {
            marked |= masking::value_mask(&facts(&select), MaskLevel::Default).is_some();
        }
    }
    FieldFacts {
        tag,
        input_type,
        autocomplete,
        marked,
    }
}

crate::global::page_const! {
    /// Paths already computed, per element (weak keys: removed elements are
    /// freed), made on first use. A path walks ancestors and their siblings; a
    /// burst of clicks or keystrokes on one element pays for that once. A path
    /// cached before the page moved the element stays as it was first seen.
    static PATHS: core::cell::RefCell<Option<js_sys::WeakMap>> = core::cell::RefCell::new(None);
}

/// The short CSS path of `el`, e.g. `form#checkout>div.row:nth-of-type(2)>input`.
pub fn css_path(el: &Element) -> String {
    let cache = PATHS.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(js_sys::WeakMap::new)
            .clone()
    });
    if let Some(path) = cache.get(el).as_string() {
        return path;
    }
    let path = compute_css_path(el);
    cache.set(el, &JsValue::from_str(&path));
    path
}

#[inline(never)]
fn compute_css_path(el: &Element) -> String {
    let (mut path, mut chars, mut count) = (String::new(), 0, 0);
    let mut current = Some(el.clone());
    while let Some(node) = current {
        let tag = lower(local_name(&node));
        if tag == "html" || count > MAX_ANCESTORS {
            break;
        }
        let id = attr(&node, "id");
        // With an id, neither class nor position is read (one `segment` call).
        let (class, nth) = if id.is_some() {
            (None, None)
        } else {
            // The first class (`classList[0]`; SVG elements have one too).
            let classes = crate::global::get(&node, &js_str!("classList"));
            (item(&classes, 0).as_string(), nth_of_type(&node, &tag))
        };
        let seg = segment(&tag, id.as_deref(), class.as_deref(), nth);
        if !prepend_segment(&mut path, &mut chars, seg) {
            break;
        }
        count += 1;
        if id.is_some() || tag == "body" {
            break;
        }
        current = node.parent_element();
    }
    crate::text::cut(path, MAX_PATH_CHARS)
}

/// Position among same-tag siblings, when there is more than one of them.
fn nth_of_type(el: &Element, tag: &str) -> Option<usize> {
    let same = |e: &Element| is_tag(e, tag);
    let mut before = 0;
    let mut sib = el.previous_element_sibling();
    while let Some(s) = sib {
        before += usize::from(same(&s));
        sib = s.previous_element_sibling();
    }
    let mut after = el.next_element_sibling();
    let mut has_after = false;
    while let Some(s) = after {
        if same(&s) {
            has_after = true;
            break;
        }
        after = s.next_element_sibling();
    }
    (before > 0 || has_after).then_some(before + 1)
}

/// Whether an element's text may be read as a label: not when it is masked or
/// blocked (a `<label>` or an `aria-labelledby` target inside a blocked part
/// names a control outside it) or holds masked, blocked, password or card
/// content (its `textContent` would carry that content along).
pub fn readable(el: &Element) -> bool {
    closest_composed(el, &js_str!(HIDDEN_SELECTOR)).is_none() && !has_private(el)
}

/// The text of an element that may be read as a label (see [`readable`]).
fn label_text(el: &Element) -> Option<String> {
    if readable(el) {
        text_content(el)
    } else {
        None
    }
}

/// `aria-labelledby`: the texts of the elements it names, in order, looked up
/// in the element's own tree (a shadow root's ids are its own).
fn labelled_by(el: &Element) -> Option<String> {
    let ids = attr(el, "aria-labelledby")?;
    // A document or a shadow root (both have `getElementById`); an element
    // removed from the page has neither and no label by id. (`instanceof
    // Element`, imported anyway, rather than a `nodeType` import: one of
    // another window's elements fails it, and has no `getElementById`.)
    let root = root_node(el);
    if root.is_instance_of::<Element>() {
        return None;
    }
    let mut text = String::new();
    for id in ids.split_ascii_whitespace() {
        if let Some(part) = call_element(&root, &js_str!("getElementById"), &JsValue::from_str(id))
        {
            // One private part withholds the whole label.
            text.push_str(&label_text(&part)?);
            text.push(' ');
        }
    }
    Some(text)
}

/// What a person reads on or for the element. An element under a mask or
/// block, or holding masked or blocked content, gives no `aria-label`,
/// `title` or `alt` in place of its text either: those often repeat the text
/// ("Copy DE89 …" on a button around a masked IBAN).
pub fn label(el: &Element, facts: &FieldFacts) -> Option<String> {
    // `readable`, with the walk up the tree shared: what the author named it
    // may stand in for text withheld as private (a form around a password
    // field keeps `aria-label="Sign in"`), not for text under or holding a
    // mask or block.
    let hidden = &js_str!(HIDDEN_SELECTOR);
    let under_hidden = closest_composed(el, hidden).is_some();
    let open = !under_hidden && !has_private(el);
    let named = open || (!under_hidden && !has_match(el, hidden));
    // (An `if`, not `bool::then` and `flatten`: smaller.)
    if named {
        if let Some(l) = clean(attr(el, "aria-label")) {
            return Some(l);
        }
    }
    if let Some(l) = clean(labelled_by(el)) {
        return Some(l);
    }
    // The attribute read last, when nothing before it gave a label (one
    // read for every arm). Tags and types looked up in word lists
    // ([`one_of`]): one loop, not a comparison in code each.
    let tag = facts.tag.as_str();
    let last = if facts.is_field() {
        if tag == "input" && one_of(&facts.input_type, "submit,button,reset") {
            "value"
        } else {
            // `labels` covers both `<label for=…>` and a wrapping `<label>`.
            // (`null` for a hidden input: no first label.)
            let labels = crate::global::get(el, &js_str!("labels"));
            let first = item(&labels, 0);
            if first.is_object() {
                if let Some(l) = clean(label_text(first.unchecked_ref())) {
                    return Some(l);
                }
            }
            "placeholder"
        }
    } else if one_of(tag, "button,a,summary,label,option,legend") {
        // Text withheld for what it holds: no `title` in its place either (a
        // title often repeats the text).
        if !open {
            return None;
        }
        if let Some(l) = clean(text_content(el)) {
            return Some(l);
        }
        "title"
    } else if !named {
        return None;
    } else if tag == "img" {
        "alt"
    } else if attr(el, "role").is_some_and(|r| one_of(&r, "button,link,tab,menuitem,checkbox")) {
        return clean(label_text(el));
    } else {
        "title"
    };
    clean(attr(el, last))
}

/// The descriptor of `el`, with its label withheld when masking says so.
pub fn describe(el: &Element, level: MaskLevel) -> ElementRef {
    describe_with(el, facts(el), level)
}

/// As [`describe`], reusing facts the caller already gathered (its tag is
/// moved into the descriptor, not copied).
pub fn describe_with(el: &Element, facts: FieldFacts, level: MaskLevel) -> ElementRef {
    let text = |s: String| crate::text::cut(s, MAX_TEXT_CHARS);
    let id = attr(el, "id").map(text);
    let name = attr(el, "name").map(text);
    let path = css_path(el);
    let label = if masking::label_allowed(&facts, level) {
        label(el, &facts)
    } else {
        None
    };
    ElementRef {
        id,
        name,
        tag: crate::text::cut(facts.tag, MAX_ID_LEN),
        path,
        label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::concat;
    use shared::truncate_chars;

    #[test]
    fn selectors_name_the_attributes() {
        assert_eq!(MASK_SELECTOR, concat(&["[", MASK_ATTR, "]"]));
        assert_eq!(BLOCK_SELECTOR, concat(&["[", BLOCK_ATTR, "]"]));
        assert_eq!(
            HIDDEN_SELECTOR,
            concat(&[MASK_SELECTOR, ",", BLOCK_SELECTOR])
        );
        assert_eq!(PASSWORD_SELECTOR, "input[type=password]");
        assert_eq!(
            PRIVATE_SELECTOR,
            concat(&[
                MASK_SELECTOR,
                ",",
                BLOCK_SELECTOR,
                ",input[type=password],[autocomplete*=cc-]"
            ])
        );
    }

    #[test]
    fn segments_prefer_ids_then_classes_and_positions() {
        assert_eq!(
            segment("button", Some("buy"), Some("x"), Some(2)),
            "button#buy"
        );
        assert_eq!(segment("div", Some("1st"), None, None), "div[id=\"1st\"]");
        assert_eq!(
            segment("div", Some("a\"b"), None, None),
            "div[id=\"a\\\"b\"]"
        );
        for id in ["1\\2", "é\"日\\\"", "\"\"", "9 9"] {
            let escaped = id.replace('\\', "\\\\").replace('"', "\\\"");
            assert_eq!(
                segment("p", Some(id), None, None),
                concat(&["p[id=\"", &escaped, "\"]"])
            );
        }
        assert_eq!(
            segment("li", None, Some("item"), Some(3)),
            "li.item:nth-of-type(3)"
        );
        assert_eq!(segment("li", None, Some("2col"), None), "li");
    }

    #[test]
    fn css_identifiers_are_recognised() {
        assert!(is_css_ident("add-to-cart"));
        assert!(is_css_ident("_x1"));
        assert!(!is_css_ident("1st"));
        assert!(!is_css_ident("-1"));
        assert!(!is_css_ident("a b"));
        assert!(!is_css_ident(""));
    }

    /// The first version: over chars.
    fn is_css_ident_reference(s: &str) -> bool {
        let mut chars = s.chars();
        match chars.next() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '-' => {}
            _ => return false,
        }
        let odd_start = s.starts_with("--")
            || (s.starts_with('-') && s.as_bytes().get(1).is_some_and(u8::is_ascii_digit));
        !odd_start && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn css_identifiers_are_recognised_as_the_char_version_did() {
        for s in [
            "", "a", "-", "--", "-a", "-1", "--a", "_", "_1", "a-b_c9", "1a", "é", "aé", "-é",
            "a b", "a.b", "日本", "a\u{0}", "Z-", "-_", "a--", "x1-",
        ] {
            assert_eq!(is_css_ident(s), is_css_ident_reference(s), "{s:?}");
        }
    }

    /// A path of segments given leaf first, built as `compute_css_path` does.
    fn join_path(leaf_first: &[String]) -> String {
        let (mut path, mut chars) = (String::new(), 0);
        for s in leaf_first {
            if !prepend_segment(&mut path, &mut chars, s.clone()) {
                break;
            }
        }
        crate::text::cut(path, MAX_PATH_CHARS)
    }

    #[test]
    fn paths_join_outermost_first_and_drop_ancestors_to_fit() {
        assert_eq!(
            join_path(&["button".into(), "form#f".into()]),
            "form#f>button"
        );
        let long = "x".repeat(300);
        let p = join_path(&["leaf".into(), long.clone(), long]);
        assert!(p.ends_with(">leaf"), "{p}");
        assert!(p.chars().count() <= MAX_PATH_CHARS);
        assert_eq!(
            join_path(&["y".repeat(600)]).chars().count(),
            MAX_PATH_CHARS
        );
    }

    /// The first version: drop the outermost ancestor until the whole fits.
    fn join_path_reference(mut leaf_first: Vec<String>) -> String {
        while leaf_first.len() > 1
            && leaf_first
                .iter()
                .map(|s| s.chars().count() + 1)
                .sum::<usize>()
                > MAX_PATH_CHARS + 1
        {
            leaf_first.pop();
        }
        leaf_first.reverse();
        truncate_chars(&leaf_first.join(">"), MAX_PATH_CHARS).to_owned()
    }

    #[test]
    fn paths_keep_the_same_ancestors_as_dropping_them_one_by_one() {
        let lens = [0, 1, 7, 60, 120, 250, 255, 256, 257, 511, 600];
        for a in lens {
            for b in lens {
                for c in [0, 5, 130] {
                    let segs = vec!["é".repeat(a), "x".repeat(b), "日".repeat(c)];
                    assert_eq!(join_path(&segs), join_path_reference(segs), "{a} {b} {c}");
                }
            }
        }
    }

    #[test]
    fn text_is_collapsed_and_cut() {
        assert_eq!(clean_text("  Add\n\t to   cart ", 80), "Add to cart");
        assert_eq!(clean_text("ééééé", 3), "ééé");
        assert_eq!(clean_text(&"word ".repeat(10_000), 9), "word word");
        // The same as collapsing with `split_whitespace` and then cutting.
        for s in ["", "  ", "ab cd", " a  b\u{a0}c\n", "é  日本\t語 x", "x"] {
            for max in 0..8 {
                let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
                assert_eq!(
                    clean_text(s, max),
                    truncate_chars(&collapsed, max),
                    "{s:?} {max}"
                );
            }
        }
    }
}
