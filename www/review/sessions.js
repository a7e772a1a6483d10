// Sessions screen: the tenant's co-browsing sessions, newest first, filtered
// by the collector (text in the id or a visited URL, agent involvement, time
// window) and paged with its cursors.

import { $, actorBadge, duration, fromLocalInput, h, localS, muted, originEl, pill, sessionSpan, timeEl, toLocalInput, visible } from "./dom.js";
import { api } from "./api.js";
import { Pager, clearError, hashFor, navigate, showError } from "./shell.js";

const PAGE = 25;
/** A session whose latest batch is this recent is shown as live. */
export const LIVE_WINDOW_MS = 30_000;
/** The first page refreshes this often while shown, so live badges stay true. */
const REFRESH_MS = 10_000;

const state = {
  params: {},
  pager: new Pager(),
  generation: 0,
  timer: null,
  shown: false,
};

export function isLive(s, now = Date.now()) {
  return now - s.last_seen < LIVE_WINDOW_MS;
}

function filtersFromRoute(params) {
  return {
    q: params.q || "",
    agent: params.agent === "true" || params.agent === "false" ? params.agent : "",
    from: params.from || "",
    to: params.to || "",
  };
}

function syncInputs() {
  $("sessions-q").value = state.params.q;
  $("sessions-agent").value = state.params.agent;
  $("sessions-from").value = toLocalInput(state.params.from);
  $("sessions-to").value = toLocalInput(state.params.to);
}

export function show(route) {
  const params = filtersFromRoute(route.params);
  state.params = params;
  state.shown = true;
  document.title = "Sessions · cotrail review";
  syncInputs();
  state.pager.take(JSON.stringify(params), route.params);
  if (state.pager.stray) history.replaceState(null, "", hashFor("sessions", params));
  load();
  clearInterval(state.timer);
  state.timer = setInterval(() => {
    if (!document.hidden && state.pager.page === 0) load({ quiet: true });
  }, REFRESH_MS);
}

export function hide() {
  state.shown = false;
  state.generation += 1;
  clearInterval(state.timer);
  state.timer = null;
  // A search still waiting for typing to pause must not bring the list back.
  clearTimeout(typing);
}

function sessionRow(s, now) {
  const href = hashFor("trail", {}, s.session_id);
  const actors = s.actors || [];
  const agentTookPart = actors.includes("agent");
  const live = isLive(s, now);
  const span = sessionSpan(s);
  const row = h(
    "tr",
    { "data-session-id": s.session_id, "data-live": live ? "1" : null, "data-agent": agentTookPart ? "1" : "0" },
    h(
      "td",
      { class: "sid", "data-label": "Session" },
      h("a", { href, title: `Open the trail of session ${visible(s.session_id)}` }, visible(s.session_id)),
      live ? pill("live", "● live", "Events arrived in the last 30 seconds") : "",
    ),
    h("td", { class: "time", "data-label": "Started" }, timeEl(span.start, localS(span.start))),
    h("td", { class: "time", "data-label": "Duration" }, duration(span.ms)),
    h("td", { class: "num", "data-label": "Page views" }, String(s.page_changes ?? 0)),
    h(
      "td",
      { class: "num", "data-label": "Events" },
      Number(s.event_count ?? 0).toLocaleString(),
      s.lost_events ? h("span", { class: "lost", title: "Events the recorder reported lost" }, ` (${s.lost_events} lost)`) : "",
    ),
    h(
      "td",
      { class: "actors", "data-label": "Who took part" },
      ...(actors.length ? actors.map((k) => actorBadge({ kind: k })) : [muted("—")]),
    ),
    h("td", { "data-label": "Origin" }, originEl(s.origin)),
    h(
      "td",
      { class: "url", "data-label": "Last page" },
      s.last_url ? h("span", { title: visible(s.last_url) }, visible(s.last_url)) : muted("—"),
    ),
  );
  // The whole row opens the trail; the link inside stays the keyboard path.
  row.addEventListener("click", (ev) => {
    if (ev.target instanceof Element && ev.target.closest("a, button, details")) return;
    if (String(getSelection())) return;
    navigate(href);
  });
  return row;
}

function filtered() {
  const p = state.params;
  return Boolean(p.q || p.agent || p.from || p.to);
}

async function load({ quiet = false } = {}) {
  const gen = ++state.generation;
  // Not before this page answered: "next" would take the page before's cursor.
  if (!quiet) $("sessions-next").disabled = true;
  if (!quiet) $("sessions-status").textContent = "Loading…";
  const p = state.params;
  try {
    const page = await api("/sessions", {
      limit: PAGE,
      cursor: state.pager.cursor,
      q: p.q,
      agent: p.agent,
      from: p.from,
      to: p.to,
    });
    if (gen !== state.generation) return;
    const list = page.sessions || [];
    const pager = state.pager;
    pager.next = page.next_cursor || null;
    const now = Date.now();
    // A refresh must not take the keyboard's place away: the link that had
    // focus gets it back in its new row.
    const body = $("sessions").tBodies[0];
    const focused = body.contains(document.activeElement) ? document.activeElement.closest("tr")?.dataset.sessionId : undefined;
    body.replaceChildren(...list.map((s) => sessionRow(s, now)));
    if (focused !== undefined) {
      // Its row, or the first one when it left the page.
      const again = [...body.rows].find((r) => r.dataset.sessionId === focused) || body.rows[0];
      again?.querySelector("a")?.focus({ preventScroll: true });
    }
    const empty = $("sessions-empty");
    empty.hidden = list.length > 0;
    if (!list.length) {
      // One page of a search looks at a bounded number of sessions.
      if (pager.next) empty.replaceChildren("No match among the sessions looked at for this page; Older → looks further.");
      else if (filtered()) empty.replaceChildren("No session matches these filters. ", h("a", { href: "#/" }, "Clear filters"));
      else
        empty.replaceChildren(
          "No sessions recorded yet. Open the ",
          h("a", { href: "/" }, "demo shop"),
          " in another tab, click around, and come back.",
        );
    }
    const first = pager.page * PAGE + 1;
    const range =
      pager.page === 0 && !pager.next
        ? `${list.length} session${list.length === 1 ? "" : "s"}`
        : `Sessions ${first}–${first + list.length - 1}${pager.next ? "" : " (the oldest)"}`;
    $("sessions-status").textContent = list.length
      ? `${range}${filtered() ? " matching the filters" : ""} · updated ${localS(now).slice(11)}`
      : "";
    $("sessions-page").textContent = `Page ${pager.page + 1}`;
    pager.renderPrev($("sessions-prev"), "← Newer");
    $("sessions-next").disabled = !pager.next;
    if (!quiet) clearError();
  } catch (e) {
    if (gen !== state.generation) return;
    $("sessions-status").textContent = "";
    if (!quiet) showError(e, "Could not load the sessions");
  }
}

function applyFilters(change, { replace = false } = {}) {
  const params = { ...state.params, ...change };
  navigate(hashFor("sessions", params), { replace });
}

// A search is taken once typing pauses; the searches a burst of typing
// makes along the way replace each other in the history (Back goes to what
// was shown before the typing, not to "suppor").
let typing = null;
let typedAt = 0;
$("sessions-q").addEventListener("input", (e) => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    if (!state.shown) return;
    const replace = Date.now() - typedAt < 3_000;
    typedAt = Date.now();
    applyFilters({ q: e.target.value.trim() }, { replace });
  }, 500);
});
$("sessions-filters").addEventListener("submit", (e) => {
  e.preventDefault();
  clearTimeout(typing);
  applyFilters({ q: $("sessions-q").value.trim() });
});
$("sessions-agent").addEventListener("change", (e) => applyFilters({ agent: e.target.value }));
$("sessions-from").addEventListener("change", (e) => applyFilters({ from: fromLocalInput(e.target.value) ?? "" }));
$("sessions-to").addEventListener("change", (e) => {
  // A minute picked as "to" means up to the end of that minute.
  const t = fromLocalInput(e.target.value);
  applyFilters({ to: t === undefined ? "" : t + 59_999 });
});
$("sessions-clear").addEventListener("click", () => navigate(hashFor("sessions", {})));
$("sessions-refresh").addEventListener("click", () => load());
$("sessions-prev").addEventListener("click", () => {
  if (state.pager.page > 0) applyFilters(state.pager.prevParams());
});
$("sessions-next").addEventListener("click", () => {
  if (state.pager.next) applyFilters(state.pager.nextParams());
});
