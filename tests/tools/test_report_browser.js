#!/usr/bin/env node
// report.html in headless Chromium with the network off, end to end through the `semg` command:
//   - `semg analyze` then `semg report DIR` on the bundled dataset (8 channels, 4 pairs) and on a
//     simulated 16-channel recording with two contractions and an electrode that comes off, and
//     on one with three contractions (the IMF recovery table per muscle and its summary line,
//     values as summary.json's imf_recovery);
//   - the page loads with no console error, no exception, no request and nothing blocked;
//   - every chart exists, has the number of points the CSV files say, and its first series'
//     colour is on its canvas; the tables and every ISEK item are there; print style applies;
//   - appendEpochs() (the live-dashboard entry point) adds a point to the charts;
//   - a screenshot of the bundled dataset's report is written for a person to look at;
//   - the live dashboard: `semg capture --dashboard` of `semg simulate --serial` over a socat pty
//     pair (skipped with a message without socat), its page opened while the capture runs: the
//     charts grow, the status line shows the link's health, and when the capture ends the page
//     passes the same checks as report.html against the capture's own result files.
// Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no
// dependency beyond Node. Without Chromium it installs Debian's package when run as root, else
// exits 77 (skipped) with a message.
//
// node test_report_browser.js --semg PATH --dataset FILE --work DIR --screenshot FILE
//      [--screenshot-height PX] [--screenshot-scale S] [--screenshot-collapse ID,ID...]
//      [--first-screen FILE]   (the bundled report's first 1366 x 768 px, as a laptop shows it)
// (docs/report.md: the README's docs/images/report.png is made with the --screenshot-* options)
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const SKIP = 77;

function parseArgs(argv) {
  const args = { screenshotHeight: 0, screenshotScale: 1, screenshotCollapse: [] };
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === '--semg') args.semg = value;
    else if (key === '--dataset') args.dataset = value;
    else if (key === '--work') args.work = value;
    else if (key === '--screenshot') args.screenshot = value;
    else if (key === '--screenshot-height') args.screenshotHeight = Number(value);
    else if (key === '--screenshot-scale') args.screenshotScale = Number(value);
    else if (key === '--screenshot-collapse') args.screenshotCollapse = value.split(',').filter(Boolean);
    else if (key === '--first-screen') args.firstScreen = value;
    else throw new Error('unknown argument ' + key);
    i++;
  }
  for (const need of ['semg', 'dataset', 'work', 'screenshot']) {
    if (!args[need]) throw new Error('missing --' + need);
  }
  return args;
}

// ---- failures ---------------------------------------------------------------------------

const failures = [];
function check(condition, message) {
  if (!condition) {
    failures.push(message);
    console.error('FAIL: ' + message);
  }
  return condition;
}

// ---- Chromium ---------------------------------------------------------------------------

function which(name) {
  if (name.includes('/')) return fs.existsSync(name) ? name : null;
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch (e) { /* next */ }
  }
  return null;
}

function findChromium() {
  const names = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
  for (const name of names) {
    if (!name) continue;
    const found = which(name);
    if (found) return found;
  }
  return null;
}

function installChromium() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || !which('apt-get')) return false;
  console.log('test_report_browser: chromium is missing; installing Debian\'s package (apt-get install chromium)');
  const env = Object.assign({}, process.env, { DEBIAN_FRONTEND: 'noninteractive' });
  const options = { env: env, stdio: 'inherit', timeout: 15 * 60 * 1000 };
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'chromium'], options);
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], options);
    r = spawnSync('apt-get', ['install', '-y', '-q', 'chromium'], options);
  }
  return r.status === 0;
}

// The DevTools protocol over --remote-debugging-pipe: JSON messages separated by NUL, Chromium
// reads fd 3 and writes fd 4.
class Browser {
  constructor(executable, profileDir) {
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    this.stderr = '';
    this.child = spawn(executable, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--no-default-browser-check', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-extensions', '--disable-default-apps', '--mute-audio', '--hide-scrollbars',
      // No name resolves; 127.0.0.1 (the live dashboard) is reached as a literal address.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--user-data-dir=' + profileDir,
      '--remote-debugging-pipe', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-4000); });
    let buffer = '';
    this.child.stdio[4].on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let end;
      while ((end = buffer.indexOf('\0')) >= 0) {
        const message = JSON.parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 1);
        this.dispatch(message);
      }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.on('exit', (code) => {
      for (const { reject } of this.pending.values()) reject(new Error('chromium exited (' + code + '): ' + this.stderr));
      this.pending.clear();
    });
  }

  dispatch(message) {
    if (message.id !== undefined) {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(waiter.method + ': ' + message.error.message));
      else waiter.resolve(message.result);
      return;
    }
    for (const listener of this.listeners.slice()) listener(message);
  }

  send(method, params, sessionId) {
    const id = this.nextId++;
    const message = { id: id, method: method, params: params || {} };
    if (sessionId) message.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve, reject: reject, method: method });
      this.child.stdio[3].write(JSON.stringify(message) + '\0');
    });
  }

  on(listener) {
    this.listeners.push(listener);
    return () => { this.listeners = this.listeners.filter((l) => l !== listener); };
  }

  waitFor(method, sessionId, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error('timed out waiting for ' + method)); }, timeoutMs);
      const off = this.on((m) => {
        if (m.method === method && m.sessionId === sessionId) {
          clearTimeout(timer);
          off();
          resolve(m.params);
        }
      });
    });
  }

  async close() {
    try {
      await Promise.race([this.send('Browser.close'), new Promise((r) => setTimeout(r, 3000))]);
    } catch (e) { /* already gone */ }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

// A page with the network emulated offline (or, for the live dashboard, only `origin` allowed);
// every console error, exception, log error and request for anything else is recorded.
async function openPage(browser, origin) {
  const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await browser.send('Target.attachToTarget', { targetId: targetId, flatten: true });
  const page = { sessionId: sessionId, problems: [] };
  page.send = (method, params) => browser.send(method, params, sessionId);
  browser.on((m) => {
    if (m.sessionId !== sessionId) return;
    const p = m.params || {};
    if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
      page.problems.push('console.' + p.type + ': ' + (p.args || []).map((a) => a.value !== undefined ? a.value : a.description).join(' '));
    } else if (m.method === 'Runtime.exceptionThrown') {
      const d = p.exceptionDetails || {};
      page.problems.push('exception: ' + (d.exception && d.exception.description ? d.exception.description : d.text));
    } else if (m.method === 'Log.entryAdded' && p.entry && p.entry.level === 'error') {
      page.problems.push('log: ' + p.entry.text + (p.entry.url ? ' (' + p.entry.url + ')' : ''));
    } else if (m.method === 'Network.requestWillBeSent' && p.request && !/^(file|data|about):/.test(p.request.url) &&
               !(origin && p.request.url.startsWith(origin))) {
      page.problems.push('network request: ' + p.request.url);
    }
  });
  await page.send('Page.enable');
  await page.send('Runtime.enable');
  await page.send('Log.enable');
  await page.send('Network.enable');
  if (!origin) {
    await page.send('Network.emulateNetworkConditions',
                    { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  }
  await page.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false });
  page.evaluate = async (expression) => {
    const r = await page.send('Runtime.evaluate', { expression: expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error('evaluate: ' + JSON.stringify(r.exceptionDetails).slice(0, 500));
    return r.result.value;
  };
  page.settle = () => page.evaluate('new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))');
  return page;
}

async function load(browser, page, file) {
  const loaded = browser.waitFor('Page.loadEventFired', page.sessionId, 30000);
  await page.send('Page.navigate', { url: /^https?:/.test(file) ? file : 'file://' + path.resolve(file) });
  await loaded;
  for (let i = 0; i < 100; i++) {
    const ready = await page.evaluate('window.semgReport ? window.semgReport.ready : null');
    if (ready !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.settle();
}

// ---- what the page should show, from the result files themselves ------------------------

function readCsv(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  const header = lines[0].split(',');
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    const row = {};
    header.forEach((h, i) => { row[h] = cells[i]; });
    return row;
  });
}

function isNumber(text) {
  return text !== undefined && text !== '' && isFinite(Number(text));
}

function expectations(dir) {
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  const epochs = readCsv(path.join(dir, 'epochs.csv'));
  const pairs = fs.existsSync(path.join(dir, 'pairs.csv')) ? readCsv(path.join(dir, 'pairs.csv')) : [];
  const channels = summary.channels.map((c) => {
    const rows = epochs.filter((r) => r.channel === c.label);
    const flagged = rows.filter((r) => r.quality !== 'ok');
    const flags = {};
    for (const r of flagged) for (const f of r.quality.split('|')) flags[f] = (flags[f] || 0) + 1;
    return {
      label: c.label,
      mdf: rows.filter((r) => isNumber(r.mdf_hz)).length,
      mnf: rows.filter((r) => isNumber(r.mnf_hz)).length,
      rms: rows.filter((r) => isNumber(r.rms_uv)).length,
      flagged: flagged.length,
      flaggedRms: flagged.filter((r) => isNumber(r.rms_uv)).length,
      flags: flags,
    };
  });
  const pairList = (summary.pairs || []).map((p) => ({
    left: p.left, right: p.right,
    ai: pairs.filter((r) => r.left === p.left && r.right === p.right && isNumber(r.ai_pct)).length,
  }));
  let jasa = 0;
  let noFit = 0; // fits summary.json withholds (null, with no_fit_reason)
  for (const con of summary.contractions || []) {
    for (const c of con.channels) {
      if (c.mdf && c.rms && typeof c.mdf.slope_pct_per_s === 'number' && typeof c.rms.slope_pct_per_s === 'number') jasa++;
      if (typeof c.no_fit_reason === 'string' && c.no_fit_reason) noFit++;
    }
  }
  return { summary: summary, channels: channels, pairs: pairList, jasa: jasa, noFit: noFit };
}

// Runs in the page: every chart's description and how many canvas pixels have the colour of its
// first series (so the data is drawn, not only described).
const PAGE_FACTS = `(() => {
  const r = window.semgReport;
  const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  const charts = r.charts.map((c) => {
    const box = document.getElementById(c.id);
    const canvas = box && box.querySelector('canvas');
    let colourPixels = -1;
    if (canvas && c.series.length && /^#[0-9a-f]{6}$/i.test(c.series[0].stroke)) {
      const [R, G, B] = hex(c.series[0].stroke);
      const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      colourPixels = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] > 200 && Math.abs(px[i] - R) + Math.abs(px[i + 1] - G) + Math.abs(px[i + 2] - B) < 60) colourPixels++;
      }
    }
    return { id: c.id, kind: c.kind, title: c.title, series: c.series, canvas: canvas ? [canvas.width, canvas.height] : null,
             colourPixels: colourPixels };
  });
  const text = (sel) => Array.from(document.querySelectorAll(sel)).map((e) => e.textContent);
  const qualityHeader = text('#quality thead th');
  const qualityRows = Array.from(document.querySelectorAll('#quality tbody tr')).map((tr) =>
    Array.from(tr.children).map((td) => td.textContent));
  return {
    ready: r.ready, errors: r.errors, charts: charts,
    sections: text('details.section').length, sectionIds: Array.from(document.querySelectorAll('details.section')).map((d) => d.id),
    isek: text('#recording .facts-table tbody th'), isekValues: text('#recording .facts-table tbody td'),
    fatigueRows: document.querySelectorAll('#fatigue > .section-body > .table-wrap tbody tr').length,
    noFitNotes: Array.from(document.querySelectorAll('#fatigue p.warning')).map((p) => p.textContent)
      .filter((t) => t.startsWith('No fit for ')).length,
    pairRows: document.querySelectorAll('#pairs > .section-body > .table-wrap tbody tr').length,
    summaryRows: document.querySelectorAll('#summary table.summary-lr tbody tr').length,
    groups: Array.from(document.querySelectorAll('#channels details.group')).map((d) => ({
      muscle: d.getAttribute('data-muscle'), open: d.open, cards: d.querySelectorAll('.card').length })),
    recoveryGroups: Array.from(document.querySelectorAll('#channels details.group')).map((d) => ({
      tables: d.querySelectorAll('table.recovery').length,
      header: Array.from(d.querySelectorAll('table.recovery thead th')).map((th) => th.textContent),
      rows: Array.from(d.querySelectorAll('table.recovery tbody tr')).map((tr) => Array.from(tr.children).map((c) => c.textContent)) })),
    recoveryLine: document.querySelector('#summary .recovery-line') ? document.querySelector('#summary .recovery-line').textContent : null,
    pairGroups: Array.from(document.querySelectorAll('#pairs details.group')).map((d) => ({
      muscle: d.getAttribute('data-muscle'), open: d.open, cards: d.querySelectorAll('.card').length })),
    qualityHeader: qualityHeader, qualityRows: qualityRows,
    resources: performance.getEntriesByType('resource').map((e) => e.name),
    scripts: Array.from(document.scripts).filter((s) => s.src).map((s) => s.src),
    styles: Array.from(document.querySelectorAll('link')).map((l) => l.href),
  };
})()`;

const ISEK_ITEMS = ['Input SHA-256', 'Sampling rate', 'Band-pass filter', 'Cut-offs', 'Mains', 'ECG', 'Epoch',
                    'Overlap', 'Window', 'PSD', 'MDF definition', 'Software'];

function checkReport(name, facts, expected) {
  const where = name + ': ';
  check(facts.ready === true, where + 'semgReport.ready is not true');
  check(facts.errors.length === 0, where + 'errors in the page: ' + JSON.stringify(facts.errors));
  check(facts.resources.length === 0, where + 'resources loaded: ' + facts.resources.join(', '));
  check(facts.scripts.length === 0 && facts.styles.length === 0, where + 'external scripts or styles');
  // Settings last: the summary and the fits come first.
  check(JSON.stringify(facts.sectionIds) === JSON.stringify(['fatigue', 'channels', 'pairs', 'jasa', 'quality', 'recording']),
        where + 'sections ' + JSON.stringify(facts.sectionIds));
  for (const item of ISEK_ITEMS) check(facts.isek.includes(item), where + 'ISEK item missing: ' + item);
  check(facts.isekValues.some((v) => v.includes(expected.summary.input.sha256)), where + 'input hash not shown');
  check(facts.isekValues.some((v) => v.includes(String(expected.summary.settings.filter.order))), where + 'filter order not shown');

  const byId = new Map(facts.charts.map((c) => [c.id, c]));
  const points = (id, series) => {
    const c = byId.get(id);
    if (!check(c, where + 'no chart ' + id)) return -1;
    const s = c.series.find((x) => x.label === series);
    return s ? s.points : -1;
  };
  const expectedCharts = expected.channels.length * 2 + expected.pairs.length * 2 + 2;
  // The summary's normalised MDF: one series per channel, drawn inside contractions.
  const norm = byId.get('chart-summary-mdf');
  if (check(norm, where + 'no normalised-MDF chart in the summary')) {
    check(norm.series.length === expected.channels.length, where + 'normalised MDF has ' + norm.series.length + ' series');
    check(norm.series.filter((x) => x.points > 0).length >= expected.channels.length - expected.noFit,
          where + 'normalised MDF: series without points ' + JSON.stringify(norm.series));
  }
  // One group per muscle (as summary.json names them); folded from 16 channels on.
  const muscles = new Set(expected.summary.channels.map((c) => c.muscle || ''));
  check(facts.groups.length === muscles.size, where + facts.groups.length + ' channel groups for ' + muscles.size + ' muscles');
  check(facts.groups.reduce((n, g) => n + g.cards, 0) === expected.channels.length, where + 'channel cards in groups ' + JSON.stringify(facts.groups));
  check(facts.pairGroups.reduce((n, g) => n + g.cards, 0) === expected.pairs.length, where + 'pair cards in groups ' + JSON.stringify(facts.pairGroups));
  const folded = expected.channels.length >= 16;
  check(facts.groups.concat(facts.pairGroups).every((g) => g.open === !folded), where + 'groups should be ' + (folded ? 'folded' : 'open'));
  check(facts.summaryRows === expected.pairs.length + expected.channels.length - 2 * expected.pairs.length,
        where + 'summary rows ' + facts.summaryRows + ': one per pair and per channel without a partner');
  check(facts.charts.length === expectedCharts, where + facts.charts.length + ' charts, expected ' + expectedCharts);
  expected.channels.forEach((ch, i) => {
    const f = 'chart-frequency-' + i;
    const r = 'chart-rms-' + i;
    check(byId.get(f) && byId.get(f).title.startsWith(ch.label), where + f + ' is not ' + ch.label);
    check(points(f, 'MDF') === ch.mdf, where + f + ' MDF points ' + points(f, 'MDF') + ' != ' + ch.mdf + ' (epochs.csv)');
    check(points(f, 'MNF') === ch.mnf, where + f + ' MNF points ' + points(f, 'MNF') + ' != ' + ch.mnf);
    check(points(f, 'MDF fit') > 0, where + f + ' has no MDF regression line');
    check(points(r, 'RMS') === ch.rms, where + r + ' RMS points ' + points(r, 'RMS') + ' != ' + ch.rms);
    check(points(r, 'RMS fit') > 0, where + r + ' has no RMS regression line');
    check(points(r, 'flagged') === ch.flaggedRms, where + r + ' flagged points ' + points(r, 'flagged') + ' != ' + ch.flaggedRms);
  });
  expected.pairs.forEach((p, i) => {
    const m = 'chart-pair-mdf-' + i;
    const a = 'chart-pair-ai-' + i;
    const left = expected.channels.find((c) => c.label === p.left);
    const right = expected.channels.find((c) => c.label === p.right);
    check(points(m, 'left ' + p.left) === left.mdf, where + m + ' left points ' + points(m, 'left ' + p.left) + ' != ' + left.mdf);
    check(points(m, 'right ' + p.right) === right.mdf, where + m + ' right points != ' + right.mdf);
    check(points(a, 'AI') === p.ai, where + a + ' AI points ' + points(a, 'AI') + ' != ' + p.ai + ' (pairs.csv)');
    check(byId.get(a) && byId.get(a).series.length === 3, where + a + ' has no threshold band');
  });
  const jasa = byId.get('chart-jasa');
  if (check(jasa, where + 'no JASA chart')) {
    const total = jasa.series.reduce((n, s) => n + s.points, 0);
    check(total === expected.jasa, where + 'JASA points ' + total + ' != ' + expected.jasa + ' (summary.json)');
  }
  for (const c of facts.charts) {
    check(c.canvas && c.canvas[0] > 200 && c.canvas[1] > 100, where + c.id + ' canvas ' + JSON.stringify(c.canvas));
    check(c.colourPixels > 20, where + c.id + ': its first series is not drawn (' + c.colourPixels + ' pixels of ' +
          (c.series[0] && c.series[0].stroke) + ')');
  }
  check(facts.fatigueRows === expected.channels.length * Math.max(1, (expected.summary.contractions || []).length),
        where + 'fatigue table rows ' + facts.fatigueRows);
  check(facts.noFitNotes === expected.noFit, where + facts.noFitNotes + ' "No fit for" notes, summary.json withholds ' +
        expected.noFit + ' fits');
  check(facts.pairRows === expected.pairs.length * Math.max(1, (expected.summary.contractions || []).length),
        where + 'pair table rows ' + facts.pairRows + ' (a table per contraction)');
  checkRecovery(where, facts, expected.summary);
  // Quality table: one row per channel, a column per flag, counts as in epochs.csv.
  check(facts.qualityRows.length === expected.channels.length, where + 'quality rows ' + facts.qualityRows.length);
  expected.channels.forEach((ch, i) => {
    const row = facts.qualityRows[i] || [];
    check(row[0] === ch.label && Number(row[2]) === ch.flagged,
          where + 'quality row ' + JSON.stringify(row) + ' expected ' + ch.label + ' with ' + ch.flagged + ' flagged');
    for (const flag of Object.keys(ch.flags)) {
      const col = facts.qualityHeader.indexOf(flag);
      check(col >= 0 && Number(row[col]) === ch.flags[flag], where + 'quality ' + ch.label + ' ' + flag + ' != ' + ch.flags[flag]);
    }
  });
}

// IMF recovery: with two or more contractions a table per muscle group (a row per channel, the
// values summary.json's imf_recovery gives, to one decimal) and one line in the summary; with one
// contraction neither.
function checkRecovery(where, facts, summary) {
  const steps = summary.imf_recovery || [];
  const contractions = (summary.contractions || []).length;
  check(steps.length === Math.max(0, contractions - 1), where + steps.length + ' imf_recovery steps for ' + contractions + ' contractions');
  const tables = facts.recoveryGroups.reduce((n, g) => n + g.tables, 0);
  if (!steps.length) {
    check(tables === 0 && facts.recoveryLine === null, where + 'recovery shown with one contraction');
    return;
  }
  check(facts.recoveryGroups.every((g) => g.tables === 1), where + 'recovery tables per group ' + JSON.stringify(facts.recoveryGroups.map((g) => g.tables)));
  // The page gets summary.json's numbers to 6 significant digits (docs/report.md) and shows one decimal.
  const shown = (v) => (typeof v === 'number' ? Number(v.toPrecision(6)).toFixed(1) : '\u2013');
  const columns = [];
  for (const s of steps) {
    columns.push({ title: 'C' + (s.to_index + 1) + ' % of C' + (s.from_index + 1), step: s, key: 'imf_pct_of_previous' });
    if (s.from_index > 0) columns.push({ title: 'C' + (s.to_index + 1) + ' % of C1', step: s, key: 'imf_pct_of_first' });
  }
  const rows = [].concat(...facts.recoveryGroups.map((g) => g.rows));
  check(rows.length === summary.channels.length, where + rows.length + ' recovery rows for ' + summary.channels.length + ' channels');
  for (const g of facts.recoveryGroups) {
    check(JSON.stringify(g.header) === JSON.stringify(['Channel'].concat(columns.map((c) => c.title))),
          where + 'recovery header ' + JSON.stringify(g.header));
  }
  for (const row of rows) {
    const want = [row[0]].concat(columns.map((c) => shown((c.step.channels.find((x) => x.label === row[0]) || {})[c.key])));
    check(JSON.stringify(row) === JSON.stringify(want), where + 'recovery row ' + JSON.stringify(row) + ' expected ' + JSON.stringify(want));
  }
  if (check(typeof facts.recoveryLine === 'string', where + 'no recovery line in the summary')) {
    for (const s of steps) {
      const part = 'contraction ' + (s.to_index + 1) + ' after ' + Number(s.rest_s.toPrecision(6)).toFixed(1) + ' s rest at ' +
        shown(s.median_imf_pct_of_previous) + ' % of contraction ' + (s.from_index + 1);
      check(facts.recoveryLine.includes(part), where + 'recovery line "' + facts.recoveryLine + '" lacks "' + part + '"');
    }
  }
}

// ---- the first screen --------------------------------------------------------------------

// At 1366 x 768 (a laptop), scrolled to the top: the summary table with left and right per site,
// its normalised-MDF chart, the flags and the reference line end within the first 768 px, and
// the settings come after the fits. Returns the measured boxes (CSS px, page coordinates).
async function checkFirstScreen(page, name, shot) {
  await page.send('Emulation.setDeviceMetricsOverride', { width: 1366, height: 768, deviceScaleFactor: 1, mobile: false });
  await page.evaluate('window.scrollTo(0, 0)');
  await page.settle();
  const m = await page.evaluate(`(() => {
    const box = (sel) => { const e = document.querySelector(sel); if (!e) return null;
      const r = e.getBoundingClientRect(); return { top: Math.round(r.top + scrollY), bottom: Math.round(r.bottom + scrollY),
                                                     left: Math.round(r.left), right: Math.round(r.right) }; };
    const rows = Array.from(document.querySelectorAll('#summary table.summary-lr tbody tr'));
    const last = rows.length ? rows[rows.length - 1].getBoundingClientRect().bottom + scrollY : null;
    return { viewport: [innerWidth, innerHeight], table: box('#summary table.summary-lr'), left: box('#summary th.key-left'),
             right: box('#summary th.key-right'), balance: box('#summary th.key-balance'),
             wrap: box('#summary .summary-table .table-wrap'), chart: box('#chart-summary-mdf'), flags: box('#summary .flags'),
             reference: box('#summary .reference'), summary: box('#summary'), lastRow: last === null ? null : Math.round(last),
             rows: rows.length, fatigue: box('#fatigue'), recording: box('#recording'), pageHeight: document.documentElement.scrollHeight };
  })()`);
  const where = name + ' at 1366x768: ';
  check(m.viewport[0] === 1366 && m.viewport[1] === 768, where + 'viewport ' + JSON.stringify(m.viewport));
  for (const key of ['table', 'left', 'right', 'balance', 'chart', 'flags', 'reference']) {
    if (check(m[key], where + 'no ' + key + ' in the summary')) {
      check(m[key].bottom <= 768 && m[key].right <= 1366, where + key + ' ends at ' + JSON.stringify(m[key]) + ', outside the first screen');
    }
  }
  // Not scrolled away inside the table's box either: the whole table is visible.
  if (m.wrap && m.table) check(m.table.right <= m.wrap.right + 1, where + 'the summary table is wider than its box: ' + JSON.stringify([m.table, m.wrap]));
  check(m.lastRow !== null && m.lastRow <= 768, where + 'the last site row ends at ' + m.lastRow + ' px');
  if (m.left && m.right) check(m.left.top === m.right.top && m.left.right <= m.right.left, where + 'left and right are not side by side');
  check(m.recording && m.fatigue && m.recording.top > m.fatigue.bottom, where + 'the settings are not after the fits');
  if (shot) {
    const png = await page.send('Page.captureScreenshot', { format: 'png', clip: { x: 0, y: 0, width: 1366, height: 768, scale: 1 } });
    fs.mkdirSync(path.dirname(path.resolve(shot)), { recursive: true });
    fs.writeFileSync(shot, Buffer.from(png.data, 'base64'));
    console.log('test_report_browser: first screen ' + path.resolve(shot));
  }
  console.log('test_report_browser: ' + name + ' first screen at 1366x768 (' + m.rows + ' site rows): summary ' +
              m.summary.top + '-' + m.summary.bottom + ' px, left/right table ' + m.table.top + '-' + m.table.bottom +
              ' px, chart ' + m.chart.top + '-' + m.chart.bottom + ' px, flags end ' + m.flags.bottom + ' px, reference ends ' +
              m.reference.bottom + ' px; fits start ' + m.fatigue.top + ' px, settings start ' + m.recording.top + ' px of ' +
              m.pageHeight + ' px');
  await page.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false });
  await page.settle();
  return m;
}

// ---- the runs ---------------------------------------------------------------------------

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(cmd + ' ' + args.join(' ') + ' failed (' + r.status + '):\n' + r.stdout + r.stderr);
  return r.stdout;
}

function makeReport(semg, input, dir, extraAnalyzeArgs) {
  fs.rmSync(dir, { recursive: true, force: true });
  run(semg, ['analyze', input, '--out', dir, '-q'].concat(extraAnalyzeArgs || []));
  fs.rmSync(path.join(dir, 'report.html'), { force: true }); // `semg report` must make it
  run(semg, ['report', dir, '-q']);
  const file = path.join(dir, 'report.html');
  check(fs.existsSync(file), dir + ': semg report wrote no report.html');
  const html = fs.readFileSync(file, 'utf8');
  check(!/<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=/i.test(html), file + ': refers to an external file');
  check(fs.readdirSync(dir).every((f) => !f.includes('.tmp')), dir + ': temporary file left behind');
  return file;
}

// The page as a person sees it at 1400 px; sections listed in `collapse` closed first (as the
// page's own toggles do) and opened again afterwards.
async function screenshot(page, file, maxHeight, scale, collapse) {
  const toggle = (open) => page.evaluate('(' + JSON.stringify(collapse) + ').forEach((id) => { document.getElementById(id).open = ' + open + '; })');
  await toggle(false);
  await page.settle();
  const metrics = await page.send('Page.getLayoutMetrics');
  const size = metrics.cssContentSize || metrics.contentSize;
  const height = Math.ceil(maxHeight > 0 ? Math.min(size.height, maxHeight) : size.height);
  await page.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: height, deviceScaleFactor: 1, mobile: false });
  await page.settle();
  const shot = await page.send('Page.captureScreenshot', {
    format: 'png', clip: { x: 0, y: 0, width: 1400, height: height, scale: scale },
  });
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, Buffer.from(shot.data, 'base64'));
  await toggle(true);
  await page.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false });
  await page.settle();
  console.log('test_report_browser: screenshot ' + path.resolve(file) + ' (1400 x ' + height + ' px, scale ' + scale + ')');
}

// ---- the live dashboard ------------------------------------------------------------------

function waitForOutput(child, pattern, timeoutMs) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('timed out waiting for ' + pattern + ' in:\n' + text)), timeoutMs);
    const onData = (d) => {
      text += d;
      const m = text.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', onData);
  });
}

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

// `semg capture --dashboard` of a simulated device on a socat pty pair; the page, opened as soon
// as the stream's format is known, must draw the epochs as they come and, at the end, everything
// report.html draws from the same result files.
async function checkLive(args, browser) {
  const socat = which('socat');
  if (!socat) {
    console.log('test_report_browser: live dashboard check skipped: no socat (tools/install-deps.sh installs it)');
    return;
  }
  const dir = path.join(args.work, 'live');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const device = path.join(dir, 'dev-A');
  const host = path.join(dir, 'dev-B');
  const children = [];
  const start = (cmd, argv) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return child;
  };
  try {
    start(socat, ['-d', '-d', 'pty,raw,echo=0,link=' + device, 'pty,raw,echo=0,link=' + host]);
    for (let i = 0; i < 100 && !(fs.existsSync(device) && fs.existsSync(host)); i++) await new Promise((r) => setTimeout(r, 50));
    const out = path.join(dir, 'capture.semg');
    const capture = start(args.semg, ['capture', '--port', host, '--protocol', 'ascii', '--fs', '1000', '--channel-count', '4',
                                      '--duration-s', '9', '--out', out, '--dashboard', '127.0.0.1:0', '--live', 'none',
                                      // not -q: it silences the notice with the stream's format
                                      // epochs from the first second: template subtraction holds
                                      // back its warm-up (up to 15 s without an ECG)
                                      '--ecg', 'highpass']);
    let captureLog = '';
    capture.stderr.on('data', (d) => { captureLog += d; });
    const url = (await waitForOutput(capture, /dashboard \(read-only\): (http:\/\/127\.0\.0\.1:\d+\/)/, 20000))[1];
    start(args.semg, ['simulate', '--serial', device, '--protocol', 'ascii', '--fs', '1000', '--pairs', '2',
                      '--rest-s', '1', '--hold-s', '7', '--seed', '4']);
    await waitForOutput(capture, /4 channels at 1000 Hz/, 20000);

    const page = await openPage(browser, url.replace(/\/$/, ''));
    await load(browser, page, url);
    const state = () => page.evaluate(`(() => {
      const r = window.semgReport;
      if (!r || !r.live) return null;
      return { state: r.live.state, epochs: r.live.epochs, missed: r.live.missed, errors: r.errors,
               points: r.charts.filter((c) => c.kind === 'channel-frequency').map((c) => c.series[0].points),
               status: (document.getElementById('live') || {}).textContent || '' };
    })()`);
    let first = null;
    let grown = null;
    for (let i = 0; i < 300; i++) {
      const s = await state();
      if (s && s.points.length && s.points[0] > 0 && !first) first = s;
      if (first && s.points[0] > first.points[0] && s.state === 'receiving') grown = s;
      if (s && s.state === 'ended') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    check(first !== null, 'live: no epoch drawn while the capture ran');
    check(grown !== null, 'live: the charts did not grow during the capture');
    if (grown) {
      check(/Live capture/.test(grown.status) && /frames/.test(grown.status) && /lost 0 samples/.test(grown.status),
            'live: the status line shows no health: ' + grown.status);
    }
    check(await exited(capture) === 0, 'live: semg capture failed:\n' + captureLog);
    const end = await state();
    check(end && end.state === 'ended', 'live: the page did not see the end: ' + JSON.stringify(end));
    check(end && end.missed === 0, 'live: the page missed epochs: ' + JSON.stringify(end));
    await page.settle();
    const facts = await page.evaluate(PAGE_FACTS);
    checkReport('live', facts, expectations(out));
    check(page.problems.length === 0, 'live: problems in the browser:\n  ' + page.problems.join('\n  '));
    console.log('test_report_browser: live: ' + end.epochs + ' epochs drawn as they came, ' + facts.charts.length +
                ' charts checked at the end');
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  }
}

async function main() {
  const args = parseArgs(process.argv);
  let chromium = findChromium();
  if (!chromium && installChromium()) chromium = findChromium();
  if (!chromium) {
    console.log('SKIPPED: no Chromium (install Debian\'s package: apt-get install -y chromium; or set CHROMIUM=/path)');
    process.exit(SKIP);
  }
  fs.mkdirSync(args.work, { recursive: true });

  // 1. The bundled dataset.
  const bundled = makeReport(args.semg, args.dataset, path.join(args.work, 'bundled'));
  // 2. Many channels, two contractions, an electrode coming off (flagged epochs).
  const sim = path.join(args.work, 'many.bdf');
  run(args.semg, ['simulate', sim, '--pairs', '8', '--contraction-count', '2', '--hold-s', '30', '--rest-s', '4',
                  '--fs', '1024', '--flatline', '2:20', '--seed', '3', '-q']);
  const many = makeReport(args.semg, sim, path.join(args.work, 'many'));
  // 3. Four channels (two pairs), the smallest bilateral montage.
  const simFour = path.join(args.work, 'four.bdf');
  run(args.semg, ['simulate', simFour, '--pairs', '2', '--hold-s', '40', '--rest-s', '3', '--fs', '2048', '--seed', '5', '-q']);
  const four = makeReport(args.semg, simFour, path.join(args.work, 'four'));
  // 4. Three contractions with rests between them: the IMF recovery table and summary line.
  const simCycles = path.join(args.work, 'cycles.bdf');
  run(args.semg, ['simulate', simCycles, '--pairs', '2', '--contraction-count', '3', '--hold-s', '15', '--rest-s', '10',
                  '--fs', '2048', '--seed', '7', '-q']);
  const cycles = makeReport(args.semg, simCycles, path.join(args.work, 'cycles'));

  const profile = fs.mkdtempSync(path.join(args.work, 'chromium-profile-'));
  const browser = new Browser(chromium, profile);
  const watchdog = setTimeout(() => {
    console.error('FAIL: timed out; chromium stderr:\n' + browser.stderr);
    browser.child.kill('SIGKILL');
    process.exit(1);
  }, 240 * 1000);
  try {
    await browser.send('Browser.getVersion').then((v) => console.log('test_report_browser: ' + v.product));
    for (const [name, file] of [['bundled', bundled], ['many', many], ['four', four], ['cycles', cycles]]) {
      const page = await openPage(browser);
      await load(browser, page, file);
      const facts = await page.evaluate(PAGE_FACTS);
      const expected = expectations(path.dirname(file));
      checkReport(name, facts, expected);
      await checkFirstScreen(page, name, name === 'bundled' ? args.firstScreen : null);
      if (name === 'four') check(expected.channels.length === 4, 'four: ' + expected.channels.length + ' channels, expected 4');
      if (name === 'cycles') {
        check((expected.summary.contractions || []).length === 3, 'cycles: ' + (expected.summary.contractions || []).length + ' contractions, expected 3');
        check(facts.recoveryGroups.some((g) => g.header.includes('C3 % of C1')), 'cycles: no column of the third contraction against the first');
      }
      if (name === 'many') {
        check(expected.channels.length === 16, 'many: ' + expected.channels.length + ' channels, expected 16');
        check(expected.channels.some((c) => c.flagged > 0), 'many: the simulated electrode-off gave no flagged epoch');
        check(expected.noFit > 0, 'many: the electrode-off channel should have no fit in the second contraction');
      }
      if (name === 'bundled') {
        await screenshot(page, args.screenshot, args.screenshotHeight, args.screenshotScale, args.screenshotCollapse);
      }

      // Print: white background, a page break before each section after the first.
      await page.send('Emulation.setEmulatedMedia', { media: 'print' });
      const print = await page.evaluate(`(() => {
        const s = Array.from(document.querySelectorAll('details.section')).map((d) => getComputedStyle(d).breakBefore);
        return { background: getComputedStyle(document.body).backgroundColor, breaks: s,
                 toolbar: getComputedStyle(document.querySelector('.toolbar')).display };
      })()`);
      await page.send('Emulation.setEmulatedMedia', { media: '' });
      check(print.background === 'rgb(255, 255, 255)', name + ': print background ' + print.background);
      check(print.breaks.slice(1).every((b) => b === 'page'), name + ': print page breaks ' + JSON.stringify(print.breaks));
      check(print.toolbar === 'none', name + ': toolbar printed');

      // The live-dashboard entry point: one more epoch per channel, one more point per chart.
      const live = await page.evaluate(`(() => {
        const r = window.semgReport;
        const ch = r.model.channels[0];
        const pair = r.model.pairs[0];
        const t = ch.t[ch.t.length - 1] + 0.5;
        const before = r.charts.map((c) => c.series[0].points);
        r.appendEpochs([{ t_start_s: t - 0.5, t_end_s: t + 0.5, channel: ch.label, mdf_hz: 61.5, mnf_hz: 70.25,
                          rms_uv: 80, quality: 'ok' }]);
        if (pair) r.appendPairEpochs([{ t_start_s: t - 0.5, t_end_s: t + 0.5, left: pair.left, right: pair.right, ai_pct: 3.5 }]);
        const after = r.charts.map((c) => c.series[0].points);
        return { before: before, after: after, ids: r.charts.map((c) => c.id) };
      })()`);
      const grew = live.ids.filter((id, i) => live.after[i] !== live.before[i]);
      const expectGrown = ['chart-frequency-0', 'chart-rms-0'].concat(expected.pairs.length ? ['chart-pair-mdf-0', 'chart-pair-ai-0'] : []);
      check(JSON.stringify(grew.sort()) === JSON.stringify(expectGrown.sort()),
            name + ': appendEpochs/appendPairEpochs changed ' + JSON.stringify(grew) + ', expected ' + JSON.stringify(expectGrown));
      for (const id of grew) {
        const i = live.ids.indexOf(id);
        check(live.after[i] === live.before[i] + 1, name + ': ' + id + ' grew by ' + (live.after[i] - live.before[i]));
      }

      await page.settle();
      check(page.problems.length === 0, name + ': problems in the browser:\n  ' + page.problems.join('\n  '));
      console.log('test_report_browser: ' + name + ': ' + facts.charts.length + ' charts checked');
    }
    await checkLive(args, browser);
  } finally {
    clearTimeout(watchdog);
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error('test_report_browser: ' + failures.length + ' failure(s)');
    process.exit(1);
  }
  console.log('test_report_browser: passed');
}

if (require.main === module) {
  main().catch((e) => {
    console.error('FAIL: ' + (e && e.stack ? e.stack : e));
    process.exit(1);
  });
} else {
  module.exports = { Browser: Browser, openPage: openPage, load: load, findChromium: findChromium };
}
