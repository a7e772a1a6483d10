// What every screen shares: the error banner and navigation between routes.

import { $ } from "./dom.js";
import { ApiError } from "./api.js";

export function showError(err, context) {
  let msg = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError && err.status) msg = `${msg} (HTTP ${err.status}${err.code ? `, ${err.code}` : ""})`;
  $("error-text").textContent = context ? `${context}: ${msg}` : msg;
  $("error").hidden = false;
}

export function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

/** The hash for a screen and its parameters (empty values left out). */
export function hashFor(screen, params = {}, sessionId) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString() ? `?${q}` : "";
  if (screen === "trail") return `#/sessions/${encodeURIComponent(sessionId)}${s}`;
  if (screen === "activity") return `#/activity${s}`;
  if (screen === "signin") return "#/signin";
  return `#/${s}`;
}

let render = () => {};
export function setRouteHandler(f) {
  render = f;
}

/**
 * Goes to `hash`; renders again when it is already the current one. With
 * `replace`, the current history entry becomes `hash` instead of a new one.
 */
export function navigate(hash, { replace = false } = {}) {
  if (location.hash === hash) render();
  else if (replace) {
    history.replaceState(null, "", hash);
    render();
  } else location.hash = hash;
}

/**
 * Where a paged list stands: its page number and the API cursor that page
 * starts at, both in the URL (`page`, `cursor`), so a page can be reloaded
 * and shared, and Back steps back a page. The cursors of pages seen before
 * are remembered for "previous"; a page opened from a link knows only its
 * own, and its "previous" goes to the first page.
 */
export class Pager {
  constructor() {
    this.query = null;
    this.cursors = [null];
    this.page = 0;
    this.next = null;
  }

  /**
   * Takes the route's `page` and `cursor` for the list `query` (a string of
   * everything else the list depends on). True when the list shown must change.
   */
  take(query, params) {
    const before = `${this.query}|${this.page}|${this.cursor}`;
    if (query !== this.query) {
      this.query = query;
      this.cursors = [null];
    }
    const n = /^[1-9]\d{0,5}$/.test(params.page || "") ? Number(params.page) - 1 : 0;
    // A page number without its cursor (edited by hand) is the first page;
    // `stray` says the route should lose its `page` and `cursor`.
    const cursor = n > 0 && typeof params.cursor === "string" && params.cursor ? params.cursor : null;
    this.stray = !cursor && Boolean(params.page || params.cursor);
    this.page = cursor ? n : 0;
    if (cursor) this.cursors[n] = cursor;
    const moved = before !== `${this.query}|${this.page}|${this.cursor}`;
    // What follows the page shown is known once it has loaded.
    if (moved) this.next = null;
    return moved;
  }

  get cursor() {
    return this.cursors[this.page] ?? null;
  }

  /** Route parameters of the next page (with the rest of the route's). */
  nextParams() {
    return { page: String(this.page + 2), cursor: this.next };
  }

  /** Route parameters of the page before, or of the first when that is not known. */
  prevParams() {
    const cursor = this.page > 1 ? this.cursors[this.page - 1] : null;
    return cursor ? { page: String(this.page), cursor } : { page: "", cursor: "" };
  }

  /** The "previous" button: disabled on the first page, "first page" when the one before is not known. */
  renderPrev(button, label) {
    button.disabled = this.page === 0;
    const known = this.page <= 1 || Boolean(this.cursors[this.page - 1]);
    button.textContent = known ? label : "← First page";
  }
}
