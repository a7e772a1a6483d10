// Activity log screen (admins): platform records and the collector's own
// trail-access records, newest first, as in the peer screen of SEEDS.md §3:
// When, Entity, Action, Actor, Origin, Change (before → after of the fields
// that changed). Agents get a plain "admins only" notice.

import { $, FOLD_CHARS, foldText, fromLocalInput, h, localMs, localS, muted, originEl, pill, plural, timeEl, toLocalInput, visible } from "./dom.js";
import { ApiError, api, auth } from "./api.js";
import { Pager, clearError, hashFor, navigate, showError } from "./shell.js";

const PAGE = 50;

/** The product document's names for the 14 platform record types. */
export const RECORD_TYPES = {
  START_CALL: "[Call] Start",
  MESSENGER_SEND: "[Messenger] Send message",
  LIVE_VIEW: "[LiveView] joined",
  LOGGED_IN: "[Account] Logged in",
  ONLINE_STATUS_ONLINE: "[Agent] Go Online",
  ONLINE_STATUS_OFFLINE: "[Agent] Go Offline",
  STATUS_CHANGE: "[Chat] Status changed",
  ROLE_CHANGE: "[Roles] changed",
  PERMISSION_CHANGE: "[Permissions] changed",
  PLUGIN_CHANGE: "[Plugin] changed",
  SETTINGS_CHANGE: "[Settings] changed",
  MEETING_CHANGE: "[Meeting] changed",
  CONFERENCE_AGENT: "[Meeting] Agent joined",
  CONFERENCE_RECORDING: "[Meeting] Recording started",
};

const ACCESS_ACTIONS = {
  "session.viewed": "Trail viewed",
  "session.exported": "Trail exported",
  "session.verified": "Trail integrity checked",
  "session.deleted": "Trail deleted",
  "sessions.listed": "Sessions listed",
  "sessions.checkpointed": "Trails checkpointed",
};

/** Filter value for the collector's own records (they have no type). */
const COLLECTOR = "collector";

const state = { params: {}, pager: new Pager(), generation: 0, shown: false };

for (const [type, name] of Object.entries(RECORD_TYPES)) {
  $("activity-type").append(h("option", { value: type }, `${type} · ${name}`));
}
$("activity-type").append(h("option", { value: COLLECTOR }, "Trail access and checkpoints (viewed, exported, …)"));

function filtersFromRoute(p) {
  return {
    type: p.type && (RECORD_TYPES[p.type] || p.type === COLLECTOR) ? p.type : "",
    user: p.user || "",
    from: /^\d+$/.test(p.from || "") ? p.from : "",
    to: /^\d+$/.test(p.to || "") ? p.to : "",
  };
}

export function show(route) {
  const params = filtersFromRoute(route.params);
  state.pager.take(JSON.stringify(params), route.params);
  if (state.pager.stray) history.replaceState(null, "", hashFor("activity", params));
  state.params = params;
  state.shown = true;
  document.title = "Activity log · cotrail review";
  $("activity-type").value = params.type;
  $("activity-user").value = params.user;
  $("activity-from").value = toLocalInput(params.from);
  $("activity-to").value = toLocalInput(params.to);
  if (auth.role === "agent") {
    denied();
    return;
  }
  load();
}

export function hide() {
  state.shown = false;
  state.generation += 1;
  // The answer was for this account's log, as it was then.
  forgetCheck();
}

function denied() {
  $("activity-denied").hidden = false;
  $("activity-filters").hidden = true;
  $("activity-wrap").hidden = true;
  $("activity-foot").hidden = true;
}

function allowed() {
  $("activity-denied").hidden = true;
  $("activity-filters").hidden = false;
  $("activity-wrap").hidden = false;
  $("activity-foot").hidden = false;
}

// ------------------------------------------------------------------ cells

function valueText(v) {
  if (v === undefined) return "—";
  if (typeof v === "string") return JSON.stringify(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** A value in a diff; long ones scroll inside their box, all of it readable. */
function diffValue(v, cls) {
  return codeOrFold(valueText(v), `dv ${cls}`);
}

/** A value's text; long ones fold as in a trail: a preview, the whole on demand. */
function codeOrFold(text, cls) {
  if (text.length > FOLD_CHARS || text.includes("\n")) return foldText(text, cls);
  return h("code", { class: cls, title: visible(text) }, visible(text));
}

/**
 * The change as one line per changed field: `field: before → after`. A field
 * only before was removed; only after, added (created things have no before).
 */
export function changeEl(change) {
  const before = (change && change.before) || null;
  const after = (change && change.after) || null;
  const fields = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  const list = h("ul", { class: "diff" });
  for (const f of fields) {
    const has = (side) => side && Object.prototype.hasOwnProperty.call(side, f);
    const li = h("li", { "data-field": f }, h("span", { class: "field" }, visible(f)), ": ");
    if (has(before) && has(after)) {
      li.append(diffValue(before[f], "before"), h("span", { class: "arrow", "aria-label": "changed to" }, " → "), diffValue(after[f], "after"));
    } else if (has(after)) {
      li.append(h("span", { class: "tag added" }, "set"), " ", diffValue(after[f], "after"));
    } else {
      li.append(diffValue(before[f], "before"), " ", h("span", { class: "tag removed" }, "removed"));
    }
    list.append(li);
  }
  return list;
}

/** What a record without a change carries: its type's data, field by field. */
function dataEl(data) {
  if (!data || typeof data !== "object") return muted("—");
  const list = h("ul", { class: "data-fields" });
  for (const [k, v] of Object.entries(data)) {
    list.append(h("li", {}, h("span", { class: "field" }, visible(k)), ": ", codeOrFold(typeof v === "string" ? v : valueText(v), "dv")));
  }
  return list.childNodes.length ? list : muted("—");
}

function sessionLink(id) {
  return h("a", { href: hashFor("trail", {}, id), class: "session-link", title: "Open this session's trail" }, visible(id));
}

/** A session list's query (`q=…&agent=true&from=…`) as a reader says it. */
function listingText(query) {
  if (query === "*") return "all";
  let params;
  try {
    params = new URLSearchParams(query);
  } catch (_) {
    return visible(query);
  }
  const parts = [];
  const when = (v) => {
    const n = Number(v);
    return Number.isFinite(n) ? localMs(n) : visible(v);
  };
  for (const [k, v] of params) {
    if (k === "q") parts.push(`search “${visible(v)}”`);
    else if (k === "agent") parts.push(v === "true" ? "an agent took part" : v === "false" ? "no agent took part" : `agent=${visible(v)}`);
    else if (k === "from") parts.push(`active after ${when(v)}`);
    else if (k === "to") parts.push(`active before ${when(v)}`);
    else if (k === "cursor" || k === "limit") continue;
    else parts.push(`${visible(k)}=${visible(v)}`);
  }
  return parts.length ? parts.join(" · ") : "all";
}

function entityEl(r) {
  const e = r.entity;
  const wrap = h("div", { class: "entity" });
  if (e) {
    const kind = visible(e.kind);
    const label = `${kind.charAt(0).toUpperCase()}${kind.slice(1)}`;
    wrap.append(h("span", { class: "entity-kind" }, label), " ");
    if (e.kind === "session") wrap.append(sessionLink(e.id));
    // A listing's id is its search (`*`: none), a query string: said in words.
    else if (e.kind === "sessions") wrap.append(h("span", { class: "entity-id", title: visible(e.id) }, listingText(e.id)));
    // A checkpoint's id is how many trails it names.
    else if (e.kind === "trails") wrap.append(h("span", { class: "entity-id" }, `${visible(e.id)} ${e.id === "1" ? "trail" : "trails"}`));
    else wrap.append(h("code", { class: "entity-id" }, `#${visible(e.id)}`));
  }
  // A LIVE_VIEW names the co-browsing session joined: link to its trail.
  if (r.type === "LIVE_VIEW" && r.data && r.data.session_id && !(e && e.kind === "session" && e.id === r.data.session_id)) {
    wrap.append(h("span", { class: "entity-kind" }, "Session"), " ", sessionLink(r.data.session_id));
  }
  if (!wrap.childNodes.length) wrap.append(muted("—"));
  return wrap;
}

function actionEl(r) {
  const wrap = h("div", { class: "action" });
  if (r.source === "collector") {
    wrap.append(h("span", { class: "action-text" }, ACCESS_ACTIONS[r.action] || visible(r.action || "")));
    wrap.append(h("span", { class: "badge rtype rtype-access" }, visible(r.action || "access")));
  } else {
    wrap.append(h("span", { class: "action-text" }, r.action ? visible(r.action) : RECORD_TYPES[r.type] || visible(r.type || "")));
    if (r.type) wrap.append(h("span", { class: "badge rtype", title: RECORD_TYPES[r.type] || "" }, visible(r.type)));
  }
  return wrap;
}

const ACTOR_NAMES = { user: "User", api: "API", system: "System", ai: "AI" };

function actorEl(r) {
  const kind = String(r.actor || "");
  return h(
    "div",
    { class: "who-cell" },
    h("span", { class: `badge ractor ractor-${kind.replace(/[^a-z]/g, "")}` }, ACTOR_NAMES[kind] || visible(kind)),
    h("span", { class: "user-id", title: "The tenant user the record names" }, visible(r.user_id || "")),
  );
}

/**
 * A checkpoint: each trail's chain length and head then, folded (one entry
 * names up to 500 trails).
 */
function checkpointEl(after) {
  const ids = Object.keys(after);
  const list = h("ul", { class: "diff checkpoint" });
  const noun = ids.length === 1 ? "trail" : "trails";
  const fold = h("details", { class: "checkpoint" }, h("summary", {}, `Chain length and head of ${ids.length} ${noun}`));
  // Built when first opened: a page of checkpoints may name thousands of trails.
  fold.addEventListener("toggle", () => {
    if (!fold.open || list.isConnected) return;
    for (const id of ids) {
      const pin = after[id] || {};
      const head = visible(String(pin.head || ""));
      const n = Number(pin.length);
      list.append(
        h("li", { "data-field": id }, sessionLink(id), ": ", h("code", { class: "dv after", title: `chain head ${head}` }, `${n} ${n === 1 ? "record" : "records"} · head ${head.slice(0, 12)}…`)),
      );
    }
    fold.append(list);
  });
  return fold;
}

function changeCell(r) {
  if (r.source === "collector" && r.action === "sessions.checkpointed" && r.change && r.change.after) return checkpointEl(r.change.after);
  if (r.change && (r.change.before || r.change.after)) return changeEl(r.change);
  // A record that changed nothing: what it carries, said to be its data.
  if (r.data) return h("div", { class: "no-change", title: "What the record carries (it changed nothing)" }, muted("Data"), dataEl(r.data));
  return muted("—");
}

function recordRow(r) {
  return h(
    "tr",
    { "data-type": r.type || r.action || "", "data-source": r.source },
    h("td", { class: "when", "data-label": "When" }, timeEl(r.occurred_at, localMs(r.occurred_at))),
    h("td", { "data-label": "Entity" }, entityEl(r)),
    h("td", { "data-label": "Action" }, actionEl(r)),
    h("td", { "data-label": "Actor" }, actorEl(r)),
    h("td", { "data-label": "Origin" }, originEl(r.origin)),
    h("td", { class: "change", "data-label": "Change" }, changeCell(r)),
  );
}

// ------------------------------------------------------------------ loading

async function load() {
  const gen = ++state.generation;
  // Not before this page answered: "next" would take the page before's cursor.
  $("activity-next").disabled = true;
  const p = state.params;
  $("activity-status").textContent = "Loading…";
  const q = { limit: PAGE, cursor: state.pager.cursor, user: p.user, from: p.from, to: p.to };
  if (p.type === COLLECTOR) q.source = "collector";
  else if (p.type) q.type = p.type;
  try {
    const page = await api("/audit", q);
    if (gen !== state.generation) return;
    allowed();
    const records = page.records || [];
    const pager = state.pager;
    pager.next = page.next_cursor || null;
    $("activity").tBodies[0].replaceChildren(...records.map(recordRow));
    const empty = $("activity-empty");
    empty.hidden = records.length > 0;
    empty.textContent = p.type || p.user || p.from || p.to ? "No record matches these filters." : "No activity recorded yet.";
    const first = pager.page * PAGE + 1;
    $("activity-status").textContent = records.length ? `Records ${first}–${first + records.length - 1}, newest first` : "";
    $("activity-page").textContent = `Page ${pager.page + 1}`;
    pager.renderPrev($("activity-prev"), "← Newer");
    $("activity-next").disabled = !pager.next;
    clearError();
    $("activity").dataset.loaded = String(gen);
  } catch (e) {
    if (gen !== state.generation) return;
    $("activity-status").textContent = "";
    if (e instanceof ApiError && e.status === 403) denied();
    else showError(e, "Could not load the activity log");
  }
}

function applyFilters(change) {
  navigate(hashFor("activity", { ...state.params, ...change }));
}

let typing = null;
$("activity-user").addEventListener("input", (e) => {
  clearTimeout(typing);
  typing = setTimeout(() => applyFilters({ user: e.target.value.trim() }), 400);
});
$("activity-filters").addEventListener("submit", (e) => {
  e.preventDefault();
  clearTimeout(typing);
  applyFilters({ user: $("activity-user").value.trim() });
});
$("activity-type").addEventListener("change", (e) => applyFilters({ type: e.target.value }));
$("activity-from").addEventListener("change", (e) => applyFilters({ from: fromLocalInput(e.target.value) ?? "" }));
$("activity-to").addEventListener("change", (e) => {
  const t = fromLocalInput(e.target.value);
  applyFilters({ to: t === undefined ? "" : t + 59_999 });
});
$("activity-clear").addEventListener("click", () => navigate(hashFor("activity", {})));
$("activity-refresh").addEventListener("click", () => load());
$("activity-prev").addEventListener("click", () => {
  if (state.pager.page > 0) applyFilters(state.pager.prevParams());
});
$("activity-next").addEventListener("click", () => {
  if (state.pager.next) applyFilters(state.pager.nextParams());
});
// The whole log's chain, on request: it reads every entry of the tenant.
let checking = 0;
/** Forgets a check's answer (another account, another screen). */
function forgetCheck() {
  checking += 1;
  const out = $("activity-integrity");
  out.dataset.valid = "";
  out.replaceChildren();
  $("activity-verify").disabled = false;
}
$("activity-verify").addEventListener("click", async () => {
  const mine = ++checking;
  const out = $("activity-integrity");
  out.dataset.valid = "";
  out.replaceChildren(pill("neutral", "Checking integrity…"));
  // One check at a time: it reads the whole log.
  $("activity-verify").disabled = true;
  try {
    const v = await api("/audit/verify");
    if (mine !== checking) return;
    const at = localS(Date.now());
    out.replaceChildren(
      v.valid
        ? pill(
            "ok",
            `✔ Log verified at ${plural(v.length, "entry", "entries")}`,
            `The hash chain of the ${plural(v.length, "entry", "entries")} stored when checked (${at}) checks out. Head ${v.head}`,
          )
        : v.session_id
          ? // The log holds; a trail one of its checkpoints names does not.
            pill("bad", `✖ Trail ${visible(v.session_id)} no longer holds its checkpoint`, `${v.reason || "the trail does not check out"} (the checkpoint is entry ${v.first_broken} of the log, counting from 0 in the order stored)`)
          : pill("bad", `✖ Log broken at chain position ${v.first_broken}`, `${v.reason || "the chain does not check out"} (positions count entries in the order they were stored, from 0)`),
    );
    out.dataset.valid = v.valid ? "true" : "false";
  } catch (e) {
    if (mine !== checking) return;
    out.replaceChildren(pill("warn", "Integrity not checked", e.message));
  } finally {
    if (mine === checking) $("activity-verify").disabled = false;
  }
});
$("activity-switch").addEventListener("click", () => {
  // Signing in again comes back here.
  auth.clear();
  navigate("#/activity?switch=1");
});
