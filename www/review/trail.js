// Session trail screen: summary, integrity badge, export, the timeline strip
// and the event table (filters, order, pages, follow live, gap rows).
//
// The table shows one page of PAGE events at a time, never the whole trail:
// a 50,000-event session renders as fast as a 50-event one. Live rows are
// added only while the reader looks at the live end (the last page oldest
// first, the first page newest first), up to MAX_LIVE_ROWS; past that, or
// elsewhere, a button counts what arrived.

import {
  $,
  EVENT_TYPES,
  TYPE_NAMES,
  actorBadge,
  actorKind,
  duration,
  sessionSpan,
  foldText,
  h,
  iso,
  localMs,
  localS,
  muted,
  originEl,
  pill,
  plural,
  shortId,
  timeEl,
  typeBadge,
  typeClass,
  visible,
} from "./dom.js";
import { api, auth, download, followLive } from "./api.js";
import { Pager, clearError, hashFor, navigate, showError } from "./shell.js";
import { LIVE_WINDOW_MS, isLive } from "./sessions.js";
import { Timeline } from "./timeline.js";

const PAGE = 100;
/** Rows live-follow may add to a page before it stops and counts instead. */
const MAX_LIVE_ROWS = 400;
/** Events the timeline reads per request, and at most. */
const TIMELINE_PAGE = 1000;
// A filtered API page skips at most 10,000 events and may come back short, even
// empty, with a cursor: one table page follows that many cursors to fill up.
const MAX_FILL_REQUESTS = 20;
const TIMELINE_MAX = 200_000;

const NAV_NAMES = { load: "page load", push: "pushState", replace: "replaceState", pop: "back / forward", hash: "hash change" };
const MASK_NAMES = { password: "password", "credit-card": "card details", hidden: "hidden field", marked: "marked private", strict: "strict masking" };
const GAP_REASONS = {
  queue_full: "the recorder's queue was full (the collector was unreachable too long), so it dropped them",
  rejected: "the collector refused them",
  unencodable: "the recorder could not encode them",
};

const t = {
  id: null,
  params: { type: "", actor: "", order: "asc", at: "" },
  summary: null,
  gaps: [],
  // Runs of sequence numbers no stored event or gap record accounts for.
  unaccounted: [],
  gapsAt: 0, // the summary's event count when the gaps were read
  gapsLoaded: false,
  pager: new Pager(),
  scrollOnLoad: false, // the reader asked for another page: show its top
  keys: new Set(),
  liveRows: 0,
  pendingNew: 0,
  generation: 0,
  focusKey: null, // a row to scroll to once its page is shown
  stopLive: null,
  timelineGen: 0,
  summaryTimer: null,
  liveTimer: null,
  check: null, // the last integrity check's answer, and when it came
  gone: null, // { kind: "deleted" | "missing", status, tombstone, message } when the trail cannot be read
};

for (const type of EVENT_TYPES) $("filter-type").append(h("option", { value: type }, `${type} · ${TYPE_NAMES[type]}`));

const timeline = new Timeline($("timeline"), $("timeline-axis"), $("timeline-legend"), jumpTo);

// Tab ids are [A-Za-z0-9-_.:], so "/" cannot appear in one.
const keyOf = (e) => `${e.tab_id}/${e.seq}`;

function routeParams(p) {
  return {
    type: EVENT_TYPES.includes(p.type) ? p.type : "",
    actor: ["customer", "agent", "script"].includes(p.actor) ? p.actor : "",
    order: p.order === "desc" ? "desc" : "asc",
    at: /^\d+$/.test(p.at || "") ? p.at : "",
  };
}

// ------------------------------------------------------------------ screen

export function show(route) {
  const params = routeParams(route.params);
  const sameSession = route.sessionId === t.id;
  const sameQuery = sameSession && JSON.stringify(params) === JSON.stringify(t.params);
  t.params = params;
  $("filter-type").value = params.type;
  $("filter-actor").value = params.actor;
  $("order").value = params.order;
  if (!sameSession) {
    stopFollow();
    $("follow").checked = false;
    t.id = route.sessionId;
    t.summary = null;
    t.gaps = [];
    t.unaccounted = [];
    t.gapsLoaded = false;
    t.check = null;
    endGone();
    document.title = `Session ${visible(t.id)} · cotrail review`;
    $("trail-id").textContent = visible(t.id);
    $("trail-summary").replaceChildren();
    $("trail-live").replaceChildren();
    $("export-status").textContent = "";
    // Only admins may delete (the collector refuses anyone else, 403).
    $("delete-session").hidden = auth.role !== "admin";
    $("gaps-banner").hidden = true;
    // The rest once the summary answered: a deleted or unknown session then
    // costs two requests (summary and first page), not five.
    const id = t.id;
    loadSummary().then(() => {
      if (id !== t.id || t.gone) return;
      loadGaps();
      verify();
      loadTimeline();
    });
  }
  const moved = t.pager.take(`${t.id}|${JSON.stringify(params)}`, route.params);
  if (t.pager.stray) history.replaceState(null, "", hashFor("trail", params, t.id));
  if (moved || !sameQuery) loadPage();
  else t.scrollOnLoad = false;
}

export function hide() {
  stopFollow();
  $("follow").checked = false;
  t.generation += 1;
  t.timelineGen += 1;
  t.id = null;
  clearInterval(t.summaryTimer);
  t.summaryTimer = null;
  clearTimeout(t.liveTimer);
}

// ------------------------------------------------------------------ summary, gaps, integrity

async function loadSummary() {
  const id = t.id;
  try {
    const s = await api(`/sessions/${encodeURIComponent(id)}`);
    if (id !== t.id) return;
    t.summary = s;
    renderSummary();
    // Gap records travel with batches of events: while following live, a
    // summary that counts other losses than the gaps shown brings the new
    // ones, and new events may leave numbers unaccounted for or fill them.
    const stale = Number(s.lost_events || 0) !== numbersIn(t.gaps) || Number(s.event_count || 0) !== t.gapsAt;
    if (t.stopLive && t.gapsLoaded && stale) loadGaps();
  } catch (e) {
    if (id !== t.id || unreadable(e, id)) return;
    showError(e, `Could not load session ${visible(id)}`);
  }
}

/**
 * The live badge, until the session goes quiet: then "last event …", as the
 * sessions list says (without following live, nothing re-reads the summary).
 */
function renderLive() {
  clearTimeout(t.liveTimer);
  const s = t.summary;
  if (!s) return;
  const live = isLive(s);
  $("trail-live").replaceChildren(
    live ? pill("live", "● live", "Events arrived in the last 30 seconds") : pill("neutral", `last event ${localS(s.last_seen)}`),
  );
  if (live) t.liveTimer = setTimeout(renderLive, Math.max(0, s.last_seen + LIVE_WINDOW_MS - Date.now()) + 100);
}

function renderSummary() {
  const s = t.summary;
  if (!s) return;
  const item = (label, ...value) => [h("div", { class: "summary-item" }, h("dt", { class: "label" }, label), h("dd", {}, ...value))];
  const actors = s.actors || [];
  const span = sessionSpan(s);
  $("trail-summary").replaceChildren(
    ...item("Started", timeEl(span.start, localMs(span.start))),
    ...item("Duration", duration(span.ms)),
    ...item("Page views", String(s.page_changes ?? 0)),
    ...item("Events", Number(s.event_count ?? 0).toLocaleString()),
    ...item("Tabs", String(s.tabs ?? 0)),
    ...item("Who took part", ...(actors.length ? actors.map((k) => actorBadge({ kind: k })) : [muted("—")])),
    ...item("Origin", originEl(s.origin)),
    ...(s.lost_events ? item("Lost", h("span", { class: "lost" }, plural(s.lost_events, "event"))) : []),
  );
  renderLive();
  renderSinceCheck();
  // The status line's "of N" comes from the summary, which may arrive after
  // the first page is shown.
  if ($("trail").tBodies[0].querySelector("tr[data-key]")) renderStatus();
}

async function loadGaps() {
  const id = t.id;
  try {
    const count = Number((t.summary && t.summary.event_count) || 0);
    const page = await api(`/sessions/${encodeURIComponent(id)}/gaps`);
    if (id !== t.id) return;
    t.gaps = page.gaps || [];
    t.unaccounted = page.unaccounted || [];
    t.gapsAt = count;
    t.gapsLoaded = true;
    renderGapsBanner();
    renderSinceCheck();
    placeGapRows();
  } catch {
    // The summary's error already says what is wrong with the session.
  }
}

/** Sequence numbers in runs (`from`–`to`): events gap records report lost,
 * or events not accounted for. */
function numbersIn(runs) {
  return runs.reduce((sum, r) => sum + (r.to - r.from + 1), 0);
}

/** A banner's list of runs: the first five, and how many more. */
function runList(runs, text) {
  return [
    h("ul", {}, ...runs.slice(0, 5).map((r) => h("li", {}, text(r)))),
    runs.length > 5 ? h("span", { class: "muted" }, `and ${runs.length - 5} more`) : "",
  ];
}

/** A table row standing where a run's sequence numbers are missing. */
function runRow(r, attr, icon, label, ...text) {
  return h(
    "tr",
    { class: "gap-row", [attr]: `${r.tab_id}:${r.from}-${r.to}` },
    h(
      "td",
      { colspan: "6" },
      h("span", { class: "gap-icon", "aria-hidden": "true" }, icon),
      h("strong", {}, label),
      ...text,
    ),
  );
}

function gapText(g) {
  const n = g.to - g.from + 1;
  return `${plural(n, "event")} lost from tab ${shortId(visible(g.tab_id), 10)} (#${g.from}–#${g.to}): ${GAP_REASONS[g.reason] || visible(g.reason)}.`;
}

function unaccountedText(u) {
  const n = u.to - u.from + 1;
  return `${plural(n, "event")} of tab ${shortId(visible(u.tab_id), 10)} not received (#${u.from}–#${u.to}): no batch brought ${n === 1 ? "it" : "them"} and no gap record reports ${n === 1 ? "it" : "them"} lost.`;
}

function renderGapsBanner() {
  const banner = $("gaps-banner");
  if (!t.gaps.length && !t.unaccounted.length) {
    banner.hidden = true;
    return;
  }
  const parts = [];
  if (t.gaps.length) {
    const lost = numbersIn(t.gaps);
    parts.push(
      h("strong", {}, `This trail has ${plural(t.gaps.length, "gap")}: ${plural(lost, "event")} never arrived. `),
      "They are shown as rows where they are missing. ",
      ...runList(t.gaps, gapText),
    );
  }
  if (t.unaccounted.length) {
    const n = numbersIn(t.unaccounted);
    parts.push(
      h("strong", {}, `${plural(n, "event")} not accounted for. `),
      "They may still be on their way (a later page of the site sends a closed tab's saved events), or were lost without a report. ",
      ...runList(t.unaccounted, unaccountedText),
    );
  }
  banner.replaceChildren(...parts);
  banner.hidden = false;
}

function unaccountedRow(u) {
  return runRow(u, "data-unaccounted", "?", "Not received: ", unaccountedText(u));
}

function gapRow(g) {
  return runRow(
    g,
    "data-gap",
    "⚠",
    "Gap: ",
    gapText(g),
    " ",
    h("span", { class: "muted" }, "Reported "),
    timeEl(g.received_at, localMs(g.received_at)),
  );
}

/** Puts each gap's (and each unaccounted run's) row beside the events around
 * the missing sequence numbers. */
function placeGapRows() {
  const body = $("trail").tBodies[0];
  body.querySelectorAll("tr.gap-row").forEach((r) => r.remove());
  const desc = t.params.order === "desc";
  const runs = [...t.gaps.map((g) => [g, gapRow]), ...t.unaccounted.map((u) => [u, unaccountedRow])];
  for (const [g, make] of runs) {
    const row = (seq) => body.querySelector(`tr[data-key="${CSS.escape(`${g.tab_id}/${seq}`)}"]`);
    const before = g.from > 0 ? row(g.from - 1) : null;
    const after = row(g.to + 1);
    if (before) {
      if (desc) before.before(make(g));
      else before.after(make(g));
    } else if (after) {
      if (desc) after.after(make(g));
      else after.before(make(g));
    }
  }
}

// The check covers the chain up to the head the collector read when asked: the
// badge says how many records that was, and once the page knows of more (live
// rows, a summary read later) it says so and offers to check again, rather
// than let "verified" stand for a trail that has grown since.

async function verify() {
  const id = t.id;
  t.check = null;
  $("integrity-badge").replaceChildren(pill("neutral", "Checking integrity…"));
  $("integrity").dataset.valid = "";
  $("integrity").dataset.length = "";
  $("integrity-since").hidden = true;
  $("integrity-recheck").hidden = true;
  try {
    const v = await api(`/sessions/${encodeURIComponent(id)}/verify`);
    if (id !== t.id) return;
    t.check = { ...v, at: Date.now() };
    $("integrity-badge").replaceChildren(
      v.valid
        ? pill(
            "ok",
            `✔ Integrity verified at ${plural(v.length, "record")}`,
            `The hash chain of the ${plural(v.length, "record")} stored when checked (${localS(t.check.at)}) checks out. Head ${v.head}`,
          )
        : pill("bad", `✖ Integrity broken at record ${v.first_broken}`, `${v.reason || "the chain does not check out"}`),
    );
    $("integrity").dataset.valid = v.valid ? "true" : "false";
    $("integrity").dataset.length = v.valid ? String(v.length) : "";
    renderSinceCheck();
  } catch (e) {
    if (id !== t.id || unreadable(e, id)) return;
    $("integrity-badge").replaceChildren(pill("warn", "Integrity not checked", e.message));
    $("integrity").dataset.valid = "";
    $("integrity-recheck").hidden = false;
  }
}

/** Records the page knows the chain holds by now: events and reported gaps. */
function knownRecords() {
  return Math.max(Number((t.summary && t.summary.event_count) || 0), timeline.size) + t.gaps.length;
}

/** Says how many records arrived after a passing check, and offers a new one. */
function renderSinceCheck() {
  const v = t.check;
  if (!v || !v.valid) return;
  const newer = Math.max(0, knownRecords() - v.length);
  const since = $("integrity-since");
  since.textContent = newer ? `${plural(newer, "newer record")} not checked` : "";
  since.hidden = !newer;
  $("integrity-recheck").hidden = !newer;
}

$("integrity-recheck").addEventListener("click", () => {
  if (t.id && !t.gone) verify();
});

// ------------------------------------------------------------------ a session that is not there

/** What only makes sense for a trail that can be read. */
const TRAIL_PARTS = ["trail-live", "integrity", "trail-summary", "trail-actions", "timeline-box", "trail-toolbar", "trail-wrap", "trail-foot"];
const TRAIL_CONTROLS = ["export-ndjson", "export-csv", "follow", "integrity-recheck", "delete-session"];

/**
 * Every read of a trail answers alike for a session that is not there: 404 (never
 * stored, or another tenant's), 400 `bad_session_id` (no session can have that
 * id), 410 (deleted; the answer carries its tombstone). Whichever read hears it
 * first replaces the trail with that state, without the trail's controls.
 * Answers whether `e` was such an answer.
 */
function unreadable(e, id) {
  if (!e || id !== t.id) return false;
  const kind =
    e.status === 410 ? "deleted" : e.status === 404 || (e.status === 400 && e.code === "bad_session_id") ? "missing" : null;
  if (!kind) return false;
  // A tombstone, once shown, stays; the same answer twice changes nothing.
  if (t.gone && (t.gone.kind === "deleted" || kind === "missing")) return true;
  t.gone = { kind, status: e.status, tombstone: e.tombstone || null, message: e.message };
  stopFollow();
  $("follow").checked = false;
  // Answers still on their way are for a trail that is not there.
  t.generation += 1;
  t.timelineGen += 1;
  for (const part of [...TRAIL_PARTS, "gaps-banner", "anchor-banner", "live-new"]) $(part).hidden = true;
  for (const c of TRAIL_CONTROLS) $(c).disabled = true;
  $("trail-summary").replaceChildren();
  $("trail").tBodies[0].replaceChildren();
  clearError();
  const box = $("trail-gone");
  box.replaceChildren(...(kind === "deleted" ? deletedView(t.gone) : missingView(t.gone)));
  box.dataset.kind = kind;
  box.classList.toggle("deleted", kind === "deleted");
  box.hidden = false;
  document.title = `${kind === "deleted" ? "Deleted session" : "No such session"} ${visible(id)} · cotrail review`;
  return true;
}

/** Back to a readable trail's screen (another session was opened). */
function endGone() {
  t.gone = null;
  $("trail-gone").hidden = true;
  $("trail-gone").replaceChildren();
  delete $("trail-gone").dataset.kind;
  for (const part of TRAIL_PARTS) $(part).hidden = false;
  for (const c of TRAIL_CONTROLS) $(c).disabled = false;
  $("integrity-since").hidden = true;
  $("integrity-recheck").hidden = true;
  $("integrity").dataset.valid = "";
  $("integrity").dataset.length = "";
}

const REASONS = { retention: "Retention: no activity for longer than the collector keeps trails" };

function deletedView(g) {
  const ts = g.tombstone;
  const title = h("h2", {}, "This session was deleted");
  if (!ts) return [title, h("p", {}, `Its events are gone. ${visible(g.message)}`)];
  const item = (label, ...value) => h("div", { class: "summary-item" }, h("dt", { class: "label" }, label), h("dd", {}, ...value));
  const events = Number(ts.event_count ?? 0);
  return [
    title,
    h("p", {}, "Its events are gone and cannot be read, followed or exported. This is what the collector kept:"),
    h(
      "dl",
      { class: "summary tombstone" },
      item("Deleted", timeEl(ts.deleted_at, localMs(ts.deleted_at))),
      item("Why", REASONS[ts.reason] || visible(String(ts.reason ?? ""))),
      item("Events it held", events.toLocaleString()),
      item("Chain length", plural(Number(ts.chain_length ?? 0), "record")),
      item("Chain head", h("code", { class: "chain-head", id: "tombstone-head" }, visible(String(ts.chain_head ?? "")))),
    ),
    h(
      "p",
      { class: "small muted" },
      `An export made before the deletion holds the whole trail if its last line (NDJSON) or last row (CSV) names this chain head and ${plural(events, "event")}.`,
    ),
  ];
}

function missingView(g) {
  const why =
    g.status === 400
      ? `No session can have this id: ${visible(g.message)}.`
      : "There is no session with this id that you can read: the link may be mistyped or cut short, or the session belongs to another tenant. " +
        "A session is also not here before its first events arrive.";
  return [h("h2", {}, "No such session"), h("p", {}, why), h("p", {}, h("a", { href: "#/" }, "Go to all sessions"))];
}

// ------------------------------------------------------------------ timeline

async function loadTimeline() {
  const gen = ++t.timelineGen;
  const id = t.id;
  timeline.reset();
  $("timeline-status").textContent = "Loading…";
  let cursor = null;
  try {
    do {
      const page = await api(`/sessions/${encodeURIComponent(id)}/events`, { limit: TIMELINE_PAGE, cursor, order: "asc" });
      if (gen !== t.timelineGen) return;
      timeline.add(page.events || []);
      renderSinceCheck();
      cursor = page.next_cursor || null;
      $("timeline-status").textContent = cursor ? `${timeline.size.toLocaleString()} events read…` : "";
    } while (cursor && timeline.size < TIMELINE_MAX);
    if (cursor) $("timeline-status").textContent = `showing the first ${timeline.size.toLocaleString()} events`;
    timeline.render();
  } catch (e) {
    if (gen !== t.timelineGen || unreadable(e, id)) return;
    $("timeline-status").textContent = `Timeline incomplete: ${e.message}`;
  }
}

/** From the timeline: show this event in the table, loading its page if needed. */
function jumpTo(target) {
  const row = rowFor(target.key);
  if (row) {
    focusRow(row);
    return;
  }
  // Not on the page shown: show the trail from that moment (oldest first from
  // it, or newest first up to it), dropping filters that would hide it.
  const p = { ...t.params, at: String(target.ts) };
  if (p.type && p.type !== target.type) p.type = "";
  if (p.actor && p.actor !== target.actor) p.actor = "";
  t.focusKey = target.key;
  navigate(hashFor("trail", p, t.id));
}

function rowFor(key) {
  return $("trail").tBodies[0].querySelector(`tr[data-key="${CSS.escape(key)}"]`);
}

function focusRow(row) {
  row.scrollIntoView({ block: "center" });
  row.focus({ preventScroll: true });
  row.classList.remove("picked");
  // Restart the highlight animation.
  void row.offsetWidth;
  row.classList.add("picked");
}

// ------------------------------------------------------------------ rows

function elementEl(target) {
  if (!target || typeof target !== "object") return muted("—");
  const id = target.id ? visible(target.id) : "";
  const name = target.name ? visible(target.name) : "";
  const tag = target.tag ? visible(target.tag) : "?";
  const main = id ? `#${id}` : name ? `${tag}[name="${name}"]` : `<${tag}>`;
  const wrap = h("div", { class: "element" });
  wrap.append(h("code", { class: "el-main" }, main));
  if (id && name && name !== id) wrap.append(h("span", { class: "el-name" }, `name="${name}"`));
  if (target.label) wrap.append(h("span", { class: "el-label" }, "“", foldText(target.label, "label-text"), "”"));
  if (target.path) wrap.append(h("code", { class: "el-path", title: visible(target.path) }, visible(target.path)));
  return wrap;
}

function pageEl(data) {
  const wrap = h("div", { class: "page" });
  wrap.append(h("span", { class: "page-title" }, data.title ? foldText(data.title, "title-text") : "(untitled page)"));
  if (data.url) wrap.append(h("span", { class: "page-url", title: visible(data.url) }, visible(data.url)));
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
      return data.target ? elementEl(data.target) : muted("—");
    case "CUSTOM_EVENT":
      return h("span", { class: "muted", title: "Sent by page code through recordCustom()" }, "recordCustom()");
    default:
      return elementEl(data.target);
  }
}

function jsonText(value) {
  try {
    return JSON.stringify(value, null, value && typeof value === "object" && JSON.stringify(value).length > 80 ? 2 : 0);
  } catch {
    return String(value);
  }
}

function maskedBadge(reason) {
  return h(
    "span",
    { class: "masked", title: "The value never left the customer's browser" },
    `•••• masked (${MASK_NAMES[reason] || visible(reason || "private")})`,
  );
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
        wrap.append(h("span", { class: `checked ${data.checked ? "on" : "off"}` }, data.checked ? "☑ checked" : "☐ unchecked"));
      }
      if (typeof data.value === "string") wrap.append(data.value === "" ? muted("(empty)") : foldText(data.value));
      if (!wrap.childNodes.length) wrap.append(muted("—"));
      break;
    case "FORM": {
      const method = data.method ? visible(String(data.method).toUpperCase()) : "";
      wrap.append(h("span", { class: "kv" }, method ? h("strong", {}, method, " ") : "", data.action ? visible(data.action) : muted("(no action)")));
      break;
    }
    case "SELECTION":
      if (data.masked) wrap.append(maskedBadge(data.masked));
      else if (typeof data.text === "string" && data.text !== "") wrap.append(foldText(data.text, "value quote"));
      else wrap.append(muted("(nothing selected)"));
      break;
    case "CUSTOM_EVENT":
      wrap.append(
        h("strong", { class: "custom-type" }, data.type != null ? visible(data.type) : "(no type)"),
        foldText(jsonText(data.value), "json"),
      );
      break;
    case "PAGE-CHANGE":
      wrap.append(h("span", { class: "nav" }, NAV_NAMES[data.nav] || visible(data.nav || "")));
      break;
    case "CLICK":
      wrap.append(muted("—"));
      break;
    default:
      wrap.append(foldText(jsonText(data), "json"));
  }
  return wrap;
}

function eventRow(e, fresh = false) {
  const type = String(e.type);
  const ts = typeof e.ts === "number" ? e.ts : e.received_at;
  const when = h(
    "td",
    { class: "when", "data-label": "When" },
    timeEl(ts, localMs(ts)),
    h(
      "span",
      { class: "seq", title: `tab ${visible(e.tab_id)}, seq ${e.seq}, ${e.mono} ms after the page started\nreceived by the collector ${iso(e.received_at)}` },
      `tab ${shortId(visible(e.tab_id), 6)} · #${e.seq}`,
    ),
  );
  return h(
    "tr",
    {
      "data-key": keyOf(e),
      "data-type": type,
      "data-actor": actorKind(e.actor),
      "data-seq": String(e.seq),
      "data-tab-id": String(e.tab_id),
      "data-ts": String(ts),
      tabindex: "-1",
      class: `${typeClass(type)}${fresh ? " fresh" : ""}`,
    },
    when,
    h("td", { "data-label": "Type" }, typeBadge(type)),
    h("td", { "data-label": "Actor" }, actorBadge(e.actor)),
    h("td", { "data-label": "Element or page" }, targetCell(type, e.data)),
    h("td", { "data-label": "Data" }, dataCell(type, e.data)),
    h("td", { "data-label": "Origin" }, originEl(e.origin)),
  );
}

// ------------------------------------------------------------------ pages

function query(extra = {}) {
  const p = t.params;
  const q = { limit: PAGE, type: p.type, actor: p.actor, order: p.order, cursor: t.pager.cursor, ...extra };
  if (p.at) {
    if (p.order === "asc") q.from = p.at;
    else q.to = p.at;
  }
  return q;
}

async function loadPage() {
  const gen = ++t.generation;
  const id = t.id;
  $("trail-status").textContent = "Loading…";
  // Not before this page answered: "next" would take the page before's cursor.
  $("trail-next").disabled = true;
  try {
    let events = [];
    let cursor = t.pager.cursor;
    for (let requests = 1; ; requests++) {
      const page = await api(
        `/sessions/${encodeURIComponent(id)}/events`,
        query({ limit: PAGE - events.length, cursor }),
      );
      if (gen !== t.generation) return;
      events = events.concat(page.events || []);
      cursor = page.next_cursor || null;
      if (!cursor || events.length >= PAGE || requests >= MAX_FILL_REQUESTS) break;
      $("trail-status").textContent = `Searching… ${events.length.toLocaleString()} found so far`;
    }
    t.pager.next = cursor;
    t.keys = new Set(events.map(keyOf));
    t.liveRows = 0;
    t.pendingNew = 0;
    $("trail").tBodies[0].replaceChildren(...events.map((e) => eventRow(e)));
    placeGapRows();
    renderStatus(events.length);
    renderAnchor();
    renderPendingNew();
    clearError();
    if (t.scrollOnLoad) {
      t.scrollOnLoad = false;
      $("trail").scrollIntoView({ block: "start" });
    }
    if (t.focusKey) {
      const row = rowFor(t.focusKey);
      t.focusKey = null;
      if (row) focusRow(row);
    }
    // Shown to the test harness and to people waiting on the table.
    $("trail").dataset.loaded = String(gen);
  } catch (e) {
    if (gen !== t.generation) return;
    t.scrollOnLoad = false;
    $("trail-status").textContent = "";
    if (unreadable(e, id)) return;
    showError(e, `Could not load the trail of session ${visible(id)}`);
  }
}

function filtered() {
  return Boolean(t.params.type || t.params.actor);
}

function renderStatus(count = $("trail").tBodies[0].querySelectorAll("tr[data-key]").length) {
  const first = t.pager.page * PAGE + 1;
  // Live events arrive before the summary is read again: the timeline has
  // counted them already.
  const known = Math.max(Number((t.summary && t.summary.event_count) || 0), timeline.size);
  const total = known && !filtered() && !t.params.at ? ` of ${known.toLocaleString()}` : "";
  const what = filtered() ? " matching the filters" : "";
  $("trail-status").textContent = count
    ? `Events ${first.toLocaleString()}–${(first + count - 1).toLocaleString()}${total}${what}`
    : "";
  $("trail-page").textContent = `Page ${t.pager.page + 1}`;
  t.pager.renderPrev($("trail-prev"), "← Previous");
  $("trail-next").disabled = !t.pager.next;
  const empty = $("trail-empty");
  empty.hidden = count > 0;
  if (!count) {
    empty.textContent = filtered()
      ? t.pager.next
        ? "No matching events among those searched so far; “Next” searches on."
        : "No events in this session match these filters."
      : t.params.at
        ? "No events from this moment on."
        : "No events recorded in this session yet. Keep “Follow live” on to see them arrive.";
  }
}

function renderAnchor() {
  const at = t.params.at;
  $("anchor-banner").hidden = !at;
  if (at) {
    $("anchor-text").textContent =
      t.params.order === "asc"
        ? `Showing events from ${localMs(Number(at))} on (picked on the timeline).`
        : `Showing events up to ${localMs(Number(at))} (picked on the timeline).`;
  }
}

function update(change) {
  navigate(hashFor("trail", { ...t.params, ...change }, t.id));
}

$("filter-type").addEventListener("change", (e) => update({ type: e.target.value }));
$("filter-actor").addEventListener("change", (e) => update({ actor: e.target.value }));
$("order").addEventListener("change", (e) => update({ order: e.target.value, at: "" }));
$("anchor-clear").addEventListener("click", () => update({ at: "" }));
$("trail-prev").addEventListener("click", () => {
  if (t.pager.page === 0) return;
  t.scrollOnLoad = true;
  update(t.pager.prevParams());
});
$("trail-next").addEventListener("click", () => {
  if (!t.pager.next) return;
  t.scrollOnLoad = true;
  update(t.pager.nextParams());
});

// ------------------------------------------------------------------ live

function matches(e) {
  if (t.params.type && e.type !== t.params.type) return false;
  if (t.params.actor && actorKind(e.actor) !== t.params.actor) return false;
  return true;
}

/** Whether new events belong on the page shown. */
function atLiveEnd() {
  return t.params.order === "asc" ? !t.pager.next : t.pager.page === 0 && !t.params.at;
}

function readerAtBottom() {
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 48;
}

function addLive(events) {
  const fresh = events.filter((e) => !t.keys.has(keyOf(e)));
  for (const e of fresh) t.keys.add(keyOf(e));
  const mine = fresh.filter(matches);
  if (!mine.length) return;
  if (!atLiveEnd() || t.liveRows + mine.length > MAX_LIVE_ROWS) {
    t.pendingNew += mine.length;
    renderPendingNew();
    return;
  }
  t.liveRows += mine.length;
  const body = $("trail").tBodies[0];
  const wasAtBottom = readerAtBottom();
  if (t.params.order === "asc") {
    body.append(...mine.map((e) => eventRow(e, true)));
    // Follow the new rows only when the reader was already at the end; anyone
    // reading further up keeps their place (rows are added below them).
    if (wasAtBottom) window.scrollTo({ top: document.documentElement.scrollHeight });
  } else {
    // Newest first: new rows go on top. The browser's scroll anchoring keeps a
    // reader who scrolled down looking at the same rows.
    body.prepend(...mine.slice().reverse().map((e) => eventRow(e, true)));
  }
  $("trail-empty").hidden = true;
  renderStatus();
}

function renderPendingNew() {
  const b = $("live-new");
  b.hidden = !t.pendingNew;
  b.textContent = t.pendingNew ? `${plural(t.pendingNew, "new event")} · show the newest` : "";
}

$("live-new").addEventListener("click", () => {
  t.pendingNew = 0;
  renderPendingNew();
  // The newest are the first page newest first: loaded again where it is
  // shown already, gone to otherwise.
  if (t.params.order === "desc" && !t.params.at && t.pager.page === 0) loadPage();
  else update({ order: "desc", at: "" });
});

function followState(state, detail) {
  const el = $("follow-state");
  if (state === "open") el.replaceChildren(pill("live", "● following", "New events appear as they are stored"));
  else if (state === "retrying") el.replaceChildren(pill("warn", "reconnecting…", detail || ""));
  else if (state === "closed") el.replaceChildren(detail ? pill("bad", "stopped", detail) : "");
  else el.replaceChildren();
  el.dataset.state = state;
}

function startFollow() {
  stopFollow();
  const id = t.id;
  let first = true;
  t.stopLive = followLive(id, {
    onEvent(rec) {
      if (id !== t.id) return;
      timeline.add([rec]);
      addLive([rec]);
      renderSinceCheck();
      scheduleSummary();
    },
    onState(state, detail, err) {
      if (id !== t.id) return;
      // Deleted while followed: the stream's 410 carries the tombstone.
      if (state === "closed" && unreadable(err, id)) return;
      followState(state, detail);
      if (state === "open" && first) {
        first = false;
        // Away from the live end nothing is shown as it arrives anyway.
        if (atLiveEnd()) catchUp(id);
      }
    },
  });
}

/**
 * The stream starts with the next event stored; anything stored between the
 * page load and the stream's start is fetched once here (duplicates are
 * dropped by key).
 */
async function catchUp(id) {
  try {
    const page = await api(`/sessions/${encodeURIComponent(id)}/events`, { limit: PAGE, order: "desc" });
    if (id !== t.id) return;
    const events = (page.events || []).slice().reverse();
    timeline.add(events);
    addLive(events);
    renderSinceCheck();
  } catch {
    // The stream itself still runs.
  }
}

function stopFollow() {
  if (t.stopLive) t.stopLive();
  t.stopLive = null;
  followState("off");
}

function scheduleSummary() {
  if (t.summaryTimer) return;
  t.summaryTimer = setTimeout(() => {
    t.summaryTimer = null;
    if (t.id) loadSummary();
  }, 3000);
}

$("follow").addEventListener("change", (e) => {
  if (e.target.checked && t.id && !t.gone) startFollow();
  else stopFollow();
});

// ------------------------------------------------------------------ export

async function exportAs(format) {
  const id = t.id;
  const btn = $(`export-${format}`);
  btn.disabled = true;
  $("export-status").textContent = `Preparing the ${format.toUpperCase()} export…`;
  try {
    const { name, bytes } = await download(`/sessions/${encodeURIComponent(id)}/export`, { format }, `cotrail-${id}.${format}`);
    $("export-status").textContent = `Downloaded ${name} (${(bytes / 1024).toFixed(1)} KB).`;
  } catch (e) {
    $("export-status").textContent = "";
    if (unreadable(e, id)) return;
    showError(e, "The export failed");
  } finally {
    if (!t.gone) btn.disabled = false;
  }
}

// ------------------------------------------------------------------ delete

/** Admins: deletes the session for good, after asking, and shows its tombstone. */
async function deleteSession() {
  const id = t.id;
  if (!id || t.gone) return;
  const ok = window.confirm(
    `Delete session ${visible(id)} for good?\n\nIts events are erased and cannot be read or exported again. ` +
      "A tombstone (who deleted it, when, and its chain head) stays, and the deletion is recorded in the activity log.",
  );
  if (!ok) return;
  const btn = $("delete-session");
  btn.disabled = true;
  try {
    const tombstone = await api(`/sessions/${encodeURIComponent(id)}`, {}, { method: "DELETE" });
    unreadable({ status: 410, code: "session_deleted", tombstone, message: "" }, id);
  } catch (e) {
    // Deleted meanwhile (by another admin, or retention): that tombstone.
    if (!unreadable(e, id)) showError(e, "The session could not be deleted");
  } finally {
    if (!t.gone) btn.disabled = false;
  }
}

$("delete-session").addEventListener("click", deleteSession);
$("export-ndjson").addEventListener("click", () => exportAs("ndjson"));
$("export-csv").addEventListener("click", () => exportAs("csv"));
