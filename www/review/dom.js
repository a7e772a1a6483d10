// DOM building and formatting shared by the review app's screens.
//
// Everything that comes from the API enters the page through `h()` (text
// children become text nodes, attributes are set with setAttribute) or
// `textContent`. Nothing in the app uses innerHTML, insertAdjacentHTML,
// outerHTML or document.write: recorded text is data, never markup.

export const $ = (id) => document.getElementById(id);

/** createElement with attributes and text/element children (text is never parsed). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// Control characters would be invisible (or reorder text: bidi overrides), so
// a reviewer could not see what was really recorded. They are shown by name:
// C0 controls and DEL as ⟨BEL⟩, ⟨ESC⟩, …, bidi and zero-width format
// characters as ⟨U+202E⟩. Newlines and tabs stay. (Names, not the Unicode
// "control pictures": many fonts have no glyph for those.)
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]|[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const C0 = "NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US".split(" ");

export function visible(s) {
  return String(s).replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return `⟨${C0[code]}⟩`;
    if (code === 0x7f) return "⟨DEL⟩";
    return `⟨U+${code.toString(16).toUpperCase().padStart(4, "0")}⟩`;
  });
}

/** Text longer than this is folded: a preview plus a way to see it whole. */
export const FOLD_CHARS = 120;

/**
 * A recorded value as text: short values inline, long (or multi-line) ones as a
 * <details> whose summary is a preview and whose body is the whole value.
 * <details> is keyboard-operable without any script.
 */
export function foldText(value, cls = "value") {
  const text = visible(value);
  const lines = text.split("\n").length;
  if (text.length <= FOLD_CHARS && lines <= 2) return h("span", { class: cls }, text);
  const preview = text.slice(0, FOLD_CHARS).split("\n").slice(0, 2).join(" ");
  return h(
    "details",
    { class: `fold ${cls}` },
    h(
      "summary",
      { title: "Show the whole value" },
      h("span", { class: "preview" }, preview),
      h("span", { class: "more" }, `… show all ${text.length.toLocaleString()} characters`),
    ),
    h("pre", { class: "whole" }, text),
  );
}

export const pad = (n, w = 2) => String(n).padStart(w, "0");

/** Local time to the millisecond: 2025-11-22 09:26:40.123 */
export function localMs(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** Local time to the second. */
export const localS = (ms) => localMs(ms).slice(0, 19);

export function iso(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** A <time> showing `text`, with the full UTC timestamp and epoch ms on hover. */
export function timeEl(ms, text = localMs(ms)) {
  return h("time", { datetime: iso(ms), title: `${iso(ms)} (UTC) · ${ms} ms since epoch` }, text);
}

/**
 * When a session started and how long it lasted, in the person's time (the
 * events' client timestamps); collector receive times for sessions stored
 * before the summary had them. A batch delivered late does not shorten it.
 */
export function sessionSpan(s) {
  const start = s.first_event_ts ?? s.first_seen;
  const end = s.last_event_ts ?? s.last_seen;
  return { start, ms: Math.max(0, end - start) };
}

/** "3 min 12 s", "1 h 4 min", "850 ms". */
export function duration(ms) {
  if (!(ms >= 0)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(s % 60)} s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${pad(m % 60)} min`;
  return `${Math.floor(hrs / 24)} days`;
}

export const plural = (n, one, many = `${one}s`) => `${Number(n).toLocaleString()} ${n === 1 ? one : many}`;

/** "Chrome 131 · Linux" from a user agent string. */
export function browserName(ua) {
  if (!ua) return "";
  const rules = [
    [/Edg(?:e|A|iOS)?\/(\d+)/, "Edge"],
    [/OPR\/(\d+)/, "Opera"],
    [/SamsungBrowser\/(\d+)/, "Samsung Internet"],
    [/HeadlessChrome\/(\d+)/, "Headless Chrome"],
    [/(?:Chrome|CriOS)\/(\d+)/, "Chrome"],
    [/(?:Firefox|FxiOS)\/(\d+)/, "Firefox"],
    [/Version\/(\d+)[\d.]* (?:Mobile\/\S+ )?Safari/, "Safari"],
    [/curl\/(\d+)/, "curl"],
  ];
  let name = "";
  for (const [re, label] of rules) {
    const m = ua.match(re);
    if (m) {
      name = `${label} ${m[1]}`;
      break;
    }
  }
  if (!name) name = ua.split(/[\s/;(]/)[0] || ua.slice(0, 20);
  let os = "";
  if (/Android/.test(ua)) os = "Android";
  else if (/iPhone|iPad|iPod/.test(ua)) os = "iOS";
  else if (/Windows/.test(ua)) os = "Windows";
  else if (/Mac OS X|Macintosh/.test(ua)) os = "macOS";
  else if (/CrOS/.test(ua)) os = "ChromeOS";
  else if (/Linux/.test(ua)) os = "Linux";
  return visible(os ? `${name} · ${os}` : name);
}

/** Client IP and browser; the whole user agent on hover. */
export function originEl(origin) {
  const ip = origin && origin.ip ? visible(origin.ip) : "";
  const ua = origin && origin.user_agent ? visible(origin.user_agent) : "";
  const wrap = h("div", { class: "origin", title: `${ip || "unknown IP"}\n${ua || "unknown user agent"}` });
  wrap.append(h("span", { class: "ip" }, ip || "—"));
  if (ua) wrap.append(h("span", { class: "browser" }, browserName(ua)));
  return wrap;
}

export const muted = (text) => h("span", { class: "muted" }, text);

export function actorKind(actor) {
  return actor && typeof actor.kind === "string" ? actor.kind : "unknown";
}

/** Customer, agent (with id) and script look different, not just read different. */
export function actorBadge(actor) {
  const kind = actorKind(actor);
  if (kind === "agent") {
    const id = actor.id ? visible(actor.id) : "";
    return h(
      "span",
      { class: "badge actor actor-agent", title: id ? `Support agent ${id}` : "Support agent" },
      h("span", { class: "actor-kind" }, "agent"),
      id ? h("span", { class: "actor-id" }, id) : "",
    );
  }
  if (kind === "customer") {
    return h("span", { class: "badge actor actor-customer", title: "The customer" }, "customer");
  }
  if (kind === "script") {
    return h(
      "span",
      { class: "badge actor actor-script", title: "Dispatched by the page's own code (isTrusted = false), not by a person" },
      "script",
    );
  }
  return h("span", { class: "badge actor actor-unknown" }, visible(kind));
}

export const EVENT_TYPES = ["CLICK", "SCROLL", "FORM", "INPUT", "PAGE-CHANGE", "SELECTION", "CUSTOM_EVENT"];

export const TYPE_NAMES = {
  CLICK: "Clicked on element",
  SCROLL: "Scroll on page or element",
  FORM: "Form sent",
  INPUT: "Input changed",
  "PAGE-CHANGE": "Page changed",
  SELECTION: "Text or elements selected",
  CUSTOM_EVENT: "Custom event triggered via API",
};

export function typeClass(type) {
  return `type-${String(type).toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
}

export function typeBadge(type) {
  return h(
    "span",
    { class: `badge type ${typeClass(type)}`, title: TYPE_NAMES[type] || "Unknown event type" },
    visible(type),
  );
}

/** A small status pill: `kind` is ok, bad, warn, live or neutral. */
export function pill(kind, text, title) {
  return h("span", { class: `pill pill-${kind}`, title }, text);
}

export function shortId(id, n = 8) {
  const s = String(id);
  return s.length > n + 1 ? `${s.slice(0, n)}…` : s;
}

/** ms since epoch from a `datetime-local` input's value (local time), or undefined. */
export function fromLocalInput(value) {
  if (!value) return undefined;
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? undefined : t;
}

/** A `datetime-local` value for ms since epoch. */
export function toLocalInput(ms) {
  if (ms === undefined || ms === null || ms === "") return "";
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
