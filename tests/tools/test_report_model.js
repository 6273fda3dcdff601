// The data model of report.html (report/web/report.js) without a browser: what the charts and
// tables are built from. Run with `node --test tests/tools/test_report_model.js`.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const report = require(path.join(__dirname, '..', '..', 'report', 'web', 'report.js'));

// Two channels of one pair, one contraction 10-20 s with fits, three epochs each.
function data() {
  return {
    format: 1,
    summary: {
      settings: { epoch_s: 1, overlap: 0.5, amplitude_asymmetry: { flag_threshold_pct: 10 } },
      channels: [
        { label: 'ES L', side: 'left', muscle: 'erector_spinae', level: 'L3' },
        { label: 'ES R', side: 'right', muscle: 'erector_spinae', level: 'L3' },
      ],
      pairs: [{ left: 'ES L', right: 'ES R', muscle: 'erector_spinae', level: 'L3', amplitude_asymmetry_pct: 4 }],
      contractions: [{
        start_s: 10, end_s: 20,
        channels: [
          { label: 'ES L', jasa: 'fatigue',
            mdf: { initial_hz: 80, slope_hz_per_s: -0.5, slope_pct_per_s: -0.625, slope_ci95_pct_per_s: [-0.8, -0.45] },
            rms: { initial_uv: 100, slope_uv_per_s: 0.2, slope_pct_per_s: 0.2 } },
          { label: 'ES R', jasa: 'recovery', mdf: { initial_hz: 70, slope_hz_per_s: 0.1, slope_pct_per_s: 0.142857 },
            rms: { initial_uv: 90, slope_uv_per_s: -0.9, slope_pct_per_s: -1 } },
        ],
        pairs: [{ left: 'ES L', right: 'ES R', amplitude_asymmetry_pct: 12.5, amplitude_asymmetry_ci95_pct: [11, 14], flagged: true }],
      }],
    },
    epochs: {
      quality_names: ['ok', 'empty_spectrum', 'clipping|mains'],
      channels: [
        { label: 'ES L', t: [5, 12, 18], mdf: [150, 79, null], mnf: [160, 90, null], rms: [2, 101, 0], q: [0, 0, 1] },
        { label: 'ES R', t: [5, 12, 18], mdf: [140, 70, 71], mnf: [150, 80, 81], rms: [2, 88, 95], q: [0, 2, 0] },
      ],
    },
    pairs: [{ left: 'ES L', right: 'ES R', muscle: 'erector_spinae', level: 'L3', t: [5, 12, 18], ai: [0, 6.9, null], lr: [1, 1.1, null] }],
  };
}

test('the model keeps the summary order and every epoch', () => {
  const m = report.createModel(data());
  assert.deepEqual(m.channels.map((c) => c.label), ['ES L', 'ES R']);
  assert.deepEqual(m.channels[0].mdf, [150, 79, null]);
  assert.deepEqual(m.channels[1].quality, ['ok', 'clipping|mains', 'ok']);
  assert.equal(m.channels[0].site.side, 'left');
  assert.equal(m.pairs.length, 1);
  assert.deepEqual(m.pairs[0].ai, [0, 6.9, null]);
  assert.equal(m.pairs[0].fit.amplitude_asymmetry_pct, 4);
});

test('the regression line is initial + slope * (t - start), only inside the contraction', () => {
  const m = report.createModel(data());
  assert.deepEqual(report.fitValues(m, 'ES L', 'mdf', [5, 10, 12, 20, 25]), [null, 80, 79, 75, null]);
  assert.deepEqual(report.fitValues(m, 'ES L', 'rms', [10, 15]), [100, 101]);
  assert.deepEqual(report.fitValues(m, 'nobody', 'mdf', [12]), [null]);
});

test('quality counts: one per flagged epoch, and one per flag for combined flags', () => {
  const q = report.qualityTable(report.createModel(data()));
  assert.deepEqual(q.flags, ['clipping', 'empty_spectrum', 'mains']);
  assert.deepEqual(q.rows[0], { label: 'ES L', epochs: 3, flagged: 1, counts: { empty_spectrum: 1 } });
  assert.deepEqual(q.rows[1], { label: 'ES R', epochs: 3, flagged: 1, counts: { clipping: 1, mains: 1 } });
});

test('JASA classes are summary.json\'s, not computed again from the slopes', () => {
  const d = data();
  d.summary.contractions[0].channels[1].jasa = 'undetermined'; // the analysis' word stands
  const points = report.jasaPoints(report.createModel(d));
  assert.deepEqual(points.map((p) => [p.label, p.side, p.quadrant]),
                   [['ES L', 'left', 'fatigue'], ['ES R', 'right', 'undetermined']]);
});

test('the summary rows put left and right of a site side by side, numbers from summary.json', () => {
  const m = report.createModel(data());
  const rows = report.summaryRows(m, 0);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].site, 'erector spinae L3');
  assert.equal(rows[0].left.label, 'ES L');
  assert.equal(rows[0].right.label, 'ES R');
  assert.equal(rows[0].left.imf, 80);
  assert.deepEqual(rows[0].left.ci, [-0.8, -0.45]);
  assert.equal(rows[0].right.ci, undefined); // not in summary.json: not computed here either
  assert.deepEqual(rows[0].aiCi, [11, 14]);
  assert.equal(rows[0].aiFlagged, true);
  const flags = report.summaryFlags(m, 0).map((f) => f.text);
  assert.ok(flags.some((t) => /1 of 2 channels show a fatigue pattern \(MDF falling while RMS rises\) \(JASA\): ES L$/.test(t)), flags.join('\n'));
  assert.ok(flags.some((t) => /erector spinae L3: left and right amplitudes differ by \+12\.5 %/.test(t)), flags.join('\n'));
  // MDF / IMF in % inside the contraction, unflagged epochs only.
  assert.deepEqual(report.normalisedMdf(m, m.channels[0]), [null, 100 * 79 / 80, null]);
  assert.deepEqual(report.normalisedMdf(m, m.channels[1]), [null, null, 100 * 71 / 70]);
});

test('appendEpochs adds rows as epochs.csv has them, new channels included', () => {
  const m = report.createModel(data());
  const touched = report.appendEpochs(m, [
    { t_start_s: '18.5', t_end_s: '19.5', channel: 'ES L', mdf_hz: '70.5', mnf_hz: 'nan', rms_uv: 99, quality: 'ok' },
    { t_start_s: 18.5, t_end_s: 19.5, channel: 'MF L', mdf_hz: 60, mnf_hz: 70, rms_uv: 50, quality: 'empty_spectrum' },
    { channel: 'ES L' }, // no time: ignored
  ]);
  assert.deepEqual(touched, ['ES L', 'MF L']);
  assert.deepEqual(m.channels[0].t, [5, 12, 18, 19]);
  assert.deepEqual(m.channels[0].mdf, [150, 79, null, 70.5]);
  assert.deepEqual(m.channels[0].mnf, [160, 90, null, null]);
  assert.equal(m.channels[2].label, 'MF L');
  assert.deepEqual(m.channels[2].quality, ['empty_spectrum']);
  const pairs = report.appendPairEpochs(m, [{ t_start_s: 18.5, t_end_s: 19.5, left: 'ES L', right: 'ES R', ai_pct: '2.5' }]);
  assert.equal(pairs.length, 1);
  assert.deepEqual(m.pairs[0].ai, [0, 6.9, null, 2.5]);
});

test('an empty model (the start of a live session) is valid', () => {
  const m = report.createModel({ summary: { channels: [] } });
  assert.equal(m.channels.length, 0);
  assert.deepEqual(report.qualityTable(m), { flags: [], rows: [] });
  assert.deepEqual(report.jasaPoints(m), []);
  report.appendEpochs(m, [{ t_start_s: 0, t_end_s: 1, channel: 'A', mdf_hz: 80, mnf_hz: 90, rms_uv: 10, quality: 'ok' }]);
  assert.deepEqual(report.fitValues(m, 'A', 'mdf', m.channels[0].t), [null]);
});

test('series on different time grids align on one sorted axis', () => {
  const [x, a, b] = report.alignSeries([[1, 2, 3], [2, 4]], [[10, 20, 30], [200, 400]]);
  assert.deepEqual(x, [1, 2, 3, 4]);
  assert.deepEqual(a, [10, 20, 30, null]);
  assert.deepEqual(b, [null, 200, null, 400]);
});

test('flagged epochs become merged spans one hop wide', () => {
  const ch = { t: [1, 1.5, 2, 4], quality: ['x', 'x', 'ok', 'y'] };
  assert.deepEqual(report.flaggedSpans(ch, 0.5), [[0.75, 1.75], [3.75, 4.25]]);
});

test('numbers show with a real minus sign and a dash for missing values', () => {
  assert.equal(report.fmt(-0.4012, 2), '\u22120.40');
  assert.equal(report.fmt(null, 2), '\u2013');
  assert.equal(report.fmt(NaN, 2), '\u2013');
});

test('tick labels carry the decimals of the tick step', () => {
  assert.equal(report.tickDecimals(10), 0);
  assert.equal(report.tickDecimals(2.5), 1);
  assert.equal(report.tickDecimals(0.05), 2);
  assert.equal(report.tickDecimals(0.25), 2);
});

// ---- live use: the capture dashboard ------------------------------------------------------

function epochRows(t, labels, mdf) {
  return labels.map((label, i) => ({ t_start_s: t, t_end_s: t + 1, channel: label, mdf_hz: mdf + i, mnf_hz: mdf + 10,
                                     rms_uv: 50, quality: i === 1 ? 'mains' : 'ok' }));
}

test('a summary at the end brings fits, sites and pair facts and keeps the epochs', () => {
  const full = data();
  const m = report.createModel({ summary: { channels: full.summary.channels, pairs: [{ left: 'ES L', right: 'ES R' }] } });
  report.appendEpochs(m, epochRows(11, ['ES L', 'ES R'], 80));
  assert.deepEqual(report.fitValues(m, 'ES L', 'mdf', [12]), [null], 'no fit before the summary');
  report.setSummary(m, Object.assign({}, full.summary, {
    channels: [Object.assign({ jasa: 'fatigue' }, full.summary.channels[0]), full.summary.channels[1]],
  }));
  assert.deepEqual(report.fitValues(m, 'ES L', 'mdf', [12]), [79]);
  assert.equal(m.channels[0].site.jasa, 'fatigue');
  assert.equal(m.pairs[0].fit.amplitude_asymmetry_pct, 4);
  assert.deepEqual(m.channels[0].mdf, [80], 'the epochs stay');
  assert.equal(report.jasaPoints(m).length, 2);
});

test('capPoints keeps the newest epochs per chart and every epoch in the quality counts', () => {
  const m = report.createModel({ summary: { channels: [{ label: 'A' }, { label: 'B' }] } });
  for (let t = 0; t < 5; t++) {
    report.appendEpochs(m, epochRows(t, ['A', 'B'], 80 + t));
    report.appendPairEpochs(m, [{ t_start_s: t, t_end_s: t + 1, left: 'A', right: 'B', ai_pct: t }]);
    report.capPoints(m, 3);
  }
  assert.deepEqual(m.channels[0].t, [2.5, 3.5, 4.5]);
  assert.deepEqual(m.channels[0].mdf, [82, 83, 84]);
  assert.deepEqual(m.channels[1].quality, ['mains', 'mains', 'mains']);
  assert.deepEqual(m.pairs[0].ai, [2, 3, 4]);
  assert.equal(m.droppedEpochs, 4, 'two epochs of two channels');
  const q = report.qualityTable(m);
  assert.deepEqual(q.rows.map((r) => [r.label, r.epochs, r.flagged]), [['A', 5, 0], ['B', 5, 5]]);
  assert.deepEqual(q.flags, ['mains']);
});

test('the live feed adds epochs once, counts what the server dropped and ends with the summary', () => {
  const m = report.createModel({ summary: { channels: [{ label: 'A' }] } });
  const calls = [];
  const target = {
    model: m,
    appendEpochs: (rows) => { calls.push(['epochs', rows.length]); report.appendEpochs(m, rows); },
    appendPairEpochs: (rows) => { calls.push(['pairs', rows.length]); report.appendPairEpochs(m, rows); },
    setSummary: (s) => { calls.push(['summary']); report.setSummary(m, s); },
  };
  const feed = new report.LiveFeed(target);
  feed.receive({ type: 'hello', summary: {} });
  feed.receive({ type: 'epoch', seq: 0, epochs: epochRows(0, ['A'], 80), pairs: [] });
  feed.receive({ type: 'epoch', seq: 3, epochs: epochRows(1.5, ['A'], 81), pairs: [] });
  assert.equal(feed.missed, 2, 'seq 1 and 2 never came');
  // After a reconnection the server replays what it kept: only the new epoch is added.
  feed.receive({ type: 'epoch', seq: 4, replay: true,
                 epochs: epochRows(0, ['A'], 80).concat(epochRows(1.5, ['A'], 81), epochRows(2, ['A'], 82)), pairs: [] });
  assert.equal(feed.missed, 2);
  assert.deepEqual(m.channels[0].mdf, [80, 81, 82]);
  assert.equal(feed.epochs, 3);
  feed.receive({ type: 'health', frames: 100, lost_samples: 0 });
  assert.equal(feed.health.frames, 100);
  assert.equal(feed.state, 'receiving');
  // The fits so far update the model without ending the feed.
  feed.receive({ type: 'fits', summary: { channels: [{ label: 'A', jasa: 'fatigue' }], contractions: [] } });
  assert.equal(feed.state, 'receiving');
  assert.equal(m.channels[0].site.jasa, 'fatigue');
  feed.receive({ type: 'summary', summary: { channels: [{ label: 'A', jasa: 'recovery' }], contractions: [] } });
  assert.equal(feed.state, 'ended');
  assert.equal(m.channels[0].site.jasa, 'recovery');
  feed.receive({ type: 'fits', summary: { channels: [{ label: 'A', jasa: 'fatigue' }], contractions: [] } });
  assert.equal(m.channels[0].site.jasa, 'recovery', 'fits after the summary are ignored');
  assert.deepEqual(calls.map((c) => c[0]), ['epochs', 'epochs', 'epochs', 'summary', 'summary']);
  feed.receive({ type: 'summary', summary: null, error: 'raw recording failed' });
  assert.equal(feed.error, 'raw recording failed');
});

test('a withheld fit (null, with a reason) draws no line, no JASA point and says why', () => {
  const d = data();
  const con = d.summary.contractions[0];
  con.kind = 'repeated_bursts';
  con.bursts = 12;
  Object.assign(con.channels[0], {
    mdf: null, mnf: null, rms: null, jasa: null,
    no_fit_reason: '3 usable epochs of 30 (10 %); a fit needs at least 10 making up 50 % of the contraction',
  });
  d.summary.contraction_warning = null;
  const m = report.createModel(d);
  assert.deepEqual(report.fitValues(m, 'ES L', 'mdf', [10, 12]), [null, null]);
  assert.deepEqual(report.fitValues(m, 'ES L', 'rms', [10, 12]), [null, null]);
  assert.deepEqual(report.fitValues(m, 'ES R', 'mdf', [10]), [70]); // the other channel keeps its fit
  assert.deepEqual(report.jasaPoints(m).map((p) => p.label), ['ES R']);
  assert.deepEqual(report.noFitNotes(m), [{ contraction: 0, label: 'ES L', reason: con.channels[0].no_fit_reason }]);
  assert.match(report.contractionKind(m.contractions[0]), /^12 repeated bursts, fitted across bursts/);
  assert.equal(report.contractionKind({ kind: 'sustained' }), '');
});

test('IMF recovery is summary.json\'s: per step and channel, % of the previous and of the first', () => {
  const d = data();
  const con = (start, imfL, imfR) => ({ start_s: start, end_s: start + 10, channels: [
    { label: 'ES L', mdf: { initial_hz: imfL } }, { label: 'ES R', mdf: { initial_hz: imfR } }] });
  d.summary.contractions = [con(10, 80, 70), con(30, 76, 70), con(50, 72, null)];
  d.summary.imf_recovery = [
    { from_index: 0, to_index: 1, rest_s: 10, median_imf_pct_of_previous: 97.5, median_imf_pct_of_first: 97.5,
      channels_with_values: 2, channels: [
        { label: 'ES L', imf_hz: 76, imf_pct_of_previous: 95, imf_pct_of_first: 95 },
        { label: 'ES R', imf_hz: 70, imf_pct_of_previous: 100, imf_pct_of_first: 100 }] },
    { from_index: 1, to_index: 2, rest_s: 10, median_imf_pct_of_previous: 94.7368, median_imf_pct_of_first: 90,
      channels_with_values: 1, channels: [
        { label: 'ES L', imf_hz: 72, imf_pct_of_previous: 94.7368, imf_pct_of_first: 90 },
        { label: 'ES R', imf_hz: null, imf_pct_of_previous: null, imf_pct_of_first: null }] },
  ];
  const model = report.createModel(d);
  const steps = report.recoverySteps(model);
  assert.deepEqual(steps.map((s) => [s.from, s.to, s.rest]), [[1, 2, 10], [2, 3, 10]]);
  // Columns: C2 % of C1, C3 % of C2, C3 % of C1 (the second step's own "of the first").
  assert.deepEqual(report.recoveryRows(model, ['ES L', 'ES R', 'other']),
                   [['ES L', 95, 94.7368, 90], ['ES R', 100, null, null], ['other', null, null, null]]);
  assert.equal(report.recoveryLine(model),
               'IMF recovery between contractions (median over channels): contraction 2 after 10.0 s rest at 97.5 % ' +
               'of contraction 1; contraction 3 after 10.0 s rest at 94.7 % of contraction 2 (90.0 % of contraction 1)');
  delete d.summary.imf_recovery;
  assert.equal(report.recoveryLine(report.createModel(d)), null);
});
