// The collector's agent API as the review app uses it: the signed-in token,
// JSON reads, the live tail (Server-Sent Events read through fetch, because
// EventSource cannot send an Authorization header) and authenticated downloads.

export const API = "/api/v1";

// The token lives in sessionStorage: it is gone when the tab closes, and other
// tabs do not share it. Earlier versions kept it in localStorage under the same
// key; `migrateToken()` moves it once and deletes the old copy.
const TOKEN_KEY = "cotrail.review.token";
const ROLE_KEY = "cotrail.review.role";
const USER_KEY = "cotrail.review.user";

export function migrateToken() {
  try {
    const old = localStorage.getItem(TOKEN_KEY);
    if (old !== null) {
      localStorage.removeItem(TOKEN_KEY);
      if (!sessionStorage.getItem(TOKEN_KEY)) sessionStorage.setItem(TOKEN_KEY, old);
    }
  } catch {
    // Storage disabled: the app still works for this page view.
  }
}

export const auth = {
  get token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch {
      return "";
    }
  },
  /** `agent` or `admin`, as found out at sign-in (the collector enforces it). */
  get role() {
    try {
      return sessionStorage.getItem(ROLE_KEY) || "";
    } catch {
      return "";
    }
  },
  /** The tenant user the token belongs to, as found out at sign-in. */
  get user() {
    try {
      return sessionStorage.getItem(USER_KEY) || "";
    } catch {
      return "";
    }
  },
  set(token, role, user = "") {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ROLE_KEY, role);
    sessionStorage.setItem(USER_KEY, user);
  },
  clear() {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(ROLE_KEY);
      sessionStorage.removeItem(USER_KEY);
      localStorage.removeItem(TOKEN_KEY);
    } catch {
      // nothing stored
    }
  },
};

/** An answer that is not 2xx, with the collector's JSON error when there is one. */
export class ApiError extends Error {
  constructor(status, code, message, tombstone = null) {
    super(message);
    this.status = status;
    this.code = code;
    /** On 410 Gone: what the deleted session left (deleted_at, reason, counts, chain head). */
    this.tombstone = tombstone;
  }
}

/** Called with every 401, so the app can send the reader back to sign-in. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) {
  onUnauthorized = f;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

async function errorOf(res) {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  let tombstone = null;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = String(body.error.code || code);
      message = String(body.error.message || message);
    }
    if (body && body.tombstone && typeof body.tombstone === "object") tombstone = body.tombstone;
  } catch {
    // not JSON
  }
  return new ApiError(res.status, code, message, tombstone);
}

/** GET (or `method`) a JSON resource with the signed-in token (or `token`). */
export async function api(path, params, { token = auth.token, signal, quiet401 = false, method = "GET" } = {}) {
  let res;
  try {
    res = await fetch(`${API}${path}${query(params)}`, {
      method,
      headers: token ? { Authorization: `Bearer ${token}`, Accept: "application/json" } : {},
      cache: "no-store",
      signal,
    });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "The collector could not be reached. Is it running?");
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && !quiet401) onUnauthorized(err);
    throw err;
  }
  return res.json();
}

/**
 * Finds out whose a token is and what it may do: `{role: "agent"|"admin",
 * user}`; 401: not a token of this collector.
 */
export async function probeRole(token) {
  // `GET /me` answers who the token belongs to: 401 for an unknown token.
  const me = await api("/me", {}, { token, quiet401: true });
  return { role: me.role === "admin" ? "admin" : "agent", user: String(me.user || "") };
}

/** The demo tenant's tokens (only on loopback, only in demo mode), or null. */
export async function demoCredentials() {
  try {
    const res = await fetch(`${API}/demo/credentials`, { cache: "no-store" });
    if (!res.ok) return null;
    const body = await res.json();
    return body && (body.agent || body.admin) ? body : null;
  } catch {
    return null;
  }
}

/**
 * Downloads an authenticated resource as a file: fetch with the token, then a
 * Blob and a temporary object URL clicked as a download link.
 * Answers `{name, bytes}`.
 */
export async function download(path, params, fallbackName) {
  let res;
  try {
    res = await fetch(`${API}${path}${query(params)}`, {
      headers: { Authorization: `Bearer ${auth.token}` },
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network", "The collector could not be reached. Is it running?");
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  const blob = await res.blob();
  const disposition = res.headers.get("content-disposition") || "";
  const m = disposition.match(/filename="([^"]+)"/);
  const name = m ? m[1] : fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own reference to the blob by now.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, bytes: blob.size, chainHead: res.headers.get("x-cotrail-chain-head") };
}

/**
 * Follows `/sessions/{id}/live`: calls `onEvent(record, id)` for each event,
 * `onState("open" | "retrying" | "closed", detail, error)` as the stream comes
 * and goes (`error`: the ApiError that closed it for good, e.g. a 410). Reconnects after a drop with `Last-Event-ID`, so nothing is missed.
 * Answers a function that stops following.
 */
export function followLive(sessionId, { onEvent, onState }) {
  const ctrl = new AbortController();
  let lastId = null;
  let stopped = false;
  let retryMs = 1000;

  async function once() {
    const headers = { Authorization: `Bearer ${auth.token}`, Accept: "text/event-stream" };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    const res = await fetch(`${API}/sessions/${encodeURIComponent(sessionId)}/live`, {
      headers,
      cache: "no-store",
      signal: ctrl.signal,
    });
    if (!res.ok) {
      const err = await errorOf(res);
      if (res.status === 401) onUnauthorized(err);
      throw err;
    }
    onState("open");
    retryMs = 1000;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let id = null;
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf[nl] === "\r" && buf[nl + 1] === "\n" ? 2 : 1));
        if (line === "") {
          // End of one message.
          if (data.length) {
            if (id !== null) lastId = id;
            try {
              onEvent(JSON.parse(data.join("\n")), lastId);
            } catch (e) {
              console.warn("cotrail review: a live message could not be read", e);
            }
          }
          id = null;
          data = [];
        } else if (line.startsWith(":")) {
          // keep-alive comment
        } else {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? "" : line.slice(colon + 1);
          if (val.startsWith(" ")) val = val.slice(1);
          if (field === "data") data.push(val);
          else if (field === "id") id = val;
          else if (field === "retry" && /^\d+$/.test(val)) retryMs = Number(val);
        }
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
        if (stopped) break;
        onState("retrying", "the stream ended");
      } catch (e) {
        if (stopped || (e && e.name === "AbortError")) break;
        if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) {
          onState("closed", e.message, e);
          return;
        }
        onState("retrying", e.message || String(e));
      }
      await new Promise((r) => setTimeout(r, retryMs));
    }
    onState("closed");
  })();

  return () => {
    stopped = true;
    ctrl.abort();
  };
}
