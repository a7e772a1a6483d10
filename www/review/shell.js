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

/** Goes to `hash`; renders again when it is already the current one. */
export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}
