// Helpers shared by the Lumen Outfitters pages: DOM building, the cart, and the
// one call the page makes into the recorder.

/**
 * Creates an element. Text children become text nodes (never markup).
 * `style` may be an object: it is applied through the CSSOM, which a
 * Content-Security-Policy without 'unsafe-inline' still allows.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/**
 * Records a custom event through the recorder's public API. On the customer's
 * pages the recorder tag in <head> defines window.recordCustom before this
 * module runs (calls made before its wasm is ready are queued by the
 * recorder); on agent.html the tag is added by script, so a call before it ran
 * would only be logged (the page makes none before a person acts). The shop
 * keeps working when the recorder is missing or fails.
 */
export function record(type, value) {
  try {
    if (typeof window.recordCustom === "function") {
      window.recordCustom(type, value);
    } else {
      console.info("[lumen] recorder not loaded; custom event not recorded:", type, value);
    }
  } catch (err) {
    console.warn("[lumen] recordCustom failed", err);
  }
}

/**
 * The customer's pages link to the agent's co-browsing view of their session
 * (`/agent.html?session=…`), as a co-browsing tool would open it, once the
 * recorder knows the session.
 */
export function linkAgentView() {
  const wrap = document.getElementById("agent-view");
  const link = document.getElementById("agent-view-link");
  const rec = window.cotrail;
  if (!wrap || !link || !rec || !rec.ready) return;
  rec.ready.then((recording) => {
    const id = recording && rec.sessionId();
    if (!id) return;
    link.href = `/agent.html?session=${encodeURIComponent(id)}`;
    wrap.hidden = false;
  });
}

const CART_KEY = "lumen-outfitters.cart";

function load() {
  try {
    const v = JSON.parse(localStorage.getItem(CART_KEY) || "[]");
    return Array.isArray(v) ? v.filter((l) => l && typeof l.sku === "string" && l.qty > 0) : [];
  } catch {
    return [];
  }
}

function save(lines) {
  try {
    localStorage.setItem(CART_KEY, JSON.stringify(lines));
  } catch {
    /* private mode or full storage: the cart just does not persist */
  }
}

/** The shopping cart, kept in localStorage so it survives reloads and page changes. */
export const cart = {
  KEY: CART_KEY,
  lines: load,
  count() {
    return load().reduce((n, l) => n + l.qty, 0);
  },
  add(sku, qty) {
    const lines = load();
    const line = lines.find((l) => l.sku === sku);
    if (line) line.qty = Math.min(99, line.qty + qty);
    else lines.push({ sku, qty });
    save(lines);
  },
  remove(sku) {
    save(load().filter((l) => l.sku !== sku));
  },
  clear() {
    save([]);
  },
};
