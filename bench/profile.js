'use strict';
// Profiling aid for tuning the recorder (not a benchmark; `cargo xtask bench` is):
// runs the benchmark trace once in one arm under the CDP sampling profiler and
// prints script time, Storage calls made by the page (count, time, bytes) and the
// functions with the most self time; the whole profile goes to
// /tmp/prof/<arm>.cpuprofile (open it in Chrome DevTools).
//
//   cargo xtask build && cargo build --release -p collector
//   node bench/profile.js target/release/collector www [cotrail|rrweb]
const fs = require('fs'); const os = require('os'); const path = require('path'); const http = require('http');
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');
const { pageHtml } = require('./page');
const BIN = process.argv[2], WWW = process.argv[3], ARM = process.argv[4] || 'cotrail';
const COUNTS = { click: 1000, input: 1000, scroll: 200, nav: 100, select: 100, custom: 100, submit: 10 };
(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cotrail-prof-'));
  const child = spawn(BIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--www-dir', WWW], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise((res) => { let b = ''; const on = (d) => { b += d; const m = b.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/); if (m) res(+m[1]); }; child.stdout.on('data', on); child.stderr.on('data', on); });
  const curl = `http://127.0.0.1:${port}`;
  const rr = fs.readFileSync(path.join(__dirname, 'node_modules/@rrweb/record/dist/record.umd.min.cjs'));
  const srv = http.createServer((req, res) => { const u = new URL(req.url, 'http://x');
    if (req.method === 'POST') { req.resume(); req.on('end', () => { res.writeHead(204); res.end(); }); return; }
    if (u.pathname === '/rrweb.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(rr); return; }
    res.writeHead(200, { 'content-type': 'text/html' }); res.end(pageHtml(u.searchParams.get('arm') || 'none', { collector: curl })); });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage();
  await page.addInitScript(() => { const c = window.__sc = {}; for (const m of ['setItem','removeItem','getItem','key']) { const o = Storage.prototype[m]; Storage.prototype[m] = function (...a) { const t = performance.now(); try { return o.apply(this, a); } finally { const k = (this === window.localStorage ? 'ls.' : 'ss.') + m; const e = c[k] || (c[k] = { n: 0, ms: 0, bytes: 0 }); e.n++; e.ms += performance.now() - t; e.bytes += a[1] ? a[1].length : 0; } }; } });
  const cdp = await page.context().newCDPSession(page);
  await page.goto(`http://127.0.0.1:${srv.address().port}/?arm=${ARM}`);
  await page.evaluate(() => window.__bench.ready);
  await new Promise((r) => setTimeout(r, 1500));
  await cdp.send('Performance.enable');
  await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  const m0 = (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ScriptDuration').value;
  await cdp.send('Profiler.start');
  await page.evaluate((c) => window.__runTrace(c), COUNTS);
  await page.evaluate(() => window.__bench.flush());
  await new Promise((r) => setTimeout(r, 2500));
  const { profile } = await cdp.send('Profiler.stop');
  const m1 = (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ScriptDuration').value;
  console.log(JSON.stringify(await page.evaluate(() => window.__sc))); console.log('script ms', ((m1 - m0) * 1000).toFixed(1));
  fs.mkdirSync('/tmp/prof', { recursive: true }); fs.writeFileSync('/tmp/prof/' + ARM + '.cpuprofile', JSON.stringify(profile));
  const self = new Map(); const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas; const counts = new Map();
  profile.samples.forEach((id, i) => counts.set(id, (counts.get(id) || 0) + (dt[i] || 0)));
  for (const [id, us] of counts) { const n = byId.get(id); const k = n.callFrame.functionName + ' ' + (n.callFrame.url || '').split('/').pop() + ':' + n.callFrame.lineNumber; self.set(k, (self.get(k) || 0) + us); }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 40);
  for (const [k, us] of top) console.log((us / 1000).toFixed(1).padStart(8), 'ms', k);
  await browser.close(); child.kill(); srv.close();
})();
