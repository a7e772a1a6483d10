/*! cotrail recorder loader. Embed with ONE classic script tag:
 *  <script src="https://collector.example/recorder.js" data-site-key="pk_demo"></script>
 * It reads its data-* attributes at once, defines window.recordCustom and
 * window.cotrail immediately (calls made before the wasm is ready are queued),
 * then loads the wasm recorder beside it. It never throws into the page. */
(function () {
  'use strict';
  var w = window;
  function warn(msg, err) {
    try { w.console && console.warn('cotrail: ' + msg, err === undefined ? '' : err); } catch (_) { /* nothing to do */ }
  }
  // The wasm-bindgen glue, which `cargo xtask build` puts in this function's
  // body (xtask/src/shorten.rs, `function_body`): it returns the recorder's
  // functions (`start`, `recordCustom` ...) and `init`, which instantiates
  // the wasm. Run once, when the recorder starts.
  function glue() { /* __COTRAIL_GLUE__ */ }
  try {
    if (w.cotrail && w.cotrail.__cotrail) {
      warn('recorder.js loaded twice; the second copy does nothing');
      return;
    }
    // A classic tag has itself as `currentScript`; a module (or a copy whose
    // tag is gone) does not: then the first recorder.js tag with a site key.
    var script = document.currentScript || document.querySelector('script[data-site-key][src$="/recorder.js"]');
    var src = (script && script.src) || '';
    var ds = (script && script.dataset) || {};
    var config = {
      collector: ds.collector || (src ? new URL(src).origin : ''),
      siteKey: ds.siteKey,
      sessionId: ds.sessionId,
      actor: ds.actor,
      agentId: ds.agentId,
      mask: ds.mask,
      flushMs: ds.flushMs,
      batchEvents: ds.batchEvents,
      allowParams: ds.allowParams
    };
    // Batches go out gzipped where the browser can (a tenth of the bytes), still
    // as a text/plain "simple" request (no preflight), to `url&encoding=gzip`;
    // as plain text if compressing fails. The recorder decides when to send.
    // No Blob on the way (the text is read as a Response's stream, the bytes go
    // out as an ArrayBuffer with a safelisted Content-Type): a profile of the
    // benchmark trace put two Blob constructions per batch at a tenth of the
    // recorder's script time.
    if (typeof CompressionStream === 'function' && typeof Response === 'function') {
      // `signal` (the recorder's request timeout) aborts a request that hangs.
      config.send = function (url, text, signal) {
        var plain = function () { return fetch(url, { method: 'POST', body: text, signal: signal }); };
        var packed;
        try {
          packed = new Response(new Response(text).body.pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
        } catch (_) { return plain(); }
        return packed.then(function (buf) {
          var gz = url + (url.indexOf('?') < 0 ? '?' : '&') + 'encoding=gzip';
          return fetch(gz, { method: 'POST', body: buf, headers: { 'Content-Type': 'text/plain' }, signal: signal });
        }, plain);
      };
    }
    // Calls before the wasm is ready; bounded (1000, below) so a page calling
    // in a loop while the collector is unreachable cannot grow memory without
    // end.
    var queue = [];
    // asAgent scopes entered before the wasm was ready, innermost last.
    var agents = [];
    var mod = null;
    var stopped = false;
    // Warnings said once each: a page that records its console (a wrapped
    // console.warn calling recordCustom) must not loop on them.
    var said = {};
    function warnOnce(msg) { if (!said[msg]) { said[msg] = 1; warn(msg); } }

    // `at` only from the queue's replay below: the page's calls are stamped now.
    var record = function (type, value, at) {
      try {
        if (stopped) { warnOnce('recordCustom: not recording (stopped, or the recorder did not start); ignored'); return; }
        if (mod) { mod.recordCustom(type, value, at); return; }
        if (queue.length >= 1000) { warnOnce('recordCustom: queue full before start; calls dropped'); return; }
        // Snapshot now: the page may mutate the object before the replay.
        var snap = value;
        try { if (value !== undefined) snap = JSON.parse(JSON.stringify(value)); } catch (_) { /* the recorder reports it */ }
        // With the agent whose asAgent scope it was called in, if any, and
        // when it was called: recorded with that time, not the replay's.
        queue.push([type, snap, agents[agents.length - 1], performance.now()]);
      } catch (e) { warn('recordCustom failed', e); }
    };
    var recordCustom = function (type, value) { record(type, value); };

    var api = {
      __cotrail: true,
      recordCustom: recordCustom,
      stop: function () {
        stopped = true;
        queue = [];
        try { if (mod) mod.stop(); } catch (e) { warn('stop failed', e); }
      },
      flush: function () {
        try { if (mod) mod.flush(); } catch (e) { warn('flush failed', e); }
      },
      // DOM events dispatched synchronously while fn runs are attributed to the
      // agent; fn's own result and exceptions are the caller's.
      // Only what fn does before it returns is the agent's: an async fn's
      // work after its first `await` is not (said once, with a warning).
      asAgent: function (agentId, fn) {
        if (typeof fn !== 'function') { warn('asAgent(agentId, fn): fn must be a function'); return undefined; }
        if (typeof agentId !== 'string' || !agentId) {
          // Still an agent's action, of an agent the page did not name.
          warn('asAgent(agentId, fn): agentId must be a non-empty string, not ' + (agentId === '' ? 'empty' : typeof agentId) + '; recorded as "unknown"');
          agentId = 'unknown';
        }
        var entered = false, early = !mod, result;
        if (early) agents.push(agentId);
        else try { mod.agentScopeEnter(agentId); entered = true; } catch (e) { warn('asAgent: bad agent id', e); }
        try { result = fn(); } finally {
          if (early) agents.pop();
          if (entered) { try { mod.agentScopeExit(); } catch (_) { /* nothing to do */ } }
        }
        try {
          if (result && typeof result.then === 'function') {
            warnOnce('asAgent: fn returned a promise; what it does after its first await is not recorded as the agent\'s (see README)');
          }
        } catch (_) { /* a hostile thenable: nothing to say */ }
        return result;
      },
      sessionId: function () { try { return mod ? mod.sessionId() : undefined; } catch (_) { return undefined; } },
      tabId: function () { try { return mod ? mod.tabId() : undefined; } catch (_) { return undefined; } },
      // Delivery counters {acked, rejected, retries, dropped}.
      stats: function () { try { return mod ? mod.stats() : undefined; } catch (_) { return undefined; } },
      // Resolves true once recording, false if it could not start (never rejects).
      ready: null
    };
    w.cotrail = api;
    // The page's own recordCustom stays: cotrail.recordCustom is the same.
    if (typeof w.recordCustom === 'function') {
      warn('window.recordCustom is the page\'s own; use cotrail.recordCustom(type, value)');
    } else {
      w.recordCustom = recordCustom;
    }

    // Calls made from now on are not queued for a recorder that is not coming.
    function failed(msg, e) {
      stopped = true;
      queue = [];
      warn(msg, e);
      return false;
    }
    api.ready = new Promise(function (resolve) {
     try {
      if (!src) { resolve(failed('cannot find my own script tag (document.currentScript)')); return; }
      // Under the build's id (`cargo xtask build` writes it here): the wasm
      // is this build's, cached for good under it.
      var build = '?v=__COTRAIL_BUILD__';
      var wasmUrl = new URL('recorder/cotrail_recorder_bg.wasm' + build, src).href;
      var wasm;
      // Promise.resolve: a page's fetch wrapper may return a bare thenable.
      try { wasm = Promise.resolve(fetch(wasmUrl)); } catch (e) { wasm = Promise.reject(e); }
      // Handled here too, so a wasm that fails to download while the glue
      // fails before it looks is not an unhandled rejection; the glue's init
      // still sees it.
      wasm['catch'](function () { /* reported by the init below */ });
      Promise.resolve().then(function () {
        var m = glue();
        return m.init({ module_or_path: wasm }).then(function () {
          if (stopped) { resolve(false); return; }
          m.start(config);
          mod = m;
          var pending = queue;
          queue = [];
          for (var i = 0; i < pending.length; i++) {
            var p = pending[i];
            if (p[2] === undefined) record(p[0], p[1], p[3]);
            else api.asAgent(p[2], function () { record(p[0], p[1], p[3]); });
          }
          resolve(true);
        });
      })['catch'](function (e) {
        resolve(failed('recorder did not start', e));
      });
     } catch (e) {
      resolve(failed('recorder did not start', e));
     }
    });
  } catch (e) {
    warn('loader failed', e);
  }
})();
