#!/usr/bin/env node
// history.html in headless Chromium with the network off, end to end through the `semg` command:
//   - three simulated visits of one subject (two bilateral pairs, four channels), each analysed
//     into a fresh session log, then `semg history S01`;
//   - at 1366 x 768 the page loads with no console error, exception or request, and the first
//     site's table (left, right, AI) is inside the first screen;
//   - every chart has one point per visit in each series and its first series' colour on its canvas;
//   - a screenshot of the first screen is written (docs/images/history.png is made from it).
// The DevTools-protocol browser of test_report_browser.js is reused. Without Chromium: exit 77.
//
// node test_history_browser.js --semg PATH --work DIR --screenshot FILE
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { Browser, openPage, findChromium } = require('./test_report_browser.js');

const SKIP = 77;
const failures = [];
function check(condition, message) {
  if (!condition) {
    failures.push(message);
    console.error('FAIL: ' + message);
  }
  return condition;
}

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!['semg', 'work', 'screenshot'].includes(key)) throw new Error('unknown argument ' + argv[i]);
    args[key] = argv[i + 1];
  }
  for (const need of ['semg', 'work', 'screenshot']) if (!args[need]) throw new Error('missing --' + need);
  return args;
}

function run(semg, args) {
  const r = spawnSync(semg, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('semg ' + args.join(' ') + ' failed (' + r.status + '):\n' + r.stdout + r.stderr);
  return r.stdout;
}

const PAGE_FACTS = `(() => {
  const h = window.semgHistory;
  const hex = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const charts = h.charts.map((c) => {
    const canvas = c.plot.root.querySelector('canvas');
    const [R, G, B] = hex(c.series[0].stroke);
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let colour = 0;
    for (let i = 0; i < px.length; i += 4)
      if (px[i + 3] > 200 && Math.abs(px[i] - R) + Math.abs(px[i + 1] - G) + Math.abs(px[i + 2] - B) < 60) colour++;
    return { title: c.title, points: c.series.map((s) => s.points), colour: colour };
  });
  const box = (e) => { const r = e.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, left: r.left, right: r.right }; };
  const tables = Array.from(document.querySelectorAll('table.site-table'));
  return { ready: h.ready, errors: h.errors, charts: charts, tables: tables.map(box),
           rows: tables.map((t) => t.querySelectorAll('tbody tr').length),
           beyond: document.querySelectorAll('td.change.beyond').length,
           viewport: [window.innerWidth, window.innerHeight],
           resources: performance.getEntriesByType('resource').map((e) => e.name) };
})()`;

async function main() {
  const args = parseArgs(process.argv);
  const chromium = findChromium();
  if (!chromium) {
    console.log('SKIPPED: no Chromium (install Debian\'s package: apt-get install -y chromium; or set CHROMIUM=/path)');
    process.exit(SKIP);
  }
  fs.rmSync(args.work, { recursive: true, force: true });
  fs.mkdirSync(args.work, { recursive: true });
  const db = path.join(args.work, 'sessions.sqlite');
  const visits = [[1.4, 1.35], [0.9, 1.2], [0.4, 1.05]];
  visits.forEach(([fatigue, imbalance], i) => {
    const file = path.join(args.work, 'visit' + (i + 1) + '.bdf');
    run(args.semg, ['simulate', file, '--hold-s', '30', '--rest-s', '3', '--pairs', '2', '--seed', String(i + 21),
                    '--fatigue-pct-per-s', String(fatigue), '--imbalance', String(imbalance), '-q']);
    run(args.semg, ['analyze', file, '-q', '--db', db, '--subject', 'S01', '--session', String(i + 1),
                    '--note', 'week ' + (2 * i)]);
  });
  run(args.semg, ['history', 'S01', '--db', db, '--out', path.join(args.work, 'history'), '-q']);
  const file = path.join(args.work, 'history', 'history.html');

  const profile = fs.mkdtempSync(path.join(args.work, 'chromium-profile-'));
  const browser = new Browser(chromium, profile);
  const watchdog = setTimeout(() => {
    console.error('FAIL: timed out; chromium stderr:\n' + browser.stderr);
    browser.child.kill('SIGKILL');
    process.exit(1);
  }, 120 * 1000);
  try {
    const page = await openPage(browser);
    await page.send('Emulation.setDeviceMetricsOverride', { width: 1366, height: 768, deviceScaleFactor: 1, mobile: false });
    const loaded = browser.waitFor('Page.loadEventFired', page.sessionId, 30000);
    await page.send('Page.navigate', { url: 'file://' + path.resolve(file) });
    await loaded;
    for (let i = 0; i < 100; i++) {
      if (await page.evaluate('window.semgHistory ? window.semgHistory.ready : null') !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.settle();
    const f = await page.evaluate(PAGE_FACTS);
    check(f.ready === true, 'the page did not finish drawing');
    check(f.errors.length === 0, 'page errors: ' + f.errors.join('; '));
    check(f.viewport[0] === 1366 && f.viewport[1] === 768, 'viewport ' + f.viewport);
    check(f.tables.length === 2, f.tables.length + ' site tables, expected 2 (two pairs)');
    check(f.rows.every((n) => n === visits.length), 'rows per site table ' + f.rows + ', expected ' + visits.length);
    const first = f.tables[0];
    check(first && first.top >= 0 && first.bottom <= 768 && first.left >= 0 && first.right <= 1366,
          'the first site table is not inside the first 1366 x 768 screen: ' + JSON.stringify(first));
    check(f.charts.length === 4, f.charts.length + ' charts, expected 4 (slope and AI for each site)');
    for (const c of f.charts) {
      check(c.points.every((n) => n === visits.length), c.title + ': points ' + c.points + ', expected ' + visits.length);
      check(c.colour > 20, c.title + ': its first series is not drawn (' + c.colour + ' pixels of its colour)');
    }
    check(f.resources.length === 0, 'resources loaded: ' + f.resources.join(', '));
    const png = await page.send('Page.captureScreenshot', { format: 'png', clip: { x: 0, y: 0, width: 1366, height: 768, scale: 1 } });
    fs.writeFileSync(args.screenshot, Buffer.from(png.data, 'base64'));
    await page.settle();
    check(page.problems.length === 0, 'problems in the browser:\n  ' + page.problems.join('\n  '));
    console.log('test_history_browser: ' + f.charts.length + ' charts, ' + f.tables.length + ' site tables, ' + f.beyond +
                ' changes beyond the MDC; screenshot ' + args.screenshot);
  } finally {
    clearTimeout(watchdog);
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error('test_history_browser: ' + failures.length + ' failure(s)');
    process.exit(1);
  }
  console.log('test_history_browser: passed');
}

main().catch((e) => {
  console.error('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
