// cotrail agent review app: sessions list + one session's event trail.
//
// Escaping-safe by construction: everything that comes from the API is put into
// the page with textContent / attributes on elements made with createElement.
// Nothing here uses innerHTML, insertAdjacentHTML or document.write.
//
// Routing lives in location.hash so links can be shared:
//   #/                                    sessions list
//   #/sessions/{id}                       a session's trail (newest first)
//   #/sessions/{id}?type=CLICK&actor=agent&order=asc
//
// API (same origin):
//   GET /api/v1/sessions?limit&cursor
//   GET /api/v1/sessions/{id}/events?limit&cursor&type&actor&order

const API = "/api/v1";
const SESSIONS_PAGE = 50;
const EVENTS_PAGE = 200;
const FOLLOW_MS = 3000;
const TOKEN_KEY = "cotrail.review.token";

const TYPE_NAMES = {
  CLICK: "Clicked on element",
  SCROLL: "Scroll on page or element",
  FORM: "Form sent",
  INPUT: "Input changed",
  "PAGE-CHANGE": "Page changed",
  SELECTION: "Text or elements selected",
  CUSTOM_EVENT: "Custom event triggered via API",
};

const NAV_NAMES = {
  load: "page load",
  push: "pushState",
  replace: "replaceState",
  pop: "back / forward",
  hash: "hash change",
};

const MASK_NAMES = {
  password: "password",
  "credit-card": "card number",
  hidden: "hidden field",
  marked: "marked private",
  strict: "strict masking",
};

// ------------------------------------------------------------------ helpers

const $ = (id) => document.getElementById(id);

/** createElement with attributes and text/element children (text is never parsed). */
function h(tag, attrs = {}, ...children) {
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

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** Local time to the millisecond: 2025-11-22 09:26:40.123 */
function localMs(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** Local time to the second, for the sessions list. */
function localS(ms) {
  return localMs(ms).slice(0, 19);
}

function iso(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function timeEl(ms, text) {
  return h("time", { datetime: iso(ms), title: iso(ms) }, text);
}

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
  return os ? `${name} · ${os}` : name;
}

function originEl(origin, { compact = false } = {}) {
  const ip = origin && origin.ip ? origin.ip : "";
  const ua = origin && origin.user_agent ? origin.user_agent : "";
  const full = [ip || "unknown IP", ua || "unknown user agent"].join("\n");
  const wrap = h("div", { class: "origin", title: full });
  wrap.append(h("span", { class: "ip" }, ip || "—"));
  if (ua) {
    wrap.append(
      h("span", { class: "browser" }, browserName(ua)),
      compact ? "" : h("span", { class: "ua" }, ua),
    );
  }
  return wrap;
}

function actorKind(actor) {
  return actor && typeof actor.kind === "string" ? actor.kind : "unknown";
}

function actorBadge(actor) {
  const kind = actorKind(actor);
  if (kind === "agent") {
    const id = actor.id ? String(actor.id) : "";
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
      {
        class: "badge actor actor-script",
        title: "Dispatched by the page's own code (isTrusted = false), not by a person",
      },
      "script",
    );
  }
  return h("span", { class: "badge actor actor-unknown" }, kind);
}

function typeClass(type) {
  return `type-${String(type).toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
}

function typeBadge(type) {
  return h(
    "span",
    { class: `badge type ${typeClass(type)}`, title: TYPE_NAMES[type] || "Unknown event type" },
    String(type),
  );
}

function mutedText(text) {
  return h("span", { class: "muted" }, text);
}

function maskedBadge(reason) {
  const why = MASK_NAMES[reason] || String(reason || "masked");
  return h(
    "span",
    { class: "masked", title: "The value never left the customer's browser" },
    `masked (${why})`,
  );
}

/** Element descriptor: `#id` (or name / tag), its label, and its CSS path. */
function elementEl(target) {
  if (!target || typeof target !== "object") return mutedText("—");
  const main = target.id
    ? `#${target.id}`
    : target.name
      ? `${target.tag || ""}[name="${target.name}"]`
      : `<${target.tag || "?"}>`;
  const wrap = h("div", { class: "element" });
  wrap.append(h("code", { class: "el-main" }, main));
  if (target.id && target.name && target.name !== target.id) {
    wrap.append(" ", h("span", { class: "el-name" }, `name="${target.name}"`));
  }
  if (target.label) wrap.append(h("span", { class: "el-label" }, `“${target.label}”`));
  if (target.path) wrap.append(h("code", { class: "el-path", title: target.path }, target.path));
  return wrap;
}

function pageEl(data) {
  const wrap = h("div", { class: "page" });
  wrap.append(h("span", { class: "page-title" }, data.title ? data.title : "(untitled page)"));
  if (data.url) wrap.append(h("span", { class: "page-url", title: data.url }, data.url));
  return wrap;
}

function targetCell(type, data) {
  data = data || {};
  switch (type) {
    case "PAGE-CHANGE":
      return pageEl(data);
    case "SCROLL":
      return data.target ? elementEl(data.target) : h("span", { class: "page-scroll" }, "Whole page");
    case "SELECTION":
      return data.target ? elementEl(data.target) : mutedText("—");
    case "CUSTOM_EVENT":
      return h("span", { class: "muted", title: "Sent by page code through recordCustom()" }, "recordCustom()");
    default:
      return elementEl(data.target);
  }
}

function jsonText(value) {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function dataCell(type, data) {
  data = data || {};
  const wrap = h("div", { class: "data" });
  switch (type) {
    case "SCROLL":
      wrap.append(h("span", { class: "kv" }, `x ${data.x ?? "?"}, y ${data.y ?? "?"}`));
      break;
    case "INPUT":
      if (data.masked) wrap.append(maskedBadge(data.masked));
      if (typeof data.checked === "boolean") {
        wrap.append(
          h("span", { class: `checked ${data.checked ? "on" : "off"}` }, data.checked ? "☑ checked" : "☐ unchecked"),
        );
      }
      if (typeof data.value === "string") {
        wrap.append(
          data.value === ""
            ? mutedText("(empty)")
            : h("span", { class: "value", title: data.value }, data.value),
        );
      }
      if (!wrap.childNodes.length) wrap.append(mutedText("—"));
      break;
    case "FORM": {
      const method = data.method ? String(data.method).toUpperCase() : "";
      wrap.append(
        h("span", { class: "kv" }, method ? h("strong", {}, method) : "", method ? " " : "", data.action || mutedText("(no action)")),
      );
      break;
    }
    case "SELECTION":
      if (data.masked) wrap.append(maskedBadge(data.masked));
      else if (typeof data.text === "string" && data.text !== "")
        wrap.append(h("span", { class: "value quote", title: data.text }, data.text));
      else wrap.append(mutedText("(nothing selected)"));
      break;
    case "CUSTOM_EVENT":
      wrap.append(
        h("strong", { class: "custom-type" }, data.type != null ? String(data.type) : "(no type)"),
        h("code", { class: "json" }, jsonText(data.value)),
      );
      break;
    case "PAGE-CHANGE":
      wrap.append(h("span", { class: "nav" }, NAV_NAMES[data.nav] || String(data.nav || "")));
      break;
    case "CLICK":
      wrap.append(mutedText("—"));
      break;
    default:
      wrap.append(h("code", { class: "json" }, jsonText(data)));
  }
  return wrap;
}

function shortId(id, n = 8) {
  const s = String(id || "");
  return s.length > n + 1 ? `${s.slice(0, n)}…` : s;
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * With no token yet, a collector running its demo tenant hands the demo
 * agent's token to a browser on the same machine (the endpoint answers 404
 * everywhere else), so the review app works right after `cargo xtask run`.
 */
async function demoToken() {
  if (localStorage.getItem(TOKEN_KEY)) return;
  try {
    const res = await fetch(new URL(API + "/demo/credentials", location.origin), { cache: "no-store" });
    if (!res.ok) return;
    const body = await res.json();
    if (body && body.agent && typeof body.agent.token === "string") {
      localStorage.setItem(TOKEN_KEY, body.agent.token);
    }
  } catch {
    // Not in demo mode: the sign-in box asks for a token.
  }
}

async function api(path, params = {}) {
  await demoToken();
  const url = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  const headers = { Accept: "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url, { headers, cache: "no-store", credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, "network", `Cannot reach the collector (${err.message || err}).`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body && body.error ? body.error : null;
    throw new ApiError(
      res.status,
      (e && e.code) || `http_${res.status}`,
      (e && e.message) || text.slice(0, 300) || res.statusText || "Request failed",
    );
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError(res.status, "bad_response", "The collector answered with something that is not JSON.");
  }
  return body;
}

// ------------------------------------------------------------------ errors

function showError(err, context) {
  const box = $("error");
  const status = err && err.status ? ` (HTTP ${err.status})` : "";
  const code = err && err.code ? `${err.code}: ` : "";
  $("error-text").textContent = `${context}${status}. ${code}${err && err.message ? err.message : String(err)}`;
  box.hidden = false;
  if (err && (err.status === 401 || err.status === 403)) $("auth").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

$("error-dismiss").addEventListener("click", clearError);

$("auth").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = $("api-token").value.trim();
  if (v) localStorage.setItem(TOKEN_KEY, v);
  $("api-token").value = "";
  $("auth").hidden = true;
  clearError();
  reloadAll();
});
$("api-token-clear").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY);
  $("api-token").value = "";
});

// ------------------------------------------------------------------ sessions

const sessions = {
  list: [], // SessionSummary[], in server order
  cursor: null,
  loading: false,
  loaded: false,
};

function sessionRow(s, selectedId) {
  const id = String(s.session_id);
  const href = `#/sessions/${encodeURIComponent(id)}`;
  const actors = Array.isArray(s.actors) ? s.actors : [];
  const row = h(
    "tr",
    {
      "data-session-id": id,
      class: id === selectedId ? "selected" : "",
      "aria-selected": id === selectedId ? "true" : "false",
    },
    h("td", { class: "sid" }, h("a", { href, title: id }, id)),
    h("td", { class: "time" }, timeEl(s.first_seen, localS(s.first_seen))),
    h("td", { class: "time" }, timeEl(s.last_seen, localS(s.last_seen))),
    h("td", { class: "num" }, String(s.event_count ?? 0), s.tabs > 1 ? h("span", { class: "muted small" }, ` · ${s.tabs} tabs`) : ""),
    h("td", { class: "actors" }, ...actors.map((k) => actorBadge({ kind: k }))),
    h("td", {}, originEl(s.origin, { compact: true })),
    h("td", { class: "url" }, s.last_url ? h("span", { title: s.last_url }, s.last_url) : mutedText("—")),
  );
  row.addEventListener("click", (ev) => {
    if (ev.target instanceof Element && ev.target.closest("a")) return;
    location.hash = href;
  });
  return row;
}

function sessionMatches(s, q) {
  if (!q) return true;
  const hay = [
    s.session_id,
    s.origin && s.origin.ip,
    s.origin && s.origin.user_agent,
    s.origin && browserName(s.origin.user_agent),
    s.last_url,
    ...(s.actors || []),
  ]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .every((w) => hay.includes(w));
}

function renderSessions() {
  const q = $("session-search").value.trim();
  const selected = route.sessionId;
  const shown = sessions.list.filter((s) => sessionMatches(s, q));
  $("sessions").tBodies[0].replaceChildren(...shown.map((s) => sessionRow(s, selected)));
  const empty = $("sessions-empty");
  if (!sessions.loaded) {
    empty.hidden = true;
  } else if (sessions.list.length === 0) {
    empty.hidden = false;
    empty.replaceChildren(
      "No sessions recorded yet. Open the ",
      h("a", { href: "/" }, "demo shop"),
      " in another tab, click around, and refresh.",
    );
  } else if (shown.length === 0) {
    empty.hidden = false;
    empty.textContent = "No loaded session matches this filter.";
  } else {
    empty.hidden = true;
  }
  $("sessions-more").hidden = !sessions.cursor;
  $("sessions-status").textContent = sessions.loaded
    ? `${sessions.list.length} session${sessions.list.length === 1 ? "" : "s"} loaded${sessions.cursor ? ", more available" : ""}`
    : "Loading…";
  renderSummary();
}

/** Loads the first page; with `merge`, keeps older pages already loaded. */
async function loadSessions({ merge = false } = {}) {
  if (sessions.loading) return;
  sessions.loading = true;
  try {
    const page = await api("/sessions", { limit: SESSIONS_PAGE });
    const fresh = Array.isArray(page.sessions) ? page.sessions : [];
    if (merge && sessions.list.length > fresh.length) {
      const ids = new Set(fresh.map((s) => s.session_id));
      sessions.list = fresh.concat(sessions.list.filter((s) => !ids.has(s.session_id)));
    } else {
      sessions.list = fresh;
      sessions.cursor = page.next_cursor || null;
    }
    sessions.loaded = true;
    renderSessions();
  } catch (err) {
    showError(err, "Could not load sessions");
  } finally {
    sessions.loading = false;
  }
}

async function loadMoreSessions() {
  if (sessions.loading || !sessions.cursor) return;
  sessions.loading = true;
  $("sessions-more").disabled = true;
  try {
    const page = await api("/sessions", { limit: SESSIONS_PAGE, cursor: sessions.cursor });
    const ids = new Set(sessions.list.map((s) => s.session_id));
    for (const s of page.sessions || []) if (!ids.has(s.session_id)) sessions.list.push(s);
    sessions.cursor = page.next_cursor || null;
    renderSessions();
  } catch (err) {
    showError(err, "Could not load more sessions");
  } finally {
    sessions.loading = false;
    $("sessions-more").disabled = false;
  }
}

$("sessions-more").addEventListener("click", loadMoreSessions);
$("refresh-sessions").addEventListener("click", () => {
  clearError();
  loadSessions();
});
$("session-search").addEventListener("input", renderSessions);

// ------------------------------------------------------------------ routing

const route = { sessionId: null, type: "", actor: "", order: "desc" };

function parseHash() {
  const raw = location.hash.replace(/^#/, "");
  const [path, query = ""] = raw.split("?");
  const m = path.match(/^\/sessions\/([^/]+)\/?$/);
  const p = new URLSearchParams(query);
  let id = null;
  if (m) {
    try {
      id = decodeURIComponent(m[1]);
    } catch {
      id = m[1];
    }
  }
  const order = p.get("order") === "asc" ? "asc" : "desc";
  return { sessionId: id, type: p.get("type") || "", actor: p.get("actor") || "", order };
}

function hashFor(r) {
  if (!r.sessionId) return "#/";
  const p = new URLSearchParams();
  if (r.type) p.set("type", r.type);
  if (r.actor) p.set("actor", r.actor);
  if (r.order !== "desc") p.set("order", r.order);
  const q = p.toString();
  return `#/sessions/${encodeURIComponent(r.sessionId)}${q ? `?${q}` : ""}`;
}

function onRoute() {
  Object.assign(route, parseHash());
  $("filter-type").value = route.type;
  $("filter-actor").value = route.actor;
  $("order").value = route.order;
  document.body.classList.toggle("has-session", Boolean(route.sessionId));
  $("trail-panel").hidden = !route.sessionId;
  renderSessions();
  if (route.sessionId) {
    document.title = `Session ${route.sessionId} · cotrail review`;
    $("trail-session-id").textContent = route.sessionId;
    loadTrail();
  } else {
    document.title = "Session review · cotrail";
    resetTrail();
    stopFollowTimer();
  }
  syncFollow();
}

function updateFilter(change) {
  location.hash = hashFor({ ...route, ...change });
}

$("filter-type").addEventListener("change", (e) => updateFilter({ type: e.target.value }));
$("filter-actor").addEventListener("change", (e) => updateFilter({ actor: e.target.value }));
$("order").addEventListener("change", (e) => updateFilter({ order: e.target.value }));
window.addEventListener("hashchange", onRoute);

// ------------------------------------------------------------------ trail

const trail = {
  generation: 0, // bumps whenever the query changes; stale answers are dropped
  keys: new Set(), // "tab_id:seq" of rows shown
  count: 0,
  cursor: null,
  loading: false,
  polling: false,
  updatedAt: null,
};

const eventKey = (e) => `${e.tab_id}\u0000${e.seq}`;

function resetTrail() {
  trail.generation += 1;
  trail.keys.clear();
  trail.count = 0;
  trail.cursor = null;
  trail.loading = false;
  trail.polling = false;
  trail.updatedAt = null;
  $("trail").tBodies[0].replaceChildren();
  $("trail-empty").hidden = true;
  $("load-more").hidden = true;
  $("trail-status").textContent = "";
}

function eventRow(e, fresh = false) {
  const kind = actorKind(e.actor);
  const type = String(e.type);
  const ts = typeof e.ts === "number" ? e.ts : e.received_at;
  const when = h(
    "td",
    { class: "when" },
    timeEl(ts, localMs(ts)),
    h(
      "span",
      {
        class: "seq",
        title: `tab ${e.tab_id}, seq ${e.seq}, ${e.mono} ms after page start\nreceived ${iso(e.received_at)}`,
      },
      `tab ${shortId(e.tab_id, 6)} · #${e.seq}`,
    ),
  );
  return h(
    "tr",
    {
      "data-type": type,
      "data-actor": kind,
      "data-seq": String(e.seq),
      "data-tab-id": String(e.tab_id),
      "data-ts": String(e.ts),
      class: fresh ? `${typeClass(type)} fresh` : typeClass(type),
    },
    when,
    h("td", {}, typeBadge(type)),
    h("td", {}, actorBadge(e.actor)),
    h("td", {}, targetCell(type, e.data)),
    h("td", {}, dataCell(type, e.data)),
    h("td", {}, originEl(e.origin)),
  );
}

function trailParams(extra = {}) {
  return {
    limit: EVENTS_PAGE,
    type: route.type,
    actor: route.actor,
    order: route.order,
    ...extra,
  };
}

function renderTrailStatus() {
  const filtered = route.type || route.actor ? " matching the filters" : "";
  const when = trail.updatedAt ? ` · updated ${localS(trail.updatedAt).slice(11)}` : "";
  $("trail-status").textContent = `${trail.count} event${trail.count === 1 ? "" : "s"} shown${filtered}${trail.cursor ? ", more available" : ""}${when}`;
  $("load-more").hidden = !trail.cursor;
  const empty = $("trail-empty");
  if (trail.count === 0 && trail.updatedAt) {
    empty.hidden = false;
    empty.textContent = filtered
      ? "No events in this session match these filters."
      : "No events recorded in this session yet.";
  } else {
    empty.hidden = true;
  }
}

function appendEvents(events, { fresh = false } = {}) {
  const body = $("trail").tBodies[0];
  const frag = document.createDocumentFragment();
  for (const e of events) {
    const k = eventKey(e);
    if (trail.keys.has(k)) continue;
    trail.keys.add(k);
    trail.count += 1;
    frag.append(eventRow(e, fresh));
  }
  body.append(frag);
}

/** First page for the current route (replaces the table). */
async function loadTrail() {
  resetTrail();
  const gen = trail.generation;
  const id = route.sessionId;
  trail.loading = true;
  $("trail-status").textContent = "Loading…";
  try {
    const page = await api(`/sessions/${encodeURIComponent(id)}/events`, trailParams());
    if (gen !== trail.generation) return;
    appendEvents(page.events || []);
    trail.cursor = page.next_cursor || null;
    trail.updatedAt = Date.now();
    clearError();
    renderTrailStatus();
  } catch (err) {
    if (gen !== trail.generation) return;
    $("trail-status").textContent = "";
    showError(err, `Could not load the trail of session ${id}`);
  } finally {
    if (gen === trail.generation) trail.loading = false;
  }
}

async function loadMoreEvents() {
  if (trail.loading || !trail.cursor) return;
  const gen = trail.generation;
  trail.loading = true;
  $("load-more").disabled = true;
  try {
    const page = await api(
      `/sessions/${encodeURIComponent(route.sessionId)}/events`,
      trailParams({ cursor: trail.cursor }),
    );
    if (gen !== trail.generation) return;
    appendEvents(page.events || []);
    trail.cursor = page.next_cursor || null;
    renderTrailStatus();
  } catch (err) {
    if (gen === trail.generation) showError(err, "Could not load more events");
  } finally {
    $("load-more").disabled = false;
    if (gen === trail.generation) trail.loading = false;
  }
}

/**
 * Follow: fetch the newest events (same filters) and add the ones not shown yet,
 * at the top when newest-first, at the bottom when oldest-first. Rows already
 * shown stay put, so the reviewer does not lose their place.
 */
async function pollTrail() {
  if (!route.sessionId || trail.loading || trail.polling) return;
  const gen = trail.generation;
  trail.polling = true;
  try {
    const page = await api(
      `/sessions/${encodeURIComponent(route.sessionId)}/events`,
      trailParams({ order: "desc" }),
    );
    if (gen !== trail.generation) return;
    const got = page.events || [];
    const newest = got.filter((e) => !trail.keys.has(eventKey(e)));
    if (newest.length && newest.length === got.length && page.next_cursor && trail.count > 0) {
      // More new events than one page: there would be a hole, so start over.
      trail.polling = false;
      await loadTrail();
      return;
    }
    if (newest.length) {
      const body = $("trail").tBodies[0];
      if (route.order === "desc") {
        const frag = document.createDocumentFragment();
        for (const e of newest) {
          trail.keys.add(eventKey(e));
          trail.count += 1;
          frag.append(eventRow(e, true));
        }
        body.prepend(frag);
      } else if (!trail.cursor) {
        // Oldest first and everything up to now is shown: new events go at the end.
        appendEvents(newest.slice().reverse(), { fresh: true });
      }
    }
    trail.updatedAt = Date.now();
    clearError();
    renderTrailStatus();
  } catch (err) {
    if (gen === trail.generation) showError(err, "Follow: could not refresh the trail");
  } finally {
    trail.polling = false;
  }
}

$("load-more").addEventListener("click", loadMoreEvents);
$("refresh").addEventListener("click", () => {
  clearError();
  loadTrail();
  loadSessions({ merge: true });
});

// ------------------------------------------------------------------ summary

function renderSummary() {
  const dl = $("session-summary");
  if (!route.sessionId) {
    dl.replaceChildren();
    return;
  }
  const s = sessions.list.find((x) => x.session_id === route.sessionId);
  if (!s) {
    dl.replaceChildren();
    return;
  }
  const item = (label, ...value) => [h("dt", {}, label), h("dd", {}, ...value)];
  dl.replaceChildren(
    ...item("First seen", timeEl(s.first_seen, localMs(s.first_seen))),
    ...item("Last seen", timeEl(s.last_seen, localMs(s.last_seen))),
    ...item("Events", String(s.event_count ?? 0)),
    ...item("Tabs", String(s.tabs ?? 0)),
    ...item("Actors", ...(s.actors || []).map((k) => actorBadge({ kind: k }))),
    ...item("Origin", originEl(s.origin, { compact: true })),
    ...(s.last_url ? item("Last URL", h("span", { class: "page-url", title: s.last_url }, s.last_url)) : []),
  );
}

// ------------------------------------------------------------------ follow

let followTimer = null;

function stopFollowTimer() {
  if (followTimer) clearInterval(followTimer);
  followTimer = null;
}

function syncFollow() {
  const on = $("follow").checked && Boolean(route.sessionId);
  $("live-dot").hidden = !on;
  if (on && !followTimer) {
    followTimer = setInterval(() => {
      if (document.hidden) return;
      pollTrail();
      loadSessions({ merge: true });
    }, FOLLOW_MS);
  } else if (!on) {
    stopFollowTimer();
  }
}

$("follow").addEventListener("change", (e) => {
  syncFollow();
  if (e.target.checked) pollTrail();
});

// ------------------------------------------------------------------ start

function reloadAll() {
  loadSessions();
  if (route.sessionId) loadTrail();
}

onRoute();
loadSessions();
