'use strict';
// Design aid (not part of `cargo xtask bench`): what saving the recorder's
// unacknowledged events in `localStorage` costs the page per event, for the
// layout the recorder uses (one key per event, removed when acknowledged) and
// for chunked layouts (one key per N events, rewritten as each event is added,
// removed when all N are acknowledged). Every storage call runs in its own task,
// as an event handler's would, and the page is cross-origin isolated so that
// `performance.now()` has 5 µs resolution instead of 100 µs.
//
//   NODE_PATH=bench/node_modules node bench/storage.js [events] [reps]
const http = require('http');
const { chromium } = require('playwright-core');

const EVENTS = +(process.argv[2] || 1024);
const REPS = +(process.argv[3] || 3);
const ACK_EVERY = 16; // events per acknowledged batch

async function measure(events, chunk, ackEvery) {
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const event = '{"seq":0,"ts":1700000000000,"mono":1234,"actor":{"kind":"customer"},"type":"CLICK","data":{"target":{"id":"buy","tag":"button","path":"main>button#buy","label":"Add to cart"},"x":10,"y":20}}';
  localStorage.clear();
  let ms = 0;
  let text = '';
  const open = []; // keys not yet removed, with the seq after their last event
  for (let seq = 0; seq < events; seq++) {
    await tick();
    let t0 = performance.now();
    if (chunk === 1) {
      const key = 'cotrail|e|s|t|' + seq;
      localStorage.setItem(key, event);
      open.push([key, seq + 1]);
    } else {
      if (seq % chunk === 0) {
        text = '';
        open.push(['cotrail|c|s|t|' + seq, seq + chunk]);
      }
      text += (text ? '\n' : '') + seq + ' ' + event;
      localStorage.setItem(open[open.length - 1][0], text);
    }
    ms += performance.now() - t0;
    if ((seq + 1) % ackEvery === 0) {
      await tick();
      t0 = performance.now();
      while (open.length && open[0][1] <= seq + 1) localStorage.removeItem(open.shift()[0]);
      ms += performance.now() - t0;
    }
  }
  localStorage.clear();
  return (ms / events) * 1000;
}

(async () => {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, {
      'content-type': 'text/html',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    res.end('<!doctype html><title>storage</title>');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${srv.address().port}/`);
  if (!(await page.evaluate(() => self.crossOriginIsolated))) throw new Error('page is not cross-origin isolated: timer resolution would be 100 µs');
  const chunks = [1, 4, 8, 16, 32];
  const results = Object.fromEntries(chunks.map((c) => [c, []]));
  // Interleaved repetitions, so a slow moment of the machine hits every layout.
  for (let rep = 0; rep < REPS; rep++) {
    for (const chunk of chunks) {
      results[chunk].push(await page.evaluate(`(${measure})(${EVENTS}, ${chunk}, ${ACK_EVERY})`));
    }
  }
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const base = median(results[1]);
  console.log(`${EVENTS} events, batches of ${ACK_EVERY} acknowledged, median of ${REPS}`);
  for (const chunk of chunks) {
    const m = median(results[chunk]);
    console.log(`${chunk === 1 ? 'one key per event' : `one key per ${chunk} events`}`.padEnd(24), `${m.toFixed(1).padStart(6)} µs/event`, `${(m / base).toFixed(2)}x`);
  }
  await browser.close();
  srv.close();
})().catch((e) => { console.error(e); process.exit(1); });
