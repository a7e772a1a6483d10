'use strict';
// Browser benchmarks (issue 6, parts 1-3): main-thread cost per interaction,
// shipped bytes and start-up, bytes on the wire. Run by `cargo xtask bench`;
// writes bench/out/browser.json.
//
//   node bench/browser.js --collector-bin PATH --www DIR [--reps 5] [--quick]
//
// Arms, each on a fresh page (new browser context) of one headless Chromium:
//   none    no recorder
//   floor   empty capture-phase listeners for the same event types
//   rrweb   @rrweb/record, events posted in batches (50 events or 2 s) to a sink
//   cotrail the recorder tag, served by a real collector (release binary)

const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const zlib = require('zlib');
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');
const { pageHtml } = require('./page');

const args = process.argv.slice(2);
function arg(name, dflt) { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; }
const QUICK = args.includes('--quick');
const REPS = Number(arg('--reps', QUICK ? 2 : 5));
const COLLECTOR_BIN = arg('--collector-bin');
const WWW = arg('--www');
const OUT = arg('--out', path.join(__dirname, 'out', 'browser.json'));
const CHROMIUM = arg('--chromium', '/usr/bin/chromium');
const RATES = QUICK ? [1] : [1, 4];
// Start-up is also measured with this much latency added to every request: a
// page's recorder files come over a network, not from loopback.
const STARTUP_LATENCIES = [0, 50];
const ARMS = arg('--arms', 'none,floor,rrweb,cotrail').split(',');
const RRWEB_DIR = path.join(__dirname, 'node_modules', '@rrweb', 'record');
const RRWEB_FILE = path.join(RRWEB_DIR, 'dist', 'record.umd.min.cjs');
const COUNTS = QUICK
  ? { click: 200, input: 200, scroll: 40, nav: 20, select: 20, custom: 20, submit: 2 }
  : { click: 1000, input: 1000, scroll: 200, nav: 100, select: 100, custom: 100, submit: 10 };
const TRUSTED = QUICK ? { clicks: 10, keys: 10, wheels: 4 } : { clicks: 50, keys: 50, wheels: 10 };

function log(...a) { console.error('bench:', ...a); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the collector (release binary, free loopback port, temp data dir) ----
async function startCollector() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cotrail-bench-'));
  const child = spawn(COLLECTOR_BIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--www-dir', WWW], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn,collector=info', NO_COLOR: '1' },
  });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    const on = (d) => {
      buf += d.toString();
      const m = buf.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', (c) => reject(new Error(`collector exited with ${c}: ${buf}`)));
    setTimeout(() => reject(new Error('collector did not start: ' + buf)), 20000);
  });
  return { url: `http://127.0.0.1:${port}`, child, dataDir };
}

// ---- the page server: page per arm, rrweb bundle, rrweb's sink ----
function startPageServer(collectorUrl) {
  const rrweb = fs.readFileSync(RRWEB_FILE);
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (req.method === 'POST' && u.pathname === '/sink') {
      req.resume();
      req.on('end', () => { res.writeHead(204); res.end(); });
      return;
    }
    if (u.pathname === '/rrweb.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(rrweb);
      return;
    }
    if (u.pathname === '/favicon.ico') { res.writeHead(404); res.end(); return; }
    const arm = u.searchParams.get('arm') || 'none';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(pageHtml(arm, { collector: collectorUrl }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

// Counts request bodies to the sink / the collector's batch endpoint. Bytes are
// tallied in the page, at fetch/sendBeacon, because DevTools reports no body
// for Blob bodies (cotrail's gzipped batches); in-flight requests are tracked
// from the network events.
function wireCounter(page) {
  const c = { inflight: 0 };
  const isBatch = (u) => u.includes('/sink') || u.includes('/api/v1/batches');
  page.addInitScript(() => {
    const w = (window.__wire = { bytes: 0, requests: 0, snapBytes: 0 });
    const size = (b) => (b == null ? 0 : typeof b === 'string' ? new TextEncoder().encode(b).length : b.size != null ? b.size : b.byteLength || 0);
    const tally = (u, body) => {
      if (!(u.includes('/sink') || u.includes('/api/v1/batches'))) return;
      const n = size(body);
      if (u.includes('snap=1')) w.snapBytes += n; else { w.bytes += n; w.requests++; }
    };
    const f = window.fetch;
    window.fetch = function (input, init) {
      try { if (init && init.method === 'POST') tally(String((input && input.url) || input), init.body); } catch (_) {}
      return f.apply(this, arguments);
    };
    if (navigator.sendBeacon) {
      const b = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = function (u, d) { try { tally(String(u), d); } catch (_) {} return b(u, d); };
    }
  });
  c.read = () => page.evaluate(() => window.__wire);
  c.reset = () => page.evaluate(() => { window.__wire.bytes = 0; window.__wire.requests = 0; });
  page.on('request', (r) => { if (r.method() === 'POST' && isBatch(r.url())) c.inflight++; });
  const done = (r) => { if (r.method() === 'POST' && isBatch(r.url())) c.inflight--; };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return c;
}

async function metrics(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = {};
  for (const x of metrics) m[x.name] = x.value;
  return { script: m.ScriptDuration, task: m.TaskDuration };
}

// Delivers everything: flush, then wait until nothing is in flight or queued and
// the delivered count has not moved for 300 ms.
async function drain(page, wire) {
  const deadline = Date.now() + 30000;
  let last = -1, stableSince = Date.now();
  while (Date.now() < deadline) {
    const st = await page.evaluate(() => window.__bench.flush().then(() => window.__bench.state()));
    if (st.delivered !== last) { last = st.delivered; stableSince = Date.now(); }
    if (wire.inflight <= 0 && st.queued <= 0 && Date.now() - stableSince >= 300) return st;
    await sleep(100);
  }
  throw new Error('events were not all delivered within 30 s');
}

async function trustedInput(page) {
  await page.evaluate(() => window.scrollTo(0, 0));
  const boxes = await page.evaluate(() => Array.from(document.querySelectorAll('#buttons button')).slice(0, 20).map((b) => { const r = b.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }));
  for (let i = 0; i < TRUSTED.clicks; i++) { const [x, y] = boxes[i % boxes.length]; await page.mouse.click(x, y); }
  await page.focus('#f-subject');
  for (let i = 0; i < TRUSTED.keys; i++) await page.keyboard.press(String.fromCharCode(97 + (i % 26)));
  const pb = await page.evaluate(() => { const r = document.getElementById('panel').getBoundingClientRect(); return [r.x + 20, r.y + 20]; });
  await page.mouse.move(pb[0], pb[1]);
  for (let i = 0; i < TRUSTED.wheels; i++) await page.mouse.wheel(0, 120);
  return TRUSTED.clicks + TRUSTED.keys + TRUSTED.wheels;
}

async function runArm(browser, pageUrl, arm, rate) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'warning' || m.type() === 'error') errors.push(m.text()); });
  const wire = wireCounter(page);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`${pageUrl}/?arm=${arm}`);
  const ok = await page.evaluate(() => window.__bench.ready);
  if (!ok) throw new Error(`${arm}: recorder did not start: ${errors.join('; ')}`);
  const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
  if (arm === 'rrweb' || arm === 'cotrail') await drain(page, wire); // start-up traffic is not the trace's
  const snapBytes = (await wire.read()).snapBytes;
  await wire.reset();
  const before0 = arm === 'rrweb' || arm === 'cotrail' ? (await page.evaluate(() => window.__bench.state())).delivered : 0;
  await cdp.send('Emulation.setCPUThrottlingRate', { rate });
  const m0 = await metrics(cdp);
  const tStart = await page.evaluate(() => performance.now());
  const trace = await page.evaluate((c) => window.__runTrace(c), COUNTS);
  const trusted = await trustedInput(page);
  let st = { delivered: 0 };
  if (arm === 'rrweb' || arm === 'cotrail') st = await drain(page, wire);
  const m1 = await metrics(cdp);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  const longtasks = await page.evaluate((t) => window.__longtasks.filter((e) => e[0] >= t).length, tStart);
  const sent = await wire.read();
  await ctx.close();
  if (arm === 'cotrail' && st.stats && (st.stats.rejected || st.stats.dropped)) errors.push('cotrail stats: ' + JSON.stringify(st.stats));
  return {
    arm, rate, nodes,
    interactions: trace.ops + trusted,
    script_ms: (m1.script - m0.script) * 1000,
    task_ms: (m1.task - m0.task) * 1000,
    longtasks,
    wire_bytes: sent.bytes, wire_requests: sent.requests, snapshot_bytes: snapBytes,
    events_delivered: st.delivered - before0,
    errors: errors.slice(0, 5),
  };
}

// `latency`: milliseconds DevTools adds to every request of the page (0: plain
// loopback), so the round trips a recorder needs before it records show.
async function startup(browser, pageUrl, collectorUrl, which, rate, latency = 0) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await page.goto(`${pageUrl}/?arm=none`);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate });
  if (latency) {
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency, downloadThroughput: -1, uploadThroughput: -1 });
  }
  const ms = await page.evaluate(([which, collectorUrl]) => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = document.createElement('script');
    if (which === 'cotrail') {
      s.src = collectorUrl + '/recorder.js';
      s.dataset.siteKey = 'pk_demo';
      s.onload = () => window.cotrail.ready.then((ok) => ok ? resolve(performance.now() - t0) : reject(new Error('not ready')));
    } else {
      s.src = '/rrweb.js';
      s.onload = () => { window.rrwebRecord.record({ emit() {} }); resolve(performance.now() - t0); };
    }
    s.onerror = () => reject(new Error('script failed'));
    document.head.appendChild(s);
  }), [which, collectorUrl]);
  await ctx.close();
  return ms;
}

// Zopfli (gzip-compatible, an exhaustive deflate search) is how
// `cargo xtask build` writes cotrail's `.gz` twins, the bytes a browser that
// takes gzip but not brotli downloads; both recorders are measured with it
// too, so that column compares like with like.
const zopfli = require('@gfx/zopfli');

async function sizes(files) {
  let raw = 0, gz = 0, zo = 0, br = 0;
  const per = {};
  for (const f of files) {
    const b = fs.readFileSync(f);
    const g = zlib.gzipSync(b, { level: 9 }).length;
    const z = (await zopfli.gzipAsync(b, { numiterations: 15 })).length;
    const r = zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    per[path.basename(f)] = { raw: b.length, gzip: g, zopfli: z, brotli: r };
    raw += b.length; gz += g; zo += z; br += r;
  }
  return { raw, gzip: gz, zopfli: zo, brotli: br, files: per };
}

async function main() {
  if (!COLLECTOR_BIN || !WWW) throw new Error('usage: node browser.js --collector-bin PATH --www DIR [--reps N] [--quick]');
  const collector = await startCollector();
  log('collector at', collector.url);
  const pages = await startPageServer(collector.url);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const result = {
    chromium: browser.version(),
    rrweb: JSON.parse(fs.readFileSync(path.join(RRWEB_DIR, 'package.json'), 'utf8')).version,
    playwright: require('playwright-core/package.json').version,
    reps: REPS, quick: QUICK, counts: COUNTS, trusted: TRUSTED,
    shipped: {
      cotrail: await sizes(['recorder.js', 'cotrail_recorder_bg.wasm'].map((f) => path.join(WWW, 'recorder', f))),
      rrweb: await sizes([RRWEB_FILE]),
    },
    runs: [], startup: [],
  };
  try {
    // Warm-up (not recorded): first page loads compile code and fill OS caches.
    for (const arm of ARMS) await startup(browser, pages.url, collector.url, arm === 'rrweb' ? 'rrweb' : 'cotrail', 1).catch(() => {});
    for (let rep = 0; rep < REPS; rep++) {
      for (const rate of RATES) {
        // Interleaved: every repetition runs every arm, in a rotated order.
        const order = ARMS.map((_, i) => ARMS[(i + rep) % ARMS.length]);
        for (const arm of order) {
          const r = await runArm(browser, pages.url, arm, rate);
          r.rep = rep;
          result.runs.push(r);
          log(`rep ${rep} rate ${rate}x ${arm}: script ${r.script_ms.toFixed(1)} ms, task ${r.task_ms.toFixed(1)} ms, wire ${r.wire_bytes} B, events ${r.events_delivered}, long tasks ${r.longtasks}${r.errors.length ? ' errors: ' + r.errors.join(' | ') : ''}`);
        }
        for (const latency of STARTUP_LATENCIES) {
          for (const which of (rep % 2 ? ['rrweb', 'cotrail'] : ['cotrail', 'rrweb']).filter((a) => ARMS.includes(a))) {
            const ms = await startup(browser, pages.url, collector.url, which, rate, latency);
            result.startup.push({ which, rate, latency, rep, ms });
            log(`rep ${rep} rate ${rate}x latency ${latency} ms start-up ${which}: ${ms.toFixed(1)} ms`);
          }
        }
      }
    }
  } finally {
    await browser.close();
    pages.server.close();
    collector.child.kill('SIGTERM');
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(result, null, 1));
  fs.rmSync(collector.dataDir, { recursive: true, force: true });
  log('wrote', OUT);
}

main().catch((e) => { console.error(e); process.exit(1); });
