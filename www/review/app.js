// cotrail review app: entry point. Sign-in, routing and the error banner; each
// screen lives in its own module (sessions.js, trail.js, activity.js).
//
// Routes live in location.hash so a view can be shared or reloaded:
//   #/signin                                   sign-in
//   #/?q=&agent=&from=&to=                     sessions
//   #/sessions/{id}?type=&actor=&order=&at=    one session's trail
//   #/activity?type=&user=&from=&to=           the activity log (admins)
// and every list's place in its pages: &page=N&cursor=… (shell.js: Pager).

import { $ } from "./dom.js";
import { clearError, navigate, setRouteHandler } from "./shell.js";
import { ApiError, auth, demoCredentials, migrateToken, probeRole, setUnauthorizedHandler } from "./api.js";
import * as sessions from "./sessions.js";
import * as trail from "./trail.js";
import * as activity from "./activity.js";

const SCREENS = { sessions, trail, activity };

$("error-dismiss").addEventListener("click", clearError);

// ------------------------------------------------------------------ routing

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, q = ""] = raw.split("?");
  const params = Object.fromEntries(new URLSearchParams(q));
  let m = path.match(/^\/sessions\/([^/]+)\/?$/);
  if (m) {
    let id = m[1];
    try {
      id = decodeURIComponent(id);
    } catch {
      // keep it as it is
    }
    return { screen: "trail", sessionId: id, params };
  }
  if (/^\/activity\/?$/.test(path)) return { screen: "activity", params };
  if (/^\/signin\/?$/.test(path)) return { screen: "signin", params };
  return { screen: "sessions", params };
}

let current = null;
// Where to go once signed in.
let afterSignIn = "#/";

function setView(name) {
  for (const v of ["signin", "sessions", "trail", "activity"]) $(`${v}-view`).hidden = v !== name;
  const signedIn = Boolean(auth.token);
  $("app-nav").hidden = !signedIn;
  $("who").hidden = !signedIn;
  const who = auth.user ? `${auth.user} (${auth.role || "reader"})` : auth.role || "reader";
  $("who-role").textContent = signedIn ? `Signed in as ${who}` : "";
  $("nav-sessions").toggleAttribute("aria-current", name === "sessions" || name === "trail");
  $("nav-activity").toggleAttribute("aria-current", name === "activity");
  if (name === "sessions" || name === "trail") $("nav-sessions").setAttribute("aria-current", "page");
  if (name === "activity") $("nav-activity").setAttribute("aria-current", "page");
  document.body.dataset.view = name;
}

function onRoute() {
  const route = parseHash();
  if (!auth.token && route.screen !== "signin") {
    afterSignIn = location.hash || "#/";
    showSignIn();
    return;
  }
  if (route.screen === "signin") {
    if (auth.token) {
      navigate("#/");
      return;
    }
    showSignIn();
    return;
  }
  if (current && current !== route.screen) SCREENS[current].hide();
  current = route.screen;
  setView(route.screen);
  SCREENS[route.screen].show(route);
}

window.addEventListener("hashchange", onRoute);
setRouteHandler(onRoute);

// ------------------------------------------------------------------ sign-in

function stopAll() {
  for (const s of Object.values(SCREENS)) s.hide();
  current = null;
}

/** A message on the sign-in screen: an error, or a plain notice (`ok`). */
function signInMessage(text, { ok = false } = {}) {
  const p = $("signin-message");
  // A notice is announced politely, an error at once: the role first, so
  // the text arrives in the region it belongs to.
  p.setAttribute("role", ok ? "status" : "alert");
  p.classList.toggle("form-notice", ok);
  p.textContent = text;
  p.hidden = !text;
}

async function showSignIn() {
  stopAll();
  setView("signin");
  document.title = "Sign in · cotrail review";
  const demo = await demoCredentials();
  const box = $("demo-box");
  box.hidden = !demo;
  if (demo) {
    $("demo-agent").hidden = !demo.agent;
    $("demo-admin").hidden = !demo.admin;
    $("demo-file").textContent = demo.file || "demo-tenant.toml";
    box.dataset.agent = demo.agent ? demo.agent.token : "";
    box.dataset.admin = demo.admin ? demo.admin.token : "";
  }
  if (!$("token-input").value) $("token-input").focus();
}

async function signIn(token) {
  token = token.trim();
  if (!token) {
    signInMessage("Paste a token first.");
    $("token-input").focus();
    return;
  }
  signInMessage("");
  $("signin-submit").disabled = true;
  try {
    const { role, user } = await probeRole(token);
    auth.set(token, role, user);
    $("token-input").value = "";
    clearError();
    const to = afterSignIn && !afterSignIn.startsWith("#/signin") ? afterSignIn : "#/";
    afterSignIn = "#/";
    navigate(to);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      signInMessage("This token was not accepted. Check that you copied the whole agent or admin token of this collector.");
    } else if (e instanceof ApiError) {
      signInMessage(`Could not sign in: ${e.message}`);
    } else {
      signInMessage(`Could not sign in: ${e.message || e}`);
    }
    $("token-input").focus();
    $("token-input").select();
  } finally {
    $("signin-submit").disabled = false;
  }
}

$("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("token-input").value);
});
$("demo-agent").addEventListener("click", () => signIn($("demo-box").dataset.agent || ""));
$("demo-admin").addEventListener("click", () => signIn($("demo-box").dataset.admin || ""));

function signOut(message = "", { ok = false } = {}) {
  auth.clear();
  stopAll();
  clearError();
  afterSignIn = "#/";
  if (location.hash !== "#/signin") history.replaceState(null, "", "#/signin");
  showSignIn().then(() => signInMessage(message, { ok }));
}

$("sign-out").addEventListener("click", () => signOut("You are signed out.", { ok: true }));

setUnauthorizedHandler(() => {
  afterSignIn = location.hash || "#/";
  const keep = afterSignIn;
  signOut("Your token is no longer accepted. Sign in again.");
  afterSignIn = keep;
});

// ------------------------------------------------------------------ start

migrateToken();
// Marks the app as started, for people (and tests) waiting on it.
document.documentElement.dataset.ready = "1";
onRoute();
