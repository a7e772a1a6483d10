// The timeline strip above a trail: the whole session at a glance.
//
// Events are binned by client time into at most `maxBins` columns (one per few
// pixels), so the DOM stays small however long the session: each non-empty
// column is one button, a stack coloured by event type, with a lane under it
// marking who acted (customer, agent, script). Page changes are dividers.
// Activating a column calls `onPick` with the column's first event.

import { EVENT_TYPES, duration, h, localMs, typeClass, visible } from "./dom.js";

const ACTORS = ["customer", "agent", "script"];
/** Page-change dividers drawn at most. */
const MAX_DIVIDERS = 300;

export class Timeline {
  constructor(strip, axis, legend, onPick) {
    this.strip = strip;
    this.axis = axis;
    this.onPick = onPick;
    this.reset();
    legend.replaceChildren(
      ...EVENT_TYPES.map((t) => h("li", {}, h("span", { class: `swatch ${typeClass(t)}` }), t)),
      ...ACTORS.map((a) => h("li", {}, h("span", { class: `swatch lane-${a}` }), a)),
      h("li", {}, h("span", { class: "swatch divider-swatch" }), "page change"),
    );
    strip.addEventListener("keydown", (e) => this.keydown(e));
    window.addEventListener("resize", () => this.schedule());
  }

  reset() {
    this.ts = [];
    this.type = [];
    this.actor = [];
    this.agentId = [];
    this.key = [];
    this.seen = new Set();
    this.pages = []; // indexes of PAGE-CHANGE events
    this.min = Infinity;
    this.max = -Infinity;
    this.pending = null;
    this.focusBin = 0;
    this.strip.replaceChildren();
    this.axis.replaceChildren();
  }

  get size() {
    return this.ts.length;
  }

  /** Adds stored event records (any order; re-adds are ignored). */
  add(records) {
    for (const r of records) {
      const key = `${r.tab_id}/${r.seq}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      const ts = typeof r.ts === "number" ? r.ts : r.received_at;
      const i = this.ts.length;
      this.ts.push(ts);
      this.type.push(Math.max(0, EVENT_TYPES.indexOf(r.type)));
      const kind = r.actor && r.actor.kind;
      this.actor.push(Math.max(0, ACTORS.indexOf(kind)));
      this.agentId.push(kind === "agent" && r.actor.id ? String(r.actor.id) : "");
      this.key.push(key);
      if (r.type === "PAGE-CHANGE") {
        this.pages.push({ i, title: visible((r.data && (r.data.title || r.data.url)) || "page") });
      }
      if (ts < this.min) this.min = ts;
      if (ts > this.max) this.max = ts;
    }
    this.schedule();
  }

  /** Renders at most every 200 ms while events stream in. */
  schedule() {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.render();
    }, 200);
  }

  render() {
    const n = this.ts.length;
    if (!n) {
      this.strip.replaceChildren(h("p", { class: "timeline-empty" }, "No events yet."));
      this.axis.replaceChildren();
      return;
    }
    const width = this.strip.clientWidth || 800;
    // A few events get wide columns; a long session one column per 7 px.
    const bins = Math.max(10, Math.min(160, Math.floor(width / 7), Math.max(24, n * 2)));
    const t0 = this.min;
    const span = Math.max(1, this.max - this.min);
    const binOf = (ts) => Math.min(bins - 1, Math.floor(((ts - t0) / span) * bins));
    const counts = Array.from({ length: bins }, () => ({ n: 0, types: new Array(EVENT_TYPES.length).fill(0), actors: [0, 0, 0], first: -1, agents: new Set() }));
    for (let i = 0; i < n; i++) {
      const b = counts[binOf(this.ts[i])];
      b.n++;
      b.types[this.type[i]]++;
      b.actors[this.actor[i]]++;
      if (this.agentId[i]) b.agents.add(this.agentId[i]);
      if (b.first < 0 || this.ts[i] < this.ts[b.first]) b.first = i;
    }
    const top = Math.max(...counts.map((b) => b.n));
    const marks = [];
    counts.forEach((b, i) => {
      if (!b.n) return;
      const from = t0 + (span * i) / bins;
      const parts = EVENT_TYPES.map((t, k) => (b.types[k] ? `${b.types[k]} ${t}` : "")).filter(Boolean);
      const who = ACTORS.map((a, k) => (b.actors[k] ? `${b.actors[k]} by ${a}${a === "agent" && b.agents.size ? ` (${[...b.agents].join(", ")})` : ""}` : "")).filter(Boolean);
      const label = `${localMs(from).slice(11)} · ${parts.join(", ")} · ${who.join(", ")}. Show in the table.`;
      // Height grows with the square root: a busy second does not flatten the rest.
      const height = 18 + 82 * Math.sqrt(b.n / top);
      const stack = h("span", { class: "stack" });
      stack.style.height = `${height}%`;
      EVENT_TYPES.forEach((t, k) => {
        if (!b.types[k]) return;
        const seg = h("span", { class: `seg ${typeClass(t)}` });
        seg.style.flexGrow = String(b.types[k]);
        stack.append(seg);
      });
      // The lane shows the actor who did most here; agent wins ties, so an
      // agent's presence is never hidden.
      const a = b.actors[1] > 0 && b.actors[1] >= Math.max(b.actors[0], b.actors[2]) ? 1 : b.actors[0] >= b.actors[2] ? 0 : 2;
      const mark = h(
        "button",
        {
          type: "button",
          class: `mark${b.actors[1] ? " has-agent" : ""}${b.actors[2] ? " has-script" : ""}`,
          title: label,
          "aria-label": label,
          tabindex: "-1",
          "data-bin": String(i),
          "data-key": this.key[b.first],
          "data-actor": ACTORS[a],
        },
        stack,
        h("span", { class: `lane lane-${ACTORS[a]}` }),
        b.actors[1] ? h("span", { class: "agent-dot", "aria-hidden": "true" }) : "",
      );
      mark.style.left = `${(i / bins) * 100}%`;
      mark.style.width = `${100 / bins}%`;
      const first = b.first;
      mark.addEventListener("click", () => {
        this.focusBin = marks.indexOf(mark);
        this.onPick({
          ts: this.ts[first],
          key: this.key[first],
          type: EVENT_TYPES[this.type[first]],
          actor: ACTORS[this.actor[first]],
        });
      });
      marks.push(mark);
    });
    const dividers = this.pages.slice(0, MAX_DIVIDERS).map(({ i, title }) => {
      const d = h("span", { class: "divider", title: `Page: ${title}`, "aria-hidden": "true" });
      d.style.left = `${((this.ts[i] - t0) / span) * 100}%`;
      return d;
    });
    this.focusBin = Math.min(this.focusBin, marks.length - 1);
    if (marks[this.focusBin]) marks[this.focusBin].tabIndex = 0;
    const hadFocus = this.strip.contains(document.activeElement);
    this.strip.replaceChildren(...dividers, ...marks);
    if (hadFocus && marks[this.focusBin]) marks[this.focusBin].focus();
    this.axis.replaceChildren(
      h("span", {}, localMs(t0)),
      h("span", { class: "axis-mid" }, `${duration(span)} · ${n.toLocaleString()} events · ${this.pages.length} page ${this.pages.length === 1 ? "view" : "views"}`),
      h("span", {}, localMs(this.max)),
    );
  }

  /** Arrow keys move between columns (one tab stop for the whole strip). */
  keydown(e) {
    const marks = [...this.strip.querySelectorAll(".mark")];
    if (!marks.length) return;
    const at = Math.max(0, marks.indexOf(document.activeElement));
    let to = at;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") to = Math.min(marks.length - 1, at + 1);
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") to = Math.max(0, at - 1);
    else if (e.key === "Home") to = 0;
    else if (e.key === "End") to = marks.length - 1;
    else return;
    e.preventDefault();
    marks[at].tabIndex = -1;
    marks[to].tabIndex = 0;
    marks[to].focus();
    this.focusBin = to;
  }
}
