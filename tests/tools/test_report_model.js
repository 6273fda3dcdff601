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
          { label: 'ES L', mdf: { initial_hz: 80, slope_hz_per_s: -0.5, slope_pct_per_s: -0.625 },
            rms: { initial_uv: 100, slope_uv_per_s: 0.2, slope_pct_per_s: 0.2 } },
          { label: 'ES R', mdf: { initial_hz: 70, slope_hz_per_s: 0.1, slope_pct_per_s: 0.142857 },
            rms: { initial_uv: 90, slope_uv_per_s: -0.9, slope_pct_per_s: -1 } },
        ],
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

test('JASA quadrants follow the signs of the MDF and RMS slopes', () => {
  assert.equal(report.jasaQuadrant(-0.3, 0.2), 'fatigue');
  assert.equal(report.jasaQuadrant(0.3, 0.2), 'force increase');
  assert.equal(report.jasaQuadrant(-0.3, -0.2), 'force decrease');
  assert.equal(report.jasaQuadrant(0.3, -0.2), 'recovery');
  assert.equal(report.jasaQuadrant(0, 0.2), 'undetermined');
  assert.equal(report.jasaQuadrant(null, 0.2), 'undetermined');
  const points = report.jasaPoints(report.createModel(data()));
  assert.deepEqual(points.map((p) => [p.label, p.side, p.quadrant]),
                   [['ES L', 'left', 'fatigue'], ['ES R', 'right', 'recovery']]);
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
