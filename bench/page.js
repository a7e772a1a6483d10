'use strict';
// The benchmark page (about 2,000 elements: 100 buttons, a table, a form with 10
// inputs, a scrollable panel, selectable text) and the in-page trace runner.
// One page for every arm; the arm only decides which harness the <head> loads.

function pageHtml(arm, opts) {
  const head = [];
  if (arm === 'floor') {
    head.push(`<script>
      (function () {
        var noop = function () {};
        var o = { capture: true, passive: true };
        ['click', 'input', 'change', 'scroll', 'submit', 'popstate', 'hashchange',
         'pagehide', 'visibilitychange', 'keydown'].forEach(function (t) { window.addEventListener(t, noop, o); });
        document.addEventListener('selectionchange', noop, o);
        window.__bench = { custom: function () {}, ready: Promise.resolve(true) };
      })();
    </script>`);
  } else if (arm === 'rrweb') {
    head.push(`<script src="/rrweb.js"></script>
    <script>
      (function () {
        var buf = [], timer = null, inflight = 0, posted = 0;
        function post(snap) {
          if (!buf.length) return Promise.resolve();
          var batch = buf; buf = [];
          if (timer) { clearTimeout(timer); timer = null; }
          inflight++;
          return fetch('/sink' + (snap ? '?snap=1' : ''), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(batch) })
            .then(function () { posted += batch.length; }, function () {})
            .then(function () { inflight--; });
        }
        // The same batching policy as cotrail's defaults: 50 events or 2 s.
        function emit(e) {
          buf.push(e);
          if (buf.length >= 50) post(false);
          else if (!timer) timer = setTimeout(function () { timer = null; post(false); }, 2000);
        }
        window.__bench = {
          ready: new Promise(function (resolve) {
            function go() {
              window.__rrStop = rrwebRecord.record({ emit: emit });
              // The initial meta + full snapshot go in a batch of their own.
              post(true).then(function () { resolve(true); });
            }
            if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go); else go();
          }),
          custom: function (tag, payload) { rrwebRecord.record.addCustomEvent(tag, payload); },
          flush: function () { return post(false); },
          state: function () { return { delivered: posted, queued: buf.length, inflight: inflight }; }
        };
      })();
    </script>`);
  } else if (arm === 'cotrail') {
    head.push(`<script src="${opts.collector}/recorder.js" data-site-key="pk_demo"></script>
    <script>
      window.__bench = {
        ready: window.cotrail.ready,
        custom: function (t, v) { window.recordCustom(t, v); },
        flush: function () { window.cotrail.flush(); return Promise.resolve(); },
        state: function () { var s = window.cotrail.stats() || {}; return { delivered: s.acked || 0, queued: -1, inflight: -1, stats: s }; }
      };
    </script>`);
  } else {
    head.push(`<script>window.__bench = { custom: function () {}, ready: Promise.resolve(true) };</script>`);
  }
  const buttons = [];
  for (let i = 0; i < 100; i++) buttons.push(`<div class="cell"><button id="b${i}" type="button" class="btn">Action ${i}</button></div>`);
  const rows = [];
  for (let i = 0; i < 150; i++) {
    rows.push(`<tr><td>${i}</td><td>Item ${i}</td><td><span class="price">${(i * 3.7).toFixed(2)}</span></td><td><a href="#r${i}">details</a></td><td><em>ok</em></td></tr>`);
  }
  const panel = [];
  for (let i = 0; i < 300; i++) panel.push(`<p class="msg">Message ${i}: <span>the quick brown fox jumps over the lazy dog</span></p>`);
  const fields = ['name', 'email', 'phone', 'street', 'city', 'zip', 'company', 'subject'];
  const inputs = fields.map((f) => `<label>${f} <input id="f-${f}" name="${f}" type="${f === 'email' ? 'email' : 'text'}"></label>`);
  inputs.push('<label>password <input id="f-password" name="password" type="password"></label>');
  inputs.push('<label>message <textarea id="f-message" name="message"></textarea></label>');
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench</title>
<style>.cell{display:inline-block;margin:1px}.btn{font-size:11px}#panel{height:200px;overflow:auto;border:1px solid #999}body{font:13px sans-serif}</style>
${head.join('\n')}
</head><body>
<h1>cotrail benchmark page</h1>
<section id="buttons">${buttons.join('')}</section>
<form id="form">${inputs.join('')}<button id="send" type="submit">Send</button></form>
<div id="panel">${panel.join('')}</div>
<p id="text">Selectable text: Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p>
<table id="table">${rows.join('')}</table>
<script>
document.getElementById('form').addEventListener('submit', function (e) { e.preventDefault(); });
window.__longtasks = [];
try { new PerformanceObserver(function (l) { l.getEntries().forEach(function (e) { window.__longtasks.push([e.startTime, e.duration]); }); }).observe({ type: 'longtask', buffered: true }); } catch (_) {}
window.__runTrace = ${runTrace.toString()};
</script>
</body></html>`;
}

// Runs in the page. Deterministic: a seeded PRNG picks targets and shuffles the
// operations, so every arm and repetition sees the same trace.
function runTrace(counts) {
  var seed = 12345;
  function rnd(n) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; }
  var ops = [];
  Object.keys(counts).forEach(function (k) { for (var i = 0; i < counts[k]; i++) ops.push(k); });
  for (var i = ops.length - 1; i > 0; i--) { var j = rnd(i + 1); var t = ops[i]; ops[i] = ops[j]; ops[j] = t; }
  var buttons = document.querySelectorAll('#buttons button');
  var inputs = document.querySelectorAll('#form input, #form textarea');
  var panel = document.getElementById('panel');
  var form = document.getElementById('form');
  var text = document.getElementById('text').firstChild;
  var words = ['alpha', 'beta', 'gamma', 'delta', 'hello world', 'support ticket 42', 'x'];
  var navs = 0, ch = new MessageChannel(), resolveYield = null;
  ch.port1.onmessage = function () { var r = resolveYield; resolveYield = null; r(); };
  function yieldTask() { return new Promise(function (r) { resolveYield = r; ch.port2.postMessage(0); }); }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  var t0 = performance.now();
  var idx = 0;
  function step() {
    var op = ops[idx];
    if (op === 'click') buttons[rnd(buttons.length)].click();
    else if (op === 'input') {
      var el = inputs[rnd(inputs.length)];
      el.value = words[rnd(words.length)] + ' ' + idx;
      el.dispatchEvent(new Event('input', { bubbles: true }));
      if (idx % 5 === 0) el.dispatchEvent(new Event('change', { bubbles: true }));
    } else if (op === 'scroll') {
      panel.scrollTop = rnd(5000);
    } else if (op === 'nav') {
      navs++;
      if (navs % 2) history.pushState({ n: navs }, '', '?view=' + navs);
      else return new Promise(function (r) {
        var done = false;
        function fin() { if (!done) { done = true; window.removeEventListener('popstate', fin); r(); } }
        window.addEventListener('popstate', fin);
        setTimeout(fin, 200);
        history.back();
      });
    } else if (op === 'select') {
      var a = rnd(100);
      window.getSelection().setBaseAndExtent(text, a, text, a + 5 + rnd(40));
    } else if (op === 'custom') {
      window.__bench.custom('bench', { i: idx, sku: 'A-' + rnd(100), qty: rnd(5) });
    } else if (op === 'submit') {
      form.requestSubmit();
    }
    return null;
  }
  function loop() {
    if (idx >= ops.length) return Promise.resolve({ ops: ops.length, ms: performance.now() - t0, t0: t0 });
    var p = step();
    idx++;
    // Every op is its own task; every 50 ops the page idles a frame, so timers,
    // scroll events and selectionchange run as they would between real actions.
    var next = p || (idx % 50 === 0 ? sleep(16) : yieldTask());
    return next.then(loop);
  }
  return loop();
}

module.exports = { pageHtml };
