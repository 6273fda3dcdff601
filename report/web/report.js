// semg report: draws a fatigue analysis with uPlot. Plain JavaScript, no build step, no framework.
//
// The data (embedded in report.html by `semg report`; layout in docs/report.md):
//   {format: 1, summary: <summary.json>,
//    epochs: {quality_names: [...], channels: [{label, t, mdf, mnf, rms, q[, rms_pct_mvc]}]},
//    pairs: [{left, right, muscle, level, t, ai, lr}]}
// t is the epoch centre in s; q indexes quality_names ("ok" is 0); null is a missing value.
//
// Two layers:
//   - the model (createModel, appendEpochs, appendPairEpochs, fitValues, qualityTable, jasaPoints,
//     recoverySteps)
//     is plain data without the DOM, and is tested under Node;
//   - the view (render) draws the model. report.appendEpochs(rows) adds epochs and redraws only
//     the charts they touch, and report.setSummary(summary) redraws the page with new fits and
//     tables, so the live dashboard of `semg capture --dashboard` renders an empty model and
//     feeds it epochs as they arrive over its WebSocket (connectLive; docs/report.md, "Live use").
(function (global) {
  'use strict';

  // ---------------------------------------------------------------------------------------
  // Model
  // ---------------------------------------------------------------------------------------

  function finite(v) {
    return typeof v === 'number' && isFinite(v);
  }

  function numberOrNull(v) {
    if (v === null || v === undefined || v === '') return null;
    const n = typeof v === 'number' ? v : Number(v);
    return isFinite(n) ? n : null;
  }

  function get(obj, path) {
    let v = obj;
    for (const key of path.split('.')) {
      if (v === null || v === undefined || typeof v !== 'object') return undefined;
      v = v[key];
    }
    return v;
  }

  function countFinite(values) {
    let n = 0;
    for (const v of values) if (finite(v)) n++;
    return n;
  }

  // The contractions with their fits; summary.json lists each under "contractions".
  function contractionsOf(summary) {
    const list = Array.isArray(summary.contractions) ? summary.contractions : [];
    return list.filter(function (c) {
      return c && finite(c.start_s) && finite(c.end_s);
    });
  }

  function addChannel(model, label, site) {
    let ch = model.channelIndex.get(label);
    if (!ch) {
      ch = { label: label, site: {}, t: [], mdf: [], mnf: [], rms: [], mvc: [], quality: [] };
      model.channelIndex.set(label, ch);
      model.channels.push(ch);
    }
    if (site) ch.site = site;
    return ch;
  }

  function addPair(model, left, right, facts) {
    const key = left + '\u0000' + right;
    let pair = model.pairIndex.get(key);
    if (!pair) {
      pair = { left: left, right: right, muscle: '', level: '', fit: null, t: [], ai: [], lr: [] };
      model.pairIndex.set(key, pair);
      model.pairs.push(pair);
    }
    if (facts) {
      if (facts.muscle) pair.muscle = facts.muscle;
      if (facts.level) pair.level = facts.level;
      if ('amplitude_asymmetry_pct' in facts) pair.fit = facts;
    }
    return pair;
  }

  function pushEpoch(ch, t, mdf, mnf, rms, quality, mvc) {
    ch.t.push(t);
    ch.mdf.push(numberOrNull(mdf));
    ch.mnf.push(numberOrNull(mnf));
    ch.rms.push(numberOrNull(rms));
    ch.mvc.push(numberOrNull(mvc));
    ch.quality.push(quality || 'ok');
  }

  function createModel(data) {
    data = data || {};
    const summary = data.summary || {};
    const epochs = data.epochs || {};
    const names = Array.isArray(epochs.quality_names) ? epochs.quality_names : ['ok'];
    const model = {
      summary: summary,
      settings: summary.settings || {},
      contractions: contractionsOf(summary),
      channels: [],
      pairs: [],
      channelIndex: new Map(),
      pairIndex: new Map(),
    };
    for (const ch of summary.channels || []) if (ch && ch.label !== undefined) addChannel(model, String(ch.label), ch);
    model.stride = epochs.stride || 1;
    for (const s of epochs.channels || []) {
      const ch = addChannel(model, String(s.label), null);
      // Counts over every epoch of the file, also those a long recording's charts leave out.
      if (s.flag_counts) ch.flagCounts = { epochs: s.epochs, flagged: s.flagged, counts: s.flag_counts };
      const n = (s.t || []).length;
      for (let i = 0; i < n; i++) {
        pushEpoch(ch, s.t[i], s.mdf && s.mdf[i], s.mnf && s.mnf[i], s.rms && s.rms[i],
                  names[s.q ? s.q[i] : 0], s.rms_pct_mvc ? s.rms_pct_mvc[i] : null);
      }
    }
    for (const p of summary.pairs || []) if (p && p.left !== undefined) addPair(model, p.left, p.right, p);
    for (const p of data.pairs || []) {
      const pair = addPair(model, p.left, p.right, p);
      const n = (p.t || []).length;
      for (let i = 0; i < n; i++) {
        pair.t.push(p.t[i]);
        pair.ai.push(numberOrNull(p.ai && p.ai[i]));
        pair.lr.push(numberOrNull(p.lr && p.lr[i]));
      }
    }
    return model;
  }

  function epochCentre(row) {
    const start = numberOrNull(row.t_start_s);
    const end = numberOrNull(row.t_end_s);
    if (start !== null && end !== null) return (start + end) / 2;
    return numberOrNull(row.t_s);
  }

  // Rows as in epochs.csv (objects with its column names). Returns the labels of the channels
  // that changed, new channels included.
  function appendEpochs(model, rows) {
    const touched = new Set();
    for (const row of rows || []) {
      const t = epochCentre(row);
      if (t === null || row.channel === undefined) continue;
      const ch = addChannel(model, String(row.channel), null);
      pushEpoch(ch, t, row.mdf_hz, row.mnf_hz, row.rms_uv, row.quality, row.rms_pct_mvc);
      if (ch.flagCounts) countQuality(ch.flagCounts, row.quality || 'ok');
      touched.add(ch.label);
    }
    return Array.from(touched);
  }

  // A new summary (summary.json, or the capture's at its end): settings, contractions with their
  // fits, sites and pair facts. The epochs stay.
  function setSummary(model, summary) {
    summary = summary || {};
    model.summary = summary;
    model.settings = summary.settings || {};
    model.contractions = contractionsOf(summary);
    for (const ch of summary.channels || []) if (ch && ch.label !== undefined) addChannel(model, String(ch.label), ch);
    for (const p of summary.pairs || []) if (p && p.left !== undefined) addPair(model, p.left, p.right, p);
    return model;
  }

  // Keeps at most `max` epochs per channel and pair, dropping the oldest, so that a long live
  // session does not grow the page without end. Quality counts keep every epoch. Returns the
  // number of channel epochs dropped now; model.droppedEpochs counts them all.
  function capPoints(model, max) {
    let dropped = 0;
    const cut = function (series, keys) {
      const n = series.t.length - max;
      if (n <= 0) return 0;
      for (const key of keys) series[key].splice(0, n);
      return n;
    };
    for (const ch of model.channels) {
      if (ch.t.length > max && !ch.flagCounts) ch.flagCounts = tallyQuality(ch.quality);
      dropped += cut(ch, ['t', 'mdf', 'mnf', 'rms', 'mvc', 'quality']);
    }
    for (const pair of model.pairs) cut(pair, ['t', 'ai', 'lr']);
    model.droppedEpochs = (model.droppedEpochs || 0) + dropped;
    return dropped;
  }

  // Rows as in pairs.csv. Returns the pairs that changed.
  function appendPairEpochs(model, rows) {
    const touched = new Set();
    for (const row of rows || []) {
      const t = epochCentre(row);
      if (t === null || row.left === undefined || row.right === undefined) continue;
      const pair = addPair(model, String(row.left), String(row.right), row);
      pair.t.push(t);
      pair.ai.push(numberOrNull(row.ai_pct));
      pair.lr.push(numberOrNull(row.lr_ratio));
      touched.add(pair);
    }
    return Array.from(touched);
  }

  function isFlagged(quality) {
    return quality !== 'ok' && quality !== '';
  }

  // The fit of one feature ("mdf", "mnf" or "rms") of one channel in contraction k.
  function channelFit(model, k, label, feature) {
    const con = model.contractions[k];
    if (!con || !Array.isArray(con.channels)) return null;
    const ch = con.channels.find(function (c) { return c && c.label === label; });
    return ch && ch[feature] ? ch[feature] : null;
  }

  // Channels whose fit summary.json withholds (too few usable epochs, or bursts): there the fits
  // are null and no_fit_reason says why. One {contraction, label, reason} each.
  function noFitNotes(model) {
    const notes = [];
    model.contractions.forEach(function (con, k) {
      for (const c of con.channels || []) {
        if (c && typeof c.no_fit_reason === 'string' && c.no_fit_reason) {
          notes.push({ contraction: k, label: c.label, reason: c.no_fit_reason });
        }
      }
    });
    return notes;
  }

  // How a contraction was fitted, for captions: repeated bursts are fitted across bursts.
  function contractionKind(con) {
    if (con && con.kind === 'repeated_bursts') {
      return (finite(con.bursts) ? con.bursts + ' repeated bursts' : 'repeated bursts') +
        ', fitted across bursts (one point per burst)';
    }
    return '';
  }

  // The regression line at each time in t: initial + slope * (t - contraction start), for times
  // inside a contraction with a fit; null elsewhere, so separate contractions stay separate.
  function fitValues(model, label, feature, t) {
    const out = new Array(t.length).fill(null);
    model.contractions.forEach(function (con, k) {
      const fit = channelFit(model, k, label, feature);
      if (!fit) return;
      const initial = finite(fit.initial_hz) ? fit.initial_hz : fit.initial_uv;
      const slope = finite(fit.slope_hz_per_s) ? fit.slope_hz_per_s : fit.slope_uv_per_s;
      if (!finite(initial) || !finite(slope)) return;
      for (let i = 0; i < t.length; i++) {
        if (t[i] >= con.start_s && t[i] <= con.end_s) out[i] = initial + slope * (t[i] - con.start_s);
      }
    });
    return out;
  }

  // Adds one epoch's quality to {epochs, flagged, counts} ("a|b" counts for a and for b).
  function countQuality(tally, quality) {
    tally.epochs++;
    if (!isFlagged(quality)) return;
    tally.flagged++;
    for (const name of quality.split('|')) {
      if (name && name !== 'ok') tally.counts[name] = (tally.counts[name] || 0) + 1;
    }
  }

  function tallyQuality(qualities) {
    const tally = { epochs: 0, flagged: 0, counts: {} };
    for (const q of qualities) countQuality(tally, q);
    return tally;
  }

  // Per channel: epochs, flagged epochs and a count per flag.
  function qualityTable(model) {
    const flags = new Set();
    const rows = model.channels.map(function (ch) {
      const tally = ch.flagCounts || tallyQuality(ch.quality);
      for (const name of Object.keys(tally.counts)) flags.add(name);
      return { label: ch.label, epochs: tally.epochs, flagged: tally.flagged, counts: tally.counts };
    });
    return { flags: Array.from(flags).sort(), rows: rows };
  }

  // One point per channel and contraction: normalised MDF slope and RMS slope in %/s, with the
  // JASA class summary.json gives (the rule lives in the analysis, not here).
  function jasaPoints(model) {
    const points = [];
    model.contractions.forEach(function (con, k) {
      for (const c of con.channels || []) {
        const x = get(c, 'mdf.slope_pct_per_s');
        const y = get(c, 'rms.slope_pct_per_s');
        if (!finite(x) || !finite(y)) continue;
        const ch = model.channelIndex.get(c.label);
        points.push({
          label: c.label, side: ch && ch.site.side ? ch.site.side : 'unknown', contraction: k,
          x: x, y: y, quadrant: c.jasa ? String(c.jasa).replace(/_/g, ' ') : 'undetermined',
        });
      }
    });
    return points;
  }

  // Reference values from the literature, shown as such beside the summary (never a norm for
  // one person, never a diagnosis). Elfving et al. 2000: 55 healthy adults, lumbar extensors
  // held at 80 % MVC, MDF at L5.
  const REFERENCE = {
    citation: 'Elfving B, et al. J Rehabil Med 2000',
    population: 'healthy adults, lumbar extensors at L5, 80 % MVC',
    imf_hz: [52, 7.5], slope_pct_per_s: [-0.44, 0.25],
  };

  // The first screen's table: per site (bilateral pair, else a channel alone) the left and the
  // right channel's fit of contraction k (IMF, slope %/s and its CI, JASA class as summary.json
  // gives them) and the pair's AI with its CI and flag. Nothing is computed here: every number is
  // one of summary.json's.
  function summaryRows(model, k) {
    const con = model.contractions[k];
    const fitOf = function (label) {
      const c = con && Array.isArray(con.channels) ? con.channels.find(function (x) { return x && x.label === label; }) : null;
      if (!c) return null;
      return {
        label: label, imf: get(c, 'mdf.initial_hz'), slope: get(c, 'mdf.slope_pct_per_s'),
        ci: get(c, 'mdf.slope_ci95_pct_per_s'), jasa: c.jasa || null, noFit: c.no_fit_reason || null,
      };
    };
    const pairFitOf = function (pair) {
      const fits = con && Array.isArray(con.pairs) ? con.pairs : null;
      const f = fits ? fits.find(function (p) { return p.left === pair.left && p.right === pair.right; }) : null;
      return f || (k === 0 ? pair.fit : null);
    };
    const rows = [];
    const paired = new Set();
    for (const pair of model.pairs) {
      paired.add(pair.left);
      paired.add(pair.right);
      const f = pairFitOf(pair) || {};
      rows.push({
        site: pairTitle(pair), muscle: pair.muscle || '', left: fitOf(pair.left), right: fitOf(pair.right),
        ai: f.amplitude_asymmetry_pct, aiCi: f.amplitude_asymmetry_ci95_pct, aiFlagged: f.flagged === true ? true : (f.flagged === false ? false : null),
      });
    }
    for (const ch of model.channels) {
      if (paired.has(ch.label)) continue;
      const side = ch.site && ch.site.side;
      const fit = fitOf(ch.label);
      rows.push({
        site: [muscleText(ch.site && ch.site.muscle), ch.site && ch.site.level].filter(Boolean).join(' ') || ch.label,
        muscle: (ch.site && ch.site.muscle) || '', left: side === 'right' ? null : fit, right: side === 'right' ? fit : null,
        unpaired: true, ai: null, aiCi: null, aiFlagged: null,
      });
    }
    return rows;
  }

  // Flags in plain words, each from a field of summary.json: the contraction detection warning,
  // the JASA class of each channel, the pair flag (|AI| above the threshold), the quality verdict
  // and withheld fits. {level: 'warn' | 'info', text}.
  function summaryFlags(model, k) {
    const flags = [];
    const s = model.summary;
    if (typeof s.contraction_warning === 'string' && s.contraction_warning) {
      flags.push({ level: 'warn', text: 'Contractions: ' + s.contraction_warning });
    }
    const con = model.contractions[k];
    const byClass = {};
    for (const c of (con && con.channels) || []) {
      if (!c || !c.jasa || c.no_fit_reason) continue;
      (byClass[c.jasa] = byClass[c.jasa] || []).push(c.label);
    }
    const total = ((con && con.channels) || []).length;
    const words = {
      fatigue: 'a fatigue pattern (MDF falling while RMS rises)',
      force_decrease: 'MDF and RMS both falling (force decrease)',
      force_increase: 'MDF and RMS both rising (force increase)',
      recovery: 'MDF rising while RMS falls (recovery)',
      undetermined: 'no clear trend (a slope of zero)',
    };
    const others = function (labels) {
      return ((con && con.channels) || []).map(function (c) { return c.label; }).filter(function (l) { return labels.indexOf(l) < 0; });
    };
    for (const cls of Object.keys(byClass)) {
      const labels = byClass[cls];
      flags.push({
        level: cls === 'fatigue' ? 'warn' : 'info',
        text: labels.length + ' of ' + total + ' channels show ' + (words[cls] || cls.replace(/_/g, ' ')) + ' (JASA)' +
              (labels.length === total ? '' : labels.length > total / 2 ? ': all but ' + others(labels).join(', ') : ': ' + labels.join(', ')),
      });
    }
    const threshold = get(model.settings, 'amplitude_asymmetry.flag_threshold_pct');
    for (const r of summaryRows(model, k)) {
      if (r.aiFlagged) {
        flags.push({ level: 'warn', text: r.site + ': left and right amplitudes differ by ' + fmtSigned(r.ai, 1) +
                     ' % (AI), beyond the \u00b1' + fmt(threshold, 0) + ' % threshold' });
      }
    }
    const pairs = summaryRows(model, k).filter(function (r) { return r.aiFlagged === false; }).length;
    if (pairs && pairs === model.pairs.length) {
      flags.push({ level: 'info', text: 'Every pair is within the \u00b1' + fmt(threshold, 0) + ' % asymmetry threshold' });
    }
    for (const q of get(s, 'quality.channels') || []) {
      if (q && q.verdict && q.verdict !== 'good') {
        flags.push({ level: q.verdict === 'poor' ? 'warn' : 'info', text: 'Channel ' + q.label + ': quality ' + q.verdict + (q.reason ? ' (' + q.reason + ')' : '') });
      }
    }
    for (const n of noFitNotes(model)) {
      if (n.contraction === k) flags.push({ level: 'warn', text: 'No fit for ' + n.label + ': ' + n.reason });
    }
    return flags;
  }

  // IMF recovery between successive contractions, as summary.json's "imf_recovery" gives it
  // (docs/contractions.md): one step per pair of successive contractions, with the rest between
  // them and, per channel, the later contraction's IMF in % of the one before and of the first.
  // Nothing is computed here. Contractions are numbered from 1.
  function recoverySteps(model) {
    const list = Array.isArray(model.summary.imf_recovery) ? model.summary.imf_recovery : [];
    return list.filter(function (r) { return r && finite(r.from_index) && finite(r.to_index); }).map(function (r) {
      const channels = new Map();
      for (const c of Array.isArray(r.channels) ? r.channels : []) {
        if (c && c.label !== undefined) {
          channels.set(String(c.label), { imf: numberOrNull(c.imf_hz), ofPrevious: numberOrNull(c.imf_pct_of_previous),
                                          ofFirst: numberOrNull(c.imf_pct_of_first) });
        }
      }
      return {
        from: r.from_index + 1, to: r.to_index + 1, rest: numberOrNull(r.rest_s),
        medianOfPrevious: numberOrNull(r.median_imf_pct_of_previous), medianOfFirst: numberOrNull(r.median_imf_pct_of_first),
        channelsWithValues: finite(r.channels_with_values) ? r.channels_with_values : 0, channels: channels,
      };
    });
  }

  // The columns of the recovery table: per later contraction its IMF in % of the one before and,
  // from the third on, of the first. {title, step, key}.
  function recoveryColumns(steps) {
    const columns = [];
    for (const s of steps) {
      columns.push({ title: 'C' + s.to + ' % of C' + s.from, step: s, key: 'ofPrevious' });
      if (s.from > 1) columns.push({ title: 'C' + s.to + ' % of C1', step: s, key: 'ofFirst' });
    }
    return columns;
  }

  // One row per label: the label, then one value (or null) per column of recoveryColumns.
  function recoveryRows(model, labels) {
    const columns = recoveryColumns(recoverySteps(model));
    return labels.map(function (label) {
      return [label].concat(columns.map(function (col) {
        const c = col.step.channels.get(label);
        return c ? c[col.key] : null;
      }));
    });
  }

  // The first screen's line: null with fewer than two contractions.
  function recoveryLine(model) {
    const steps = recoverySteps(model);
    if (!steps.length) return null;
    const parts = steps.map(function (s) {
      const rest = finite(s.rest) ? ' after ' + fmt(s.rest, 1) + ' s rest' : '';
      if (!finite(s.medianOfPrevious)) return 'contraction ' + s.to + rest + ': no IMF to compare';
      return 'contraction ' + s.to + rest + ' at ' + fmt(s.medianOfPrevious, 1) + ' % of contraction ' + s.from +
        (s.from > 1 && finite(s.medianOfFirst) ? ' (' + fmt(s.medianOfFirst, 1) + ' % of contraction 1)' : '');
    });
    return 'IMF recovery between contractions (median over channels): ' + parts.join('; ');
  }

  // MDF / IMF per epoch in %, for every channel: inside each contraction, relative to that
  // contraction's IMF (summary.json); null outside contractions and where there is no fit.
  function normalisedMdf(model, ch) {
    const out = new Array(ch.t.length).fill(null);
    model.contractions.forEach(function (con, k) {
      const fit = channelFit(model, k, ch.label, 'mdf');
      const imf = fit ? fit.initial_hz : null;
      if (!finite(imf) || imf <= 0) return;
      for (let i = 0; i < ch.t.length; i++) {
        if (ch.t[i] >= con.start_s && ch.t[i] <= con.end_s && finite(ch.mdf[i]) && !isFlagged(ch.quality[i])) {
          out[i] = 100 * ch.mdf[i] / imf;
        }
      }
    });
    return out;
  }

  // Several (t, values) series on one sorted x axis: [x, ys0, ys1, ...], null where absent.
  function alignSeries(ts, valueLists) {
    const xs = Array.from(new Set([].concat.apply([], ts))).sort(function (a, b) { return a - b; });
    const at = new Map(xs.map(function (x, i) { return [x, i]; }));
    const out = [xs];
    valueLists.forEach(function (values, s) {
      const ys = new Array(xs.length).fill(null);
      const t = ts[s];
      for (let i = 0; i < t.length; i++) ys[at.get(t[i])] = values[i];
      out.push(ys);
    });
    return out;
  }

  // ---------------------------------------------------------------------------------------
  // Formatting
  // ---------------------------------------------------------------------------------------

  const MINUS = '\u2212';

  function fmt(v, decimals) {
    if (!finite(v)) return '\u2013';
    const text = v.toFixed(decimals);
    return text.charAt(0) === '-' ? MINUS + text.slice(1) : text;
  }

  function fmtSigned(v, decimals) {
    if (!finite(v)) return '\u2013';
    return (v > 0 ? '+' : '') + fmt(v, decimals);
  }

  function fmtCi(ci, decimals) {
    if (!Array.isArray(ci) || !finite(ci[0]) || !finite(ci[1])) return '\u2013';
    return fmt(ci[0], decimals) + ' to ' + fmt(ci[1], decimals);
  }

  function plainValue(v) {
    if (v === null || v === undefined) return '\u2013';
    if (Array.isArray(v)) {
      if (v.every(function (x) { return x === null || typeof x !== 'object'; })) return v.map(plainValue).join(', ');
      return JSON.stringify(v);
    }
    if (typeof v === 'object') return JSON.stringify(v);
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    return String(v);
  }

  function siteText(site) {
    const parts = [];
    if (site.muscle) parts.push(String(site.muscle).replace(/_/g, ' '));
    if (site.level) parts.push(site.level);
    if (site.side && site.side !== 'unknown') parts.push(site.side);
    return parts.join(' \u00b7 ');
  }

  // The plain fields of a settings object in one line, units from the key suffix:
  // {mode: "auto", exclude_half_width_hz: 1} -> "mode auto · exclude half width 1 Hz".
  // Nested objects are left to the full settings table.
  const UNITS = [['_pct_per_s', ' %/s'], ['_hz_per_s', ' Hz/s'], ['_hz', ' Hz'], ['_ms', ' ms'], ['_s', ' s'],
                 ['_pct', ' %'], ['_uv', ' \u00b5V'], ['_mm', ' mm'], ['_db', ' dB'], ['_bpm', ' /min']];

  function describe(obj) {
    if (obj === null || obj === undefined) return '\u2013';
    if (typeof obj !== 'object' || Array.isArray(obj)) return plainValue(obj);
    const parts = [];
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (v !== null && typeof v === 'object' && !(Array.isArray(v) && v.every(function (x) { return typeof x !== 'object'; }))) continue;
      let name = key;
      let unit = '';
      for (const u of UNITS) {
        if (key.endsWith(u[0])) { name = key.slice(0, -u[0].length); unit = u[1]; break; }
      }
      const value = typeof v === 'number' && !Number.isInteger(v) ? String(Number(v.toPrecision(4))) : plainValue(v);
      parts.push(name.replace(/_/g, ' ') + ' ' + value + (typeof v === 'number' || Array.isArray(v) ? unit : ''));
    }
    return parts.join(' \u00b7 ');
  }

  function muscleText(muscle) {
    return String(muscle || '').replace(/_/g, ' ');
  }

  // ---------------------------------------------------------------------------------------
  // DOM helpers
  // ---------------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const key of Object.keys(attrs || {})) {
      const v = attrs[key];
      if (v === undefined || v === null || v === false) continue;
      if (key === 'text') node.textContent = v;
      else if (key === 'class') node.className = v;
      else node.setAttribute(key, v === true ? '' : v);
    }
    for (const child of [].concat(children || [])) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  // A table from a header list and rows of cells (strings or nodes); numeric columns align right.
  function table(header, rows, options) {
    options = options || {};
    const numeric = options.numeric || [];
    const head = el('thead', {}, el('tr', {}, header.map(function (h, i) {
      return el('th', { class: numeric.indexOf(i) >= 0 ? 'num' : null, scope: 'col' }, h);
    })));
    const body = el('tbody', {}, rows.map(function (cells) {
      const tr = el('tr', { class: cells.rowClass || null });
      cells.forEach(function (c, i) {
        tr.appendChild(el(i === 0 && options.rowHeaders ? 'th' : 'td',
                          { class: numeric.indexOf(i) >= 0 ? 'num' : null, scope: i === 0 && options.rowHeaders ? 'row' : null }, c));
      });
      return tr;
    }));
    const t = el('table', { class: options.className || null }, [
      options.caption ? el('caption', {}, options.caption) : null, head, body]);
    return el('div', { class: 'table-wrap' }, t);
  }

  function section(id, title, intro) {
    const details = el('details', { class: 'section', id: id, open: true });
    details.appendChild(el('summary', {}, el('h2', { text: title })));
    const body = el('div', { class: 'section-body' });
    if (intro) body.appendChild(el('p', { class: 'intro' }, intro));
    details.appendChild(body);
    return { root: details, body: body };
  }

  // ---------------------------------------------------------------------------------------
  // Charts
  // ---------------------------------------------------------------------------------------

  const COLOR = {
    // Epoch values in a light shade, their regression line in a dark shade of the same hue.
    mdf: '#4a90d9', mdfFit: '#0b4f94', mnf: '#a98bd0', mnfFit: '#5b3a96',
    rms: '#3aa89b', rmsFit: '#0c5a50',
    left: '#4a90d9', leftFit: '#0b4f94', right: '#f0a040', rightFit: '#b04a00', other: '#6a3d9a',
    flag: '#d62728', flagShade: 'rgba(214, 39, 40, 0.16)', contraction: 'rgba(0, 0, 0, 0.045)',
    ai: '#333333', band: 'rgba(44, 160, 44, 0.13)', threshold: '#5f9f5f',
    axis: '#333333', grid: 'rgba(0, 0, 0, 0.09)',
  };

  // Tick labels with as many decimals as the tick step needs, and a real minus sign.
  function tickDecimals(incr) {
    if (!finite(incr) || incr <= 0) return 2;
    for (let d = 0; d < 6; d++) {
      const scaled = incr * Math.pow(10, d);
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
    }
    return 6;
  }

  function tickValues(u, splits, axisIdx, space, incr) {
    const decimals = tickDecimals(incr);
    return splits.map(function (v) { return v === null || v === undefined ? null : fmt(v, decimals); });
  }

  function axis(label, extra) {
    return Object.assign({
      label: label, stroke: COLOR.axis, font: '11px system-ui, sans-serif', labelFont: '11px system-ui, sans-serif',
      labelSize: 14, labelGap: 0, gap: 3, size: 30, space: 24, values: tickValues,
      grid: { stroke: COLOR.grid, width: 1 }, ticks: { stroke: COLOR.grid, width: 1, size: 4 },
    }, extra || {});
  }

  function lineSeries(label, stroke, options) {
    return Object.assign({
      label: label, stroke: stroke, width: 1.2, spanGaps: false, points: { show: false },
      value: function (u, v) { return v === null || v === undefined ? '' : fmt(v, 2); },
    }, options || {});
  }

  function fitSeries(label, stroke) {
    return lineSeries(label, stroke, { width: 2.4, dash: [7, 4] });
  }

  function pointSeries(label, color, size) {
    return {
      label: label, stroke: color, fill: color, paths: function () { return null; },
      points: { show: true, size: size || 6, width: 1, stroke: color, fill: color },
      value: function (u, v) { return v === null || v === undefined ? '' : fmt(v, 2); },
    };
  }

  // Shaded time spans under the series: contractions (grey) and flagged epochs (red).
  function shadeSpans(u, spans, color) {
    if (!spans.length) return;
    const ctx = u.ctx;
    const box = u.bbox;
    ctx.save();
    ctx.fillStyle = color;
    for (const span of spans) {
      const x0 = Math.max(u.valToPos(span[0], 'x', true), box.left);
      const x1 = Math.min(u.valToPos(span[1], 'x', true), box.left + box.width);
      if (x1 > x0 - 1) ctx.fillRect(x0, box.top, Math.max(x1 - x0, 1), box.height);
    }
    ctx.restore();
  }

  // Spans [t - hop/2, t + hop/2] around flagged epoch centres, neighbours merged.
  function flaggedSpans(ch, hop) {
    const spans = [];
    for (let i = 0; i < ch.t.length; i++) {
      if (!isFlagged(ch.quality[i])) continue;
      const a = ch.t[i] - hop / 2;
      const b = ch.t[i] + hop / 2;
      const last = spans[spans.length - 1];
      if (last && a <= last[1] + 1e-9) last[1] = Math.max(last[1], b);
      else spans.push([a, b]);
    }
    return spans;
  }

  // Holds every chart, sizes them to their boxes and describes them in semgReport.charts.
  function ChartSet() {
    this.list = [];
    this.info = [];
    const self = this;
    this.observer = typeof ResizeObserver === 'function'
      ? new ResizeObserver(function (entries) {
        for (const entry of entries) {
          const chart = self.byBox.get(entry.target);
          if (chart) chart.fit();
        }
      })
      : null;
    this.byBox = new Map();
  }

  // spec: {id, title, kind, height, box (element), options (uPlot options without size),
  //        build() -> uPlot data}
  ChartSet.prototype.add = function (spec) {
    const info = { id: spec.id, title: spec.title, kind: spec.kind, series: [] };
    const chart = {
      spec: spec, info: info, plot: null,
      fit: function () {
        const width = Math.floor(spec.box.clientWidth);
        if (width > 0 && chart.plot && Math.abs(chart.plot.width - width) > 1) {
          chart.plot.setSize({ width: width, height: spec.height });
        }
      },
      refresh: function () {
        const data = spec.build();
        chart.plot.setData(data);
        chart.describe(data);
      },
      describe: function (data) {
        info.series = spec.options.series.slice(1).map(function (s, i) {
          return { label: s.label, stroke: s.stroke, points: countFinite(data[i + 1] || []) };
        });
      },
    };
    spec.box.id = spec.id;
    const data = spec.build();
    const opts = Object.assign({ width: Math.floor(spec.box.clientWidth) || 600, height: spec.height }, spec.options);
    chart.plot = new uPlot(opts, data, spec.box);
    chart.describe(data);
    this.list.push(chart);
    this.info.push(info);
    this.byBox.set(spec.box, chart);
    if (this.observer) this.observer.observe(spec.box);
    return chart;
  };

  ChartSet.prototype.fitAll = function () {
    for (const chart of this.list) chart.fit();
  };

  ChartSet.prototype.destroy = function () {
    if (this.observer) this.observer.disconnect();
    for (const chart of this.list) chart.plot.destroy();
    this.list = [];
    this.byBox.clear();
  };

  // ---------------------------------------------------------------------------------------
  // The page
  // ---------------------------------------------------------------------------------------

  function hopSeconds(model) {
    const epoch = model.settings.epoch_s;
    const overlap = finite(model.settings.overlap) ? model.settings.overlap : 0;
    if (finite(epoch)) return epoch * (1 - overlap);
    const t = model.channels.length ? model.channels[0].t : [];
    return t.length > 1 ? t[1] - t[0] : 1;
  }

  function contractionSpans(model) {
    return model.contractions.map(function (c) { return [c.start_s, c.end_s]; });
  }

  function headerBlock(model) {
    const s = model.summary;
    const name = get(s, 'input.path') ? String(get(s, 'input.path')).split(/[\\/]/).pop() : 'recording';
    const facts = [];
    if (finite(get(s, 'input.sample_rate_hz'))) facts.push(fmt(s.input.sample_rate_hz, 0) + ' Hz');
    if (finite(get(s, 'input.duration_s'))) facts.push(fmt(s.input.duration_s, 1) + ' s');
    facts.push(model.channels.length + (model.channels.length === 1 ? ' channel' : ' channels'));
    if (model.pairs.length) facts.push(model.pairs.length + (model.pairs.length === 1 ? ' bilateral pair' : ' bilateral pairs'));
    facts.push(model.contractions.length + (model.contractions.length === 1 ? ' contraction' : ' contractions'));
    const version = get(s, 'software.version');
    const nav = el('nav', { class: 'toc' }, [
      ['summary', 'Summary'], ['fatigue', 'Fatigue fits'], ['channels', 'Channels'],
      ['pairs', 'Left and right'], ['jasa', 'JASA'], ['quality', 'Channel quality'], ['recording', 'Recording and settings'],
    ].map(function (item) { return el('a', { href: '#' + item[0], text: item[1] }); }));
    const buttons = el('span', { class: 'controls' }, [
      el('button', { type: 'button', 'data-action': 'expand', text: 'Expand all' }),
      el('button', { type: 'button', 'data-action': 'collapse', text: 'Collapse all' }),
    ]);
    return el('header', { class: 'page-header' }, [
      el('h1', {}, ['Fatigue report: ', el('span', { class: 'file', text: name })]),
      el('p', { class: 'facts', text: facts.join(' \u00b7 ') + (version ? ' \u00b7 semg ' + version : '') }),
      el('div', { class: 'toolbar' }, [nav, buttons]),
    ]);
  }

  // Every ISEK item first, then every setting exactly as summary.json records it.
  function recordingSection(model) {
    const s = model.summary;
    const st = model.settings;
    const sec = section('recording', 'Recording and settings');
    const fs = get(s, 'input.sample_rate_hz');
    if (finite(fs) && fs < 1000) {
      sec.body.appendChild(el('p', { class: 'warning', text: 'Sampling rate ' + fmt(fs, 0) +
        ' Hz is below 1 kHz: the spectrum is band-limited and MDF/MNF are biased low.' }));
    }
    const band = st.band_hz;
    const requested = st.band_requested_hz;
    let cutoffs = Array.isArray(band) ? fmt(band[0], 1) + '\u2013' + fmt(band[1], 1) + ' Hz' : '\u2013';
    if (Array.isArray(requested) && Array.isArray(band) && requested[1] !== band[1]) {
      cutoffs += ' (requested ' + fmt(requested[0], 1) + '\u2013' + fmt(requested[1], 1) + ' Hz; upper edge clamped to 0.45 fs)';
    }
    const ecg = st.ecg !== undefined ? describe(st.ecg) : 'none recorded in summary.json';
    const mains = st.mains;
    const psd = st.psd || {};
    const epochS = st.epoch_s;
    const rows = [
      ['Input file', plainValue(get(s, 'input.path'))],
      ['Format', plainValue(get(s, 'input.format'))],
      ['Input SHA-256', el('code', { text: plainValue(get(s, 'input.sha256')) })],
      ['Duration', finite(get(s, 'input.duration_s')) ? fmt(s.input.duration_s, 2) + ' s' : '\u2013'],
      ['Sampling rate', finite(fs) ? fmt(fs, 1) + ' Hz' : '\u2013'],
      ['Band-pass filter', plainValue(get(st, 'filter.type')) + ', order ' + plainValue(get(st, 'filter.order')) +
        (get(st, 'filter.order_definition') ? ' (' + st.filter.order_definition + ')' : '')],
      ['Cut-offs', cutoffs],
      ['Filter phase', plainValue(get(st, 'filter.phase'))],
      ['Mains', describe(mains) + (get(mains, 'detection.confidence') ? ' \u00b7 detection confidence ' + mains.detection.confidence : '')],
      ['ECG', ecg],
      ['Epoch', finite(epochS) ? fmt(epochS, 3) + ' s' : '\u2013'],
      ['Overlap', finite(st.overlap) ? fmt(100 * st.overlap, 0) + ' %' : '\u2013'],
      ['Window', plainValue(st.window)],
      ['PSD', plainValue(psd.method) + (finite(psd.segment_s) ? ', segments of ' + fmt(psd.segment_s, 3) + ' s' : '') +
        (finite(psd.segment_overlap) ? ' with ' + fmt(100 * psd.segment_overlap, 0) + ' % overlap' : '') +
        (psd.detrend ? ', detrend ' + psd.detrend : '') + (psd.scaling ? ', ' + psd.scaling : '')],
      ['MDF definition', plainValue(st.mdf_definition)],
      ['MNF definition', plainValue(st.mnf_definition)],
      ['Contractions', plainValue(get(st, 'contractions.source') || s.contraction_source) +
        (typeof s.contraction_warning === 'string' && s.contraction_warning ? ' \u2014 warning: ' + s.contraction_warning : '')],
      ['Fit', plainValue(st.fit) + (st.keep_flagged === true ? '; flagged epochs included' : '; flagged epochs left out')],
      ['Amplitude asymmetry', plainValue(get(st, 'amplitude_asymmetry.definition')) +
        (finite(get(st, 'amplitude_asymmetry.flag_threshold_pct')) ? '; flag above \u00b1' + fmt(st.amplitude_asymmetry.flag_threshold_pct, 1) + ' %' : '')],
      ['Montage', plainValue(st.montage)],
      ['Quality flags', st.quality !== undefined ? describe(st.quality) : 'not recorded'],
      ['Software', plainValue(get(s, 'software.name')) + ' ' + plainValue(get(s, 'software.version'))],
    ];
    sec.body.appendChild(table(['Item', 'Value'], rows, { rowHeaders: true, className: 'facts-table',
                                                         caption: 'Reporting items (ISEK)' }));

    const sites = model.channels.map(function (ch) {
      const site = ch.site || {};
      const pair = model.pairs.find(function (p) { return p.left === ch.label || p.right === ch.label; });
      return [ch.label, muscleText(site.muscle) || '\u2013', site.level || '\u2013', site.side || '\u2013',
              finite(site.electrode_size_mm) ? fmt(site.electrode_size_mm, 0) + ' mm' : 'not recorded',
              finite(site.inter_electrode_distance_mm) ? fmt(site.inter_electrode_distance_mm, 0) + ' mm' : 'not recorded',
              pair ? (pair.left === ch.label ? pair.right : pair.left) : '\u2013'];
    });
    sec.body.appendChild(table(['Channel', 'Muscle', 'Level', 'Side', 'Electrode size', 'Inter-electrode distance', 'Paired with'],
                               sites, { rowHeaders: true, caption: 'Electrode sites' }));

    const all = [];
    (function flatten(prefix, v) {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        for (const k of Object.keys(v)) flatten(prefix ? prefix + '.' + k : k, v[k]);
      } else if (Array.isArray(v) && v.some(function (x) { return x && typeof x === 'object'; })) {
        v.forEach(function (x, i) {
          flatten(prefix + '[' + (x && x.label !== undefined ? x.label : i) + ']', x);
        });
      } else {
        all.push([prefix, plainValue(v)]);
      }
    })('', Object.fromEntries(Object.keys(s).filter(function (k) {
      return ['channels', 'pairs', 'contractions', 'imf_recovery'].indexOf(k) < 0;
    }).map(function (k) { return [k, s[k]]; })));
    const more = el('details', { class: 'all-settings' }, [
      el('summary', { text: 'Everything else summary.json records (' + all.length + ' entries)' }),
      table(['Key', 'Value'], all, { rowHeaders: true, className: 'kv' }),
    ]);
    sec.body.appendChild(more);
    return sec.root;
  }

  // The first screen: "is this back fatiguing, and is it balanced?". Per site left and right side
  // by side, the normalised MDF of every channel, the flags in words and the literature's
  // reference values. Every number is summary.json's (summaryRows, summaryFlags).
  function summarySection(view) {
    const model = view.model;
    const root = el('section', { class: 'summary', id: 'summary' });
    root.appendChild(el('h2', { text: 'Summary' }));
    if (!model.contractions.length) {
      root.appendChild(el('p', { class: 'empty', text: 'No contraction with a fit in summary.json: nothing to summarise.' }));
      return root;
    }
    const k = 0;
    const con = model.contractions[k];
    const threshold = get(model.settings, 'amplitude_asymmetry.flag_threshold_pct');
    const ciShort = function (ci, decimals) {
      return Array.isArray(ci) && finite(ci[0]) && finite(ci[1]) ? '[' + fmt(ci[0], decimals) + ', ' + fmt(ci[1], decimals) + ']' : '';
    };
    // One side's IMF and slope with its CI; the channel's label on hover (the site and the
    // column say which channel it is).
    const side = function (f) {
      if (!f) return ['', ''];
      if (f.noFit) return [el('span', { class: 'flag-text', title: f.label, text: 'no fit' }), ''];
      return [el('span', { title: f.label, text: fmt(f.imf, 1) }),
              el('span', { title: f.label }, [el('strong', { text: fmtSigned(f.slope, 2) }),
                                              el('span', { class: 'ci', text: ' ' + ciShort(f.ci, 2) })])];
    };
    const rows = summaryRows(model, k).map(function (r) {
      const ai = r.unpaired ? '\u2013' : el('span', {}, [el('strong', { text: fmtSigned(r.ai, 1) }),
                                                         el('span', { class: 'ci', text: ' ' + ciShort(r.aiCi, 1) })]);
      const verdict = r.aiFlagged ? el('span', { class: 'flag-text', text: 'beyond' })
        : (r.aiFlagged === false ? 'within' : '\u2013');
      return Object.assign([r.site].concat(side(r.left), side(r.right), [ai, verdict]), { rowClass: r.aiFlagged ? 'has-flags' : null });
    });
    const head = el('thead', {}, [
      el('tr', {}, [el('th', { rowspan: '2', scope: 'col', text: 'Site' }),
                    el('th', { colspan: '2', scope: 'colgroup', class: 'group key-left', text: 'Left' }),
                    el('th', { colspan: '2', scope: 'colgroup', class: 'group key-right', text: 'Right' }),
                    el('th', { colspan: '2', scope: 'colgroup', class: 'group key-balance', text: 'Left vs right' })]),
      el('tr', {}, ['IMF (Hz)', 'MDF slope %/s [95 % CI]', 'IMF (Hz)', 'MDF slope %/s [95 % CI]',
                    'AI % [95 % CI]', '\u00b1' + fmt(threshold, 0) + ' %'].map(function (h, i) {
        return el('th', { scope: 'col', class: i < 5 ? 'num' : null, text: h });
      })),
    ]);
    const body = el('tbody', {}, rows.map(function (cells) {
      const tr = el('tr', { class: cells.rowClass || null });
      cells.forEach(function (c, i) {
        tr.appendChild(el(i === 0 ? 'th' : 'td', { scope: i === 0 ? 'row' : null, class: i > 0 && i < 6 ? 'num' : null }, c));
      });
      return tr;
    }));
    const hold = con.end_s - con.start_s;
    const caption = 'Contraction ' + (k + 1) + ' of ' + model.contractions.length + ': hold ' + fmt(hold, 1) + ' s (' +
      fmt(con.start_s, 1) + '\u2013' + fmt(con.end_s, 1) + ' s)' + (contractionKind(con) ? ', ' + contractionKind(con) : '') +
      (model.contractions.length > 1 ? '; the others under Fatigue fits' : '');
    const tableBox = el('div', { class: 'summary-table' }, [
      el('div', { class: 'table-wrap' }, el('table', { class: 'summary-lr' }, [el('caption', { text: caption }), head, body])),
      el('p', { class: 'note', text: 'AI = 100 \u00b7 (L \u2212 R) / (L + R) of the amplitude; its CI treats epochs as ' +
        'independent (overlapping epochs are not, so it is too narrow). The threshold is a convention, not a norm.' }),
    ]);
    const chartBox = el('div', { class: 'chart summary-chart' });
    const flags = summaryFlags(model, k);
    const ref = REFERENCE;
    const right = el('div', { class: 'summary-side' }, [
      el('div', { class: 'chart-title', text: 'MDF / IMF (%) of every channel over each contraction' }),
      chartBox,
    ]);
    root.appendChild(el('div', { class: 'summary-grid' }, [tableBox, right]));
    root.appendChild(el('ul', { class: 'flags' }, flags.map(function (f) {
      return el('li', { class: 'flag-' + f.level, text: f.text + '.' });
    })));
    const recovery = recoveryLine(model);
    if (recovery) root.appendChild(el('p', { class: 'recovery-line', text: recovery + ' (per muscle under Channels).' }));
    root.appendChild(el('p', { class: 'reference' }, [
      el('strong', { text: 'Reference, not a diagnosis: ' }),
      ref.citation + ', ' + ref.population + ': IMF ' + fmt(ref.imf_hz[0], 0) + ' \u00b1 ' + fmt(ref.imf_hz[1], 1) +
      ' Hz, MDF slope ' + fmt(ref.slope_pct_per_s[0], 2) + ' \u00b1 ' + fmt(ref.slope_pct_per_s[1], 2) +
      ' %/s (mean \u00b1 SD). Values depend on the muscle, level, force, electrodes and sample rate; a value outside ' +
      'this range is not by itself a finding.',
    ]));
    view.summaryChart = { box: chartBox };
    return root;
  }

  function summaryChart(view) {
    const model = view.model;
    const box = view.summaryChart.box;
    const shades = { left: ['#0b4f94', '#4a90d9', '#1f77b4', '#6baed6', '#08306b', '#2171b5', '#9ecae1', '#3182bd'],
                     right: ['#b04a00', '#f0a040', '#e6550d', '#fd8d3c', '#7f2704', '#d94801', '#fdae6b', '#a63603'],
                     other: ['#6a3d9a', '#9e7bc4', '#54278f', '#807dba'] };
    const used = { left: 0, right: 0, other: 0 };
    const series = model.channels.map(function (ch) {
      const s = ch.site && (ch.site.side === 'left' || ch.site.side === 'right') ? ch.site.side : 'other';
      const colour = shades[s][used[s]++ % shades[s].length];
      return lineSeries(ch.label, colour, { value: function (u, v) { return v === null || v === undefined ? '' : fmt(v, 1) + ' %'; } });
    });
    view.charts.add({
      id: 'chart-summary-mdf', title: 'MDF / IMF of every channel', kind: 'summary-mdf', height: 250, box: box,
      options: timeChartOptions('MDF / IMF (%)', series, function () { return { contractions: contractionSpans(model) }; },
                                { legend: { show: true, live: false } }),
      build: function () {
        return alignSeries(model.channels.map(function (ch) { return ch.t; }),
                           model.channels.map(function (ch) { return normalisedMdf(model, ch); }));
      },
    });
  }

  function fatigueSection(model) {
    const sec = section('fatigue', 'Fatigue fits',
      'Least-squares fits over each contraction (flagged epochs ' +
      (model.settings.keep_flagged === true ? 'included' : 'left out') +
      '). Initial value = intercept at the contraction start; normalised slope = 100 \u00b7 slope / initial. ' +
      'The slope is less reliable than the initial value: read both.');
    const warning = get(model.summary, 'contraction_warning');
    if (typeof warning === 'string' && warning) {
      sec.body.appendChild(el('p', { class: 'warning', text: 'Contractions: ' + warning }));
    }
    if (!model.contractions.length) {
      sec.body.appendChild(el('p', { class: 'empty', text: 'No contraction with a fit in summary.json.' }));
      return sec.root;
    }
    const notes = noFitNotes(model);
    model.contractions.forEach(function (con, k) {
      const rows = (con.channels || []).map(function (c) {
        const mdf = c.mdf || {};
        const mnf = c.mnf || {};
        const rms = c.rms || {};
        const flagged = finite(c.flagged_epochs) && c.flagged_epochs > 0;
        return Object.assign([
          c.label, plainValue(c.epochs), flagged ? el('span', { class: 'flag-text', text: String(c.flagged_epochs) }) : '0',
          fmt(mdf.initial_hz, 1), fmtSigned(mdf.slope_hz_per_s, 3), fmtSigned(mdf.slope_pct_per_s, 3),
          fmtCi(mdf.slope_ci95_hz_per_s, 3), fmt(mdf.r2, 2),
          fmt(mnf.initial_hz, 1), fmtSigned(mnf.slope_pct_per_s, 3),
          fmt(rms.initial_uv, 1), fmtSigned(rms.slope_pct_per_s, 3), c.jasa ? String(c.jasa).replace(/_/g, ' ') : '\u2013',
        ], { rowClass: flagged ? 'has-flags' : null });
      });
      sec.body.appendChild(table(
        ['Channel', 'Epochs', 'Flagged', 'IMF (Hz)', 'MDF slope (Hz/s)', 'MDF slope (%/s)', 'MDF slope 95 % CI (Hz/s)', 'r\u00b2',
         'MNF\u2080 (Hz)', 'MNF slope (%/s)', 'RMS\u2080 (\u00b5V)', 'RMS slope (%/s)', 'JASA'],
        rows, { numeric: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], rowHeaders: true,
                caption: 'Contraction ' + (k + 1) + ' of ' + model.contractions.length + ': ' +
                         fmt(con.start_s, 2) + '\u2013' + fmt(con.end_s, 2) + ' s' +
                         (contractionKind(con) ? ', ' + contractionKind(con) : '') }));
      for (const n of notes) {
        if (n.contraction !== k) continue;
        sec.body.appendChild(el('p', { class: 'warning', text: 'No fit for ' + n.label + ': ' + n.reason + '.' }));
      }
    });
    return sec.root;
  }

  function fitNumbers(model, label) {
    const rows = [];
    model.contractions.forEach(function (con, k) {
      const prefix = model.contractions.length > 1 ? 'C' + (k + 1) + ' ' : '';
      const mdf = channelFit(model, k, label, 'mdf');
      const mnf = channelFit(model, k, label, 'mnf');
      const rms = channelFit(model, k, label, 'rms');
      const u = function (text, v, unit) { return finite(v) ? text + ' ' + unit : text; };
      const none = noFitNotes(model).find(function (n) { return n.contraction === k && n.label === label; });
      if (none) {
        rows.push([prefix + 'No fit', none.reason, '', '', '']);
        return;
      }
      if (mdf) rows.push([prefix + 'MDF', u(fmt(mdf.initial_hz, 1), mdf.initial_hz, 'Hz'), u(fmtSigned(mdf.slope_hz_per_s, 3), mdf.slope_hz_per_s, 'Hz/s'), u(fmtSigned(mdf.slope_pct_per_s, 2), mdf.slope_pct_per_s, '%/s'), fmt(mdf.r2, 2)]);
      if (mnf) rows.push([prefix + 'MNF', u(fmt(mnf.initial_hz, 1), mnf.initial_hz, 'Hz'), u(fmtSigned(mnf.slope_hz_per_s, 3), mnf.slope_hz_per_s, 'Hz/s'), u(fmtSigned(mnf.slope_pct_per_s, 2), mnf.slope_pct_per_s, '%/s'), fmt(mnf.r2, 2)]);
      if (rms) rows.push([prefix + 'RMS', u(fmt(rms.initial_uv, 1), rms.initial_uv, '\u00b5V'), u(fmtSigned(rms.slope_uv_per_s, 3), rms.slope_uv_per_s, '\u00b5V/s'), u(fmtSigned(rms.slope_pct_per_s, 2), rms.slope_pct_per_s, '%/s'), fmt(rms.r2, 2)]);
    });
    if (!rows.length) return el('p', { class: 'empty', text: 'No fit.' });
    return table(['', 'Initial', 'Slope', 'Normalised', 'r\u00b2'], rows, { numeric: [1, 2, 3, 4], rowHeaders: true, className: 'fit-table' });
  }

  // The y range of the values inside contractions and not flagged, padded: rest epochs (noise,
  // MDF far above the contraction's) would otherwise squeeze the fatigue trend flat. Values
  // outside the range are clipped at the chart's edge.
  function focusRange(model, t, lists, quality, include) {
    let lo = Infinity;
    let hi = -Infinity;
    const inside = function (x) {
      if (!model.contractions.length) return true;
      return model.contractions.some(function (c) { return x >= c.start_s && x <= c.end_s; });
    };
    lists.forEach(function (values, s) {
      const times = Array.isArray(t[0]) ? t[s] : t;
      const q = quality && Array.isArray(quality[0]) ? quality[s] : quality;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (!finite(v) || !inside(times[i]) || (q && isFlagged(q[i]))) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    });
    for (const v of include || []) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!isFinite(lo)) return null;
    const pad = Math.max((hi - lo) * 0.12, Math.abs(hi) * 0.02, 1e-6);
    return [lo - pad, hi + pad];
  }

  function yRange(focus) {
    return function (u, dataMin, dataMax) {
      const r = focus();
      if (r) return r;
      if (dataMin === null || dataMax === null) return [0, 1];
      const pad = Math.max((dataMax - dataMin) * 0.08, Math.abs(dataMax) * 0.02, 1e-6);
      return [dataMin - pad, dataMax + pad];
    };
  }

  function timeChartOptions(yLabel, series, spansFor, extra, focus) {
    return Object.assign({
      scales: { x: { time: false }, y: focus ? { range: yRange(focus) } : { auto: true } },
      axes: [axis('time (s)', { space: 40 }), axis(yLabel, { size: 44 })],
      series: [{ label: 't (s)', class: 'x-series', value: function (u, v) { return v === null || v === undefined ? '\u2013' : fmt(v, 1); } }].concat(series),
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: {
        drawClear: [function (u) {
          const spans = spansFor();
          shadeSpans(u, spans.contractions || [], COLOR.contraction);
          shadeSpans(u, spans.flagged || [], COLOR.flagShade);
        }],
      },
    }, extra || {});
  }

  // Per-muscle groups inside the Channels and Left-and-right sections, so that 16+ channels stay
  // navigable: one folding block per muscle whose heading names its channels. From
  // GROUPS_FOLDED_AT channels on the blocks start folded (the summary above answers first).
  const GROUPS_FOLDED_AT = 16;

  function groupGrid(view, kind, muscle, label) {
    const key = muscle || '';
    const groups = view.groups[kind];
    let g = groups.get(key);
    if (!g) {
      const details = el('details', { class: 'group', 'data-muscle': key,
                                      open: view.model.channels.length < GROUPS_FOLDED_AT });
      const names = el('span', { class: 'group-names' });
      details.appendChild(el('summary', {}, [el('span', { class: 'group-title', text: muscleText(key) || 'other channels' }), names]));
      const recovery = kind === 'channels' ? recoveryBlock(view.model) : null;
      if (recovery) details.appendChild(recovery.root);
      const grid = el('div', { class: kind === 'pairs' ? 'grid wide' : 'grid' });
      details.appendChild(grid);
      view.grids[kind].appendChild(details);
      g = { grid: grid, names: names, labels: [], recovery: recovery };
      groups.set(key, g);
    }
    g.labels.push(label);
    g.names.textContent = ' \u2014 ' + g.labels.length + ': ' + g.labels.join(', ');
    if (g.recovery) g.recovery.add(label);
    return g.grid;
  }

  // A muscle's IMF recovery table (rows added as its channels are): null with fewer than two
  // contractions.
  function recoveryBlock(model) {
    const steps = recoverySteps(model);
    if (!steps.length) return null;
    const columns = recoveryColumns(steps);
    const rests = steps.map(function (s) { return 'before C' + s.to + ' ' + (finite(s.rest) ? fmt(s.rest, 1) + ' s' : '\u2013'); });
    const body = el('tbody');
    const root = el('div', { class: 'recovery-wrap' }, [
      el('p', { class: 'note', text: 'IMF recovery: each later contraction\u2019s IMF in % of the one before and of the first ' +
                                     '(100 % = it started where that one did); rest ' + rests.join(', ') + '.' }),
      el('div', { class: 'table-wrap' }, el('table', { class: 'recovery' }, [
        el('thead', {}, el('tr', {}, ['Channel'].concat(columns.map(function (c) { return c.title; })).map(function (h, i) {
          return el('th', { scope: 'col', class: i > 0 ? 'num' : null, text: h });
        }))),
        body,
      ])),
    ]);
    return {
      root: root,
      add: function (label) {
        const cells = recoveryRows(model, [label])[0];
        body.appendChild(el('tr', {}, cells.map(function (v, i) {
          return i === 0 ? el('th', { scope: 'row', text: v }) : el('td', { class: 'num', text: finite(v) ? fmt(v, 1) : '\u2013' });
        })));
      },
    };
  }

  function channelCard(view, ch, index) {
    const model = view.model;
    const flaggedCount = ch.quality.filter(isFlagged).length;
    const card = el('article', { class: 'card', id: 'channel-' + index });
    card.appendChild(el('header', {}, [
      el('h3', { text: ch.label }),
      el('span', { class: 'site', text: siteText(ch.site) }),
      flaggedCount ? el('span', { class: 'badge flag', text: flaggedCount + ' flagged' }) : null,
      ch.site.jasa ? el('span', { class: 'badge', text: 'JASA: ' + String(ch.site.jasa).replace(/_/g, ' ') }) : null,
    ]));
    card.appendChild(fitNumbers(model, ch.label));
    const freqBox = el('div', { class: 'chart' });
    const rmsBox = el('div', { class: 'chart' });
    card.appendChild(freqBox);
    card.appendChild(rmsBox);
    groupGrid(view, 'channels', ch.site && ch.site.muscle, ch.label).appendChild(card);

    const spans = function () {
      return { contractions: contractionSpans(model), flagged: flaggedSpans(ch, hopSeconds(model)) };
    };
    const flaggedValues = function (values) {
      return values.map(function (v, i) { return isFlagged(ch.quality[i]) ? v : null; });
    };
    const charts = [];
    charts.push(view.charts.add({
      id: 'chart-frequency-' + index, title: ch.label + ': MDF and MNF', kind: 'channel-frequency',
      height: 190, box: freqBox,
      options: timeChartOptions('Hz', [
        lineSeries('MDF', COLOR.mdf), lineSeries('MNF', COLOR.mnf),
        fitSeries('MDF fit', COLOR.mdfFit), fitSeries('MNF fit', COLOR.mnfFit),
        pointSeries('flagged', COLOR.flag, 4),
      ], spans, null, function () { return focusRange(model, ch.t, [ch.mdf, ch.mnf], ch.quality); }),
      build: function () {
        return [ch.t.slice(), ch.mdf.slice(), ch.mnf.slice(), fitValues(model, ch.label, 'mdf', ch.t),
                fitValues(model, ch.label, 'mnf', ch.t), flaggedValues(ch.mdf)];
      },
    }));
    charts.push(view.charts.add({
      id: 'chart-rms-' + index, title: ch.label + ': RMS', kind: 'channel-rms', height: 160, box: rmsBox,
      options: timeChartOptions('\u00b5V', [
        lineSeries('RMS', COLOR.rms), fitSeries('RMS fit', COLOR.rmsFit), pointSeries('flagged', COLOR.flag, 4),
      ], spans),
      build: function () {
        return [ch.t.slice(), ch.rms.slice(), fitValues(model, ch.label, 'rms', ch.t), flaggedValues(ch.rms)];
      },
    }));
    view.channelCharts.set(ch.label, charts);
  }

  function channelsSection(view) {
    const sec = section('channels', 'Channels',
      'Per channel: MDF and MNF (top) and RMS (bottom) per epoch against epoch centre time, with the ' +
      'regression line over each contraction (dashed). Grey: contraction; red: flagged epochs (quality not ok).' +
      (view.model.stride > 1 ? ' This long recording is drawn every ' + view.model.stride + ' epochs; fits and ' +
        'counts use every epoch.' : ''));
    const groups = el('div', { class: 'groups' });
    sec.body.appendChild(groups);
    view.grids.channels = groups;
    return sec.root;
  }

  function pairTitle(pair) {
    const name = [muscleText(pair.muscle), pair.level].filter(Boolean).join(' ');
    return name || pair.left + ' / ' + pair.right;
  }

  function pairCard(view, pair, index) {
    const model = view.model;
    const threshold = get(model.settings, 'amplitude_asymmetry.flag_threshold_pct');
    const fit = pair.fit || {};
    const card = el('article', { class: 'card', id: 'pair-' + index });
    card.appendChild(el('header', {}, [
      el('h3', { text: pairTitle(pair) }),
      el('span', { class: 'site' }, [el('span', { class: 'key-left', text: pair.left }), ' / ',
                                     el('span', { class: 'key-right', text: pair.right })]),
      fit.flagged ? el('span', { class: 'badge flag', text: '|AI| above threshold' }) : null,
    ]));
    card.appendChild(el('p', { class: 'pair-facts', text:
      'AI ' + fmtSigned(fit.amplitude_asymmetry_pct, 1) + ' % (sd ' + fmt(fit.amplitude_asymmetry_sd_pct, 1) + ')' +
      ' \u00b7 L/R ' + fmt(fit.lr_rms_ratio, 2) +
      ' \u00b7 \u0394 MDF slope L\u2212R ' + fmtSigned(fit.mdf_slope_difference_pct_per_s, 3) + ' %/s' +
      ' \u00b7 \u0394 IMF L\u2212R ' + fmtSigned(fit.mdf_initial_difference_hz, 1) + ' Hz' }));
    const mdfBox = el('div', { class: 'chart' });
    const aiBox = el('div', { class: 'chart' });
    card.appendChild(mdfBox);
    card.appendChild(aiBox);
    groupGrid(view, 'pairs', pair.muscle, pairTitle(pair)).appendChild(card);

    const left = model.channelIndex.get(pair.left) || { t: [], mdf: [], quality: [] };
    const right = model.channelIndex.get(pair.right) || { t: [], mdf: [], quality: [] };
    const spans = function () { return { contractions: contractionSpans(model) }; };
    const charts = [];
    charts.push(view.charts.add({
      id: 'chart-pair-mdf-' + index, title: pairTitle(pair) + ': left and right MDF', kind: 'pair-mdf',
      height: 200, box: mdfBox,
      options: timeChartOptions('MDF (Hz)', [
        lineSeries('left ' + pair.left, COLOR.left), lineSeries('right ' + pair.right, COLOR.right),
        fitSeries('left fit', COLOR.leftFit), fitSeries('right fit', COLOR.rightFit),
      ], spans, null, function () {
        return focusRange(model, [left.t, right.t], [left.mdf, right.mdf], [left.quality, right.quality]);
      }),
      build: function () {
        return alignSeries([left.t, right.t, left.t, right.t],
                           [left.mdf, right.mdf, fitValues(model, pair.left, 'mdf', left.t), fitValues(model, pair.right, 'mdf', right.t)]);
      },
    }));
    const thr = finite(threshold) ? threshold : null;
    const series = [lineSeries('AI', COLOR.ai, { value: function (u, v) { return v === null || v === undefined ? '' : fmtSigned(v, 1) + ' %'; } })];
    if (thr !== null) {
      // Two edges of one band: one legend entry.
      series.push(lineSeries('\u00b1' + fmt(thr, 0) + ' % threshold', COLOR.threshold, { width: 1, dash: [3, 3], value: function () { return ''; } }));
      series.push(lineSeries(MINUS + fmt(thr, 0) + ' %', COLOR.threshold, { width: 1, dash: [3, 3], class: 'x-series' }));
    }
    charts.push(view.charts.add({
      id: 'chart-pair-ai-' + index, title: pairTitle(pair) + ': asymmetry index', kind: 'pair-ai',
      height: 170, box: aiBox,
      options: timeChartOptions('AI (%)', series, spans, thr !== null ? { bands: [{ series: [2, 3], fill: COLOR.band }] } : {},
                                function () { return focusRange(model, pair.t, [pair.ai], null, thr !== null ? [-thr * 1.4, thr * 1.4] : []); }),
      build: function () {
        const data = [pair.t.slice(), pair.ai.slice()];
        if (thr !== null) {
          data.push(pair.t.map(function () { return thr; }));
          data.push(pair.t.map(function () { return -thr; }));
        }
        return data;
      },
    }));
    view.pairCharts.set(pair, charts);
    for (const label of [pair.left, pair.right]) {
      if (!view.pairChartsByChannel.has(label)) view.pairChartsByChannel.set(label, []);
      view.pairChartsByChannel.get(label).push(charts[0]);
    }
  }

  function pairsSection(view) {
    const model = view.model;
    const threshold = get(model.settings, 'amplitude_asymmetry.flag_threshold_pct');
    const sec = section('pairs', 'Left and right', !model.pairs.length ? null :
      'Bilateral pairs (same muscle and level). AI = 100 \u00b7 (L \u2212 R) / (L + R) on ' +
      (model.pairs.some(function (p) { return p.fit && p.fit.amplitude_basis === 'pct_mvc'; }) ? '%MVC' : 'RMS') +
      ' per epoch; the green band is \u00b1' + fmt(threshold, 1) + ' %. These are measurements, not a diagnosis: ' +
      'evidence for clinical use of imbalance indices is weak.');
    // One table per contraction, each with that contraction's pair fits (summary.json lists
    // them under contractions[k].pairs; the top-level pairs are the first contraction's).
    const pairFit = function (k, pair) {
      const con = model.contractions[k];
      const fits = con && Array.isArray(con.pairs) ? con.pairs : null;
      const f = fits ? fits.find(function (p) { return p.left === pair.left && p.right === pair.right; }) : null;
      return f || (k === 0 ? pair.fit : null) || {};
    };
    const tables = Math.max(1, model.contractions.length);
    for (let k = 0; model.pairs.length && k < tables; ++k) {
      const rows = model.pairs.map(function (pair) {
        const f = pairFit(k, pair);
        const l = channelFit(model, k, pair.left, 'mdf') || {};
        const r = channelFit(model, k, pair.right, 'mdf') || {};
        return Object.assign([
          pairTitle(pair), pair.left, pair.right, fmt(l.initial_hz, 1), fmt(r.initial_hz, 1), fmtSigned(f.mdf_initial_difference_hz, 1),
          fmtSigned(l.slope_pct_per_s, 3), fmtSigned(r.slope_pct_per_s, 3), fmtSigned(f.mdf_slope_difference_pct_per_s, 3),
          fmtSigned(f.amplitude_asymmetry_pct, 1), fmt(f.amplitude_asymmetry_sd_pct, 1), fmt(f.lr_rms_ratio, 2),
          f.flagged ? el('span', { class: 'flag-text', text: 'above threshold' }) : (f.flagged === false ? 'within' : '\u2013'),
        ], { rowClass: f.flagged ? 'has-flags' : null });
      });
      const con = model.contractions[k];
      sec.body.appendChild(table(
        ['Pair', 'Left', 'Right', 'IMF L (Hz)', 'IMF R (Hz)', '\u0394 IMF (Hz)', 'MDF slope L (%/s)', 'MDF slope R (%/s)',
         '\u0394 slope (%/s)', 'AI mean (%)', 'AI sd (%)', 'L/R RMS', '|AI| vs threshold'],
        rows, { numeric: [3, 4, 5, 6, 7, 8, 9, 10, 11], rowHeaders: true,
                caption: model.contractions.length > 1 ? 'Contraction ' + (k + 1) + ' of ' + model.contractions.length + ': ' +
                         fmt(con.start_s, 2) + '\u2013' + fmt(con.end_s, 2) + ' s' : null }));
    }
    if (!model.pairs.length) {
      sec.body.appendChild(el('p', { class: 'empty', text: 'No bilateral pairs: every channel is analysed on its own.' }));
    }
    const groups = el('div', { class: 'groups' });
    sec.body.appendChild(groups);
    view.grids.pairs = groups;
    return sec.root;
  }

  function jasaSection(view) {
    const model = view.model;
    const sec = section('jasa', 'JASA: spectrum and amplitude',
      'Joint analysis of spectrum and amplitude: each point is one channel in one contraction, placed by its ' +
      'normalised MDF slope and RMS slope (%/s). The quadrant names the trend: fatigue (MDF\u2193 RMS\u2191), ' +
      'force increase (MDF\u2191 RMS\u2191), force decrease (MDF\u2193 RMS\u2193), recovery (MDF\u2191 RMS\u2193).');
    const box = el('div', { class: 'chart jasa' });
    sec.body.appendChild(el('div', { class: 'jasa-wrap' }, box));
    view.grids.jasa = sec.body;

    const tip = el('div', { class: 'chart-tip' });
    const groups = [['left', COLOR.left], ['right', COLOR.right]];
    if (model.channels.some(function (ch) { return ch.site.side !== 'left' && ch.site.side !== 'right'; })) {
      groups.push(['other', COLOR.other]);
    }
    let points = [];
    const build = function () {
      points = jasaPoints(model).sort(function (a, b) { return a.x - b.x; });
      const xs = points.map(function (p) { return p.x; });
      return [xs].concat(groups.map(function (g) {
        return points.map(function (p) {
          const side = p.side === 'left' || p.side === 'right' || groups.length < 3 ? p.side : 'other';
          return side === g[0] ? p.y : null;
        });
      }));
    };
    const extent = function (key) {
      let m = 0;
      for (const p of points) m = Math.max(m, Math.abs(p[key]));
      return m > 0 ? m * 1.3 : 1;
    };
    const px = function (n) { return n * (global.devicePixelRatio || 1); };
    const quadrants = [
      ['FATIGUE', 'MDF\u2193 RMS\u2191', -1, 1], ['FORCE INCREASE', 'MDF\u2191 RMS\u2191', 1, 1],
      ['FORCE DECREASE', 'MDF\u2193 RMS\u2193', -1, -1], ['RECOVERY', 'MDF\u2191 RMS\u2193', 1, -1],
    ];
    view.charts.add({
      id: 'chart-jasa', title: 'JASA', kind: 'jasa', height: 480, box: box,
      options: {
        scales: {
          x: { time: false, range: function () { const m = extent('x'); return [-m, m]; } },
          y: { range: function () { const m = extent('y'); return [-m, m]; } },
        },
        axes: [axis('normalised MDF slope (%/s)', { space: 50 }), axis('RMS slope (%/s)', { size: 52, space: 30 })],
        series: [{ label: 'MDF slope (%/s)', class: 'x-series' }].concat(groups.map(function (g) {
          return pointSeries(g[0], g[1], 9);
        })),
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
        hooks: {
          setCursor: [function (u) {
            if (!tip.parentNode) u.over.appendChild(tip);
            const left = u.cursor.left;
            const top = u.cursor.top;
            let best = null;
            let bestDistance = 12;
            for (const p of points) {
              if (left === null || left === undefined || left < 0) break;
              const d = Math.hypot(u.valToPos(p.x, 'x') - left, u.valToPos(p.y, 'y') - top);
              if (d < bestDistance) { best = p; bestDistance = d; }
            }
            tip.style.display = best ? 'block' : 'none';
            if (!best) return;
            tip.textContent = best.label + (model.contractions.length > 1 ? ' (contraction ' + (best.contraction + 1) + ')' : '') +
              ': MDF ' + fmtSigned(best.x, 2) + ' %/s, RMS ' + fmtSigned(best.y, 2) + ' %/s, ' + best.quadrant;
            tip.style.left = Math.min(u.valToPos(best.x, 'x') + 10, u.over.clientWidth - tip.offsetWidth) + 'px';
            tip.style.top = (u.valToPos(best.y, 'y') + 10) + 'px';
          }],
          drawClear: [function (u) {
            const ctx = u.ctx;
            const box = u.bbox;
            const x0 = u.valToPos(0, 'x', true);
            const y0 = u.valToPos(0, 'y', true);
            ctx.save();
            ctx.fillStyle = 'rgba(214, 39, 40, 0.07)'; // the fatigue quadrant
            ctx.fillRect(box.left, box.top, x0 - box.left, y0 - box.top);
            ctx.strokeStyle = '#777';
            ctx.lineWidth = px(1);
            ctx.beginPath();
            ctx.moveTo(x0, box.top); ctx.lineTo(x0, box.top + box.height);
            ctx.moveTo(box.left, y0); ctx.lineTo(box.left + box.width, y0);
            ctx.stroke();
            ctx.restore();
          }],
          draw: [function (u) {
            const ctx = u.ctx;
            const box = u.bbox;
            ctx.save();
            ctx.textBaseline = 'top';
            for (const q of quadrants) {
              const right = q[2] > 0;
              const top = q[3] > 0;
              const x = right ? box.left + box.width - px(8) : box.left + px(8);
              let y = top ? box.top + px(6) : box.top + box.height - px(34);
              ctx.textAlign = right ? 'right' : 'left';
              ctx.fillStyle = q[0] === 'FATIGUE' ? '#a01c1d' : '#555';
              ctx.font = 'bold ' + px(12) + 'px system-ui, sans-serif';
              ctx.fillText(q[0], x, y);
              ctx.font = px(11) + 'px system-ui, sans-serif';
              ctx.fillText(q[1], x, y + px(15));
            }
            ctx.fillStyle = '#222';
            ctx.textAlign = 'left';
            ctx.textBaseline = 'middle';
            ctx.font = px(11) + 'px system-ui, sans-serif';
            const several = model.contractions.length > 1;
            let hidden = 0;
            // Each label right of its point, else left, above or below: the first place that
            // overlaps no label already drawn and no other point.
            const placed = [];
            const dots = points.map(function (p) {
              const x = u.valToPos(p.x, 'x', true);
              const y = u.valToPos(p.y, 'y', true);
              const r = px(5);
              return [x - r, y - r, x + r, y + r];
            });
            const overlaps = function (a, b) { return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]; };
            points.forEach(function (p, i) {
              const text = p.label + (several ? ' #' + (p.contraction + 1) : '');
              const w = ctx.measureText(text).width;
              const h = px(12);
              const x = u.valToPos(p.x, 'x', true);
              const y = u.valToPos(p.y, 'y', true);
              const gap = px(7);
              const options = [[x + gap, y - h / 2], [x - gap - w, y - h / 2], [x - w / 2, y - gap - h], [x - w / 2, y + gap],
                               [x + gap, y - h * 1.4], [x + gap, y + h * 0.4], [x - gap - w, y - h * 1.4], [x - gap - w, y + h * 0.4]];
              const inside = function (b) {
                return b[0] >= u.bbox.left && b[2] <= u.bbox.left + u.bbox.width && b[1] >= u.bbox.top && b[3] <= u.bbox.top + u.bbox.height;
              };
              for (const o of options) {
                const box = [o[0], o[1], o[0] + w, o[1] + h];
                const hit = !inside(box) || placed.some(function (b) { return overlaps(box, b); }) ||
                  dots.some(function (d, j) { return j !== i && overlaps(box, d); });
                if (hit) continue;
                placed.push(box);
                ctx.fillText(text, o[0], o[1] + h / 2);
                return;
              }
              hidden++; // no free place: the point keeps its tooltip, the table its numbers
            });
            if (hidden) {
              ctx.fillStyle = '#666';
              ctx.textAlign = 'center';
              ctx.fillText(hidden + (hidden === 1 ? ' label' : ' labels') + ' left out where they would overlap: hover a point',
                           u.bbox.left + u.bbox.width / 2, u.bbox.top + u.bbox.height - px(8));
            }
            ctx.restore();
          }],
        },
      },
      build: build,
    });
    return sec.root;
  }

  function qualitySection(model) {
    const sec = section('quality', 'Channel quality',
      'Epochs per channel whose quality is not ok, by flag (an epoch can carry several). Flagged epochs stay in ' +
      'epochs.csv and are left out of the fits unless --keep-flagged.');
    const q = qualityTable(model);
    // Verdicts, where summary.json gives them (per channel, by label).
    const verdicts = new Map();
    for (const v of get(model.summary, 'quality.channels') || []) if (v && v.label !== undefined) verdicts.set(v.label, v);
    const rows = q.rows.map(function (r) {
      const pct = r.epochs ? 100 * r.flagged / r.epochs : NaN;
      const v = verdicts.get(r.label);
      return Object.assign([r.label, String(r.epochs), String(r.flagged), fmt(pct, 1)].concat(
        q.flags.map(function (f) { return String(r.counts[f] || 0); }),
        verdicts.size ? [v && v.verdict ? el('span', { class: 'verdict verdict-' + v.verdict, text: v.verdict }) : '\u2013',
                         v && v.reason ? v.reason : ''] : []), { rowClass: r.flagged ? 'has-flags' : null });
    });
    const numeric = [1, 2, 3].concat(q.flags.map(function (f, i) { return 4 + i; }));
    sec.body.appendChild(table(['Channel', 'Epochs', 'Flagged', 'Flagged (%)'].concat(q.flags, verdicts.size ? ['Verdict', 'Reason'] : []),
                               rows, { numeric: numeric, rowHeaders: true }));
    if (get(model.summary, 'quality.verdict_rule')) {
      sec.body.appendChild(el('p', { class: 'intro', text: 'Verdict: ' + model.summary.quality.verdict_rule }));
    }
    if (!q.flags.length) sec.body.appendChild(el('p', { class: 'ok-text', text: 'No epoch is flagged.' }));
    return sec.root;
  }

  function wireControls(root) {
    root.addEventListener('click', function (e) {
      const action = e.target && e.target.getAttribute && e.target.getAttribute('data-action');
      if (!action) return;
      for (const d of root.querySelectorAll('details.section, details.group')) d.open = action === 'expand';
    });
  }

  // Draws every section of the model into root; returns the view (charts, grids, cards).
  function drawPage(root, model) {
    const view = {
      model: model, charts: new ChartSet(), grids: {}, groups: { channels: new Map(), pairs: new Map() },
      channelCharts: new Map(), pairCharts: new Map(), pairChartsByChannel: new Map(),
    };
    root.textContent = '';
    root.appendChild(headerBlock(model));
    root.appendChild(summarySection(view));
    root.appendChild(fatigueSection(model));
    root.appendChild(channelsSection(view));
    root.appendChild(pairsSection(view));
    root.appendChild(jasaSection(view));
    root.appendChild(qualitySection(model));
    // Settings last: the summary and the fits are what a reader comes for.
    root.appendChild(recordingSection(model));
    if (view.summaryChart) summaryChart(view);
    // Charts are made once their boxes are in the page, so that they take its width.
    model.channels.forEach(function (ch, i) { channelCard(view, ch, i); });
    model.pairs.forEach(function (pair, i) { pairCard(view, pair, i); });
    return view;
  }

  // Draws the report into root and returns the handle published as window.semgReport.
  function render(root, data) {
    const model = createModel(data);
    let view = drawPage(root, model);
    wireControls(root);
    const fitAll = function () { view.charts.fitAll(); };
    // On paper every muscle's charts are shown (a folded group would print as one line); the
    // sections keep what the reader chose.
    global.addEventListener('beforeprint', function () {
      for (const d of root.querySelectorAll('details.group')) d.open = true;
      fitAll();
    });
    global.addEventListener('afterprint', fitAll);
    // Entering print layout: the boxes have their printed widths now (beforeprint comes too early).
    if (global.matchMedia) {
      const print = global.matchMedia('print');
      if (print.addEventListener) print.addEventListener('change', fitAll);
    }
    root.addEventListener('toggle', fitAll, true);

    const handle = {
      ready: true,
      errors: global.semgReportErrors || [],
      charts: view.charts.info,
      model: model,
      // Adds epochs (rows as in epochs.csv) and redraws the charts they touch.
      appendEpochs: function (rows) {
        const labels = appendEpochs(model, rows);
        if (model.maxPoints) capPoints(model, model.maxPoints);
        for (const label of labels) {
          if (!view.channelCharts.has(label)) channelCard(view, model.channelIndex.get(label), model.channels.length - 1);
          for (const chart of view.channelCharts.get(label)) chart.refresh();
          for (const chart of view.pairChartsByChannel.get(label) || []) chart.refresh();
        }
        return labels.length;
      },
      // Adds pair epochs (rows as in pairs.csv) and redraws their asymmetry charts. With
      // model.maxPoints (live), both keep that many epochs per chart (capPoints).
      appendPairEpochs: function (rows) {
        const pairs = appendPairEpochs(model, rows);
        if (model.maxPoints) capPoints(model, model.maxPoints);
        for (const pair of pairs) {
          if (!view.pairCharts.has(pair)) pairCard(view, pair, model.pairs.length - 1);
          for (const chart of view.pairCharts.get(pair)) chart.refresh();
        }
        return pairs.length;
      },
      // A new summary: fits, tables, JASA and sites; the whole page is drawn again.
      setSummary: function (summary) {
        setSummary(model, summary);
        view.charts.destroy();
        view = drawPage(root, model);
        handle.charts = view.charts.info;
      },
    };
    if (data && data.live) connectLive(handle, root, data.live);
    return handle;
  }

  // ---------------------------------------------------------------------------------------
  // Live: the messages of `semg capture --dashboard` (docs/report.md, "Live use")
  // ---------------------------------------------------------------------------------------

  // Applies the dashboard's messages to a report handle (appendEpochs, appendPairEpochs,
  // setSummary). Plain logic, tested under Node. Rows the page already has (the replay a
  // reconnected page gets) are skipped by their epoch's end time; `missed` counts the epochs the
  // server dropped for this page (gaps in seq).
  function LiveFeed(target) {
    this.target = target;
    this.state = 'connecting';
    this.hello = null;
    this.health = null;
    this.lastSeq = null;
    this.lastEnd = -Infinity;
    this.epochs = 0;
    this.missed = 0;
    this.fits = 0; // fits messages taken
    this.ended = false;
    this.error = null;
  }

  LiveFeed.prototype.receive = function (message) {
    if (!message || typeof message !== 'object') return;
    if (message.type === 'hello') {
      this.hello = message;
    } else if (message.type === 'epoch') {
      if (!message.replay && this.lastSeq !== null && message.seq > this.lastSeq + 1) {
        this.missed += message.seq - this.lastSeq - 1;
      }
      if (this.lastSeq === null || message.seq > this.lastSeq) this.lastSeq = message.seq;
      const after = this.lastEnd;
      const fresh = function (row) { return finite(row.t_end_s) && row.t_end_s > after; };
      const rows = (message.epochs || []).filter(fresh);
      const pairRows = (message.pairs || []).filter(fresh);
      const ends = new Set(rows.map(function (r) { return r.t_end_s; }));
      for (const end of ends) this.lastEnd = Math.max(this.lastEnd, end);
      this.epochs += ends.size;
      if (rows.length) this.target.appendEpochs(rows);
      if (pairRows.length) this.target.appendPairEpochs(pairRows);
      if (!this.ended) this.state = 'receiving';
    } else if (message.type === 'health') {
      this.health = message;
    } else if (message.type === 'fits') {
      if (!this.ended && message.summary) {
        this.fits += 1;
        this.target.setSummary(message.summary);
      }
    } else if (message.type === 'summary') {
      this.ended = true;
      this.state = 'ended';
      this.error = message.error || null;
      if (message.summary) this.target.setSummary(message.summary);
    }
  };

  // The status line above the report: connection, acquisition health, what the page left out.
  function liveStatus(feed, model) {
    const h = feed.health || {};
    const items = [];
    const item = function (text, bad) { items.push(el('span', { class: 'item' + (bad ? ' bad' : '') }, text)); };
    const stateText = {
      connecting: 'connecting\u2026', connected: 'connected, waiting for epochs', receiving: 'live',
      disconnected: 'disconnected, reconnecting\u2026', ended: 'capture ended',
    };
    item(stateText[feed.state] || feed.state, feed.state === 'disconnected');
    if (h.state && h.state !== 'receiving' && !feed.ended) item('device ' + h.state, h.state === 'disconnected');
    if (finite(h.stream_s)) item(fmt(h.stream_s, 1) + ' s');
    if (finite(h.rate_hz)) item(fmt(h.rate_hz, 1) + ' Hz');
    if (h.frames !== undefined) item(h.frames + ' frames');
    if (h.lost_samples !== undefined) item('lost ' + h.lost_samples + ' samples in ' + h.gaps + ' gaps', h.lost_samples > 0);
    if (h.sync_losses) item(h.sync_losses + ' sync losses', true);
    if (h.bad_checksums) item(h.bad_checksums + ' bad checksums', true);
    if (h.bad_lines) item(h.bad_lines + ' bad lines', true);
    if (h.overrun_samples) item(h.overrun_samples + ' samples overrun', true);
    if (finite(h.dsp_lag_ms)) item('analysis lag ' + fmt(h.dsp_lag_ms, 0) + ' ms', h.dsp_lag_ms > 2000);
    const d = h.dashboard || {};
    item(feed.epochs + ' epochs');
    if (feed.missed || d.dropped_updates || d.dropped_epochs) {
      item('updates dropped: ' + feed.missed + ' epochs on this page, ' + (d.dropped_updates || 0) +
           ' messages to slow pages, ' + (d.dropped_epochs || 0) + ' epochs in the server', true);
    }
    if (model.droppedEpochs) item('charts show the last ' + fmt(model.maxPoints, 0) + ' epochs (' + model.droppedEpochs + ' older channel epochs left out)');
    if (!feed.ended) item(feed.fits ? 'fits, tables and JASA so far (final when the capture ends)' : 'fits, tables and JASA: after the first 10 epochs');
    if (feed.error) item(feed.error, true);
    return el('div', { class: 'live-items' }, [el('strong', { text: 'Live capture' })].concat(items));
  }

  // Opens the dashboard's WebSocket and keeps the page and its status line up to date;
  // reconnects every 2 s until the capture has ended.
  function connectLive(handle, root, live) {
    const feed = new LiveFeed(handle);
    handle.live = feed;
    handle.model.maxPoints = live.max_points || 0;
    const bar = el('section', { class: 'live-status', id: 'live', 'aria-live': 'polite' });
    root.parentNode.insertBefore(bar, root);
    const show = function () {
      bar.textContent = '';
      bar.appendChild(liveStatus(feed, handle.model));
    };
    const open = function () {
      const scheme = global.location.protocol === 'https:' ? 'wss://' : 'ws://';
      const socket = new global.WebSocket(scheme + global.location.host + (live.socket || '/ws'));
      socket.onopen = function () { feed.state = 'connected'; show(); };
      socket.onmessage = function (e) {
        let message = null;
        try { message = JSON.parse(e.data); } catch (err) { return; }
        feed.receive(message);
        show();
      };
      socket.onclose = function () {
        if (feed.ended) return show();
        feed.state = 'disconnected';
        show();
        global.setTimeout(open, 2000);
      };
    };
    show();
    open();
  }

  // For report.html: renders, and on failure says so in the page and in semgReport.errors.
  function boot(root, data) {
    try {
      return render(root, data);
    } catch (e) {
      const errors = global.semgReportErrors || [];
      errors.push(String(e && e.stack ? e.stack : e));
      root.appendChild(el('p', { class: 'warning', text: 'The report could not be drawn: ' + e }));
      if (global.console) global.console.error(e);
      return { ready: false, errors: errors, charts: [] };
    }
  }

  const api = {
    createModel: createModel, appendEpochs: appendEpochs, appendPairEpochs: appendPairEpochs,
    setSummary: setSummary, capPoints: capPoints, LiveFeed: LiveFeed,
    fitValues: fitValues, noFitNotes: noFitNotes, contractionKind: contractionKind, qualityTable: qualityTable, jasaPoints: jasaPoints,
    summaryRows: summaryRows, summaryFlags: summaryFlags, normalisedMdf: normalisedMdf, REFERENCE: REFERENCE,
    recoverySteps: recoverySteps, recoveryRows: recoveryRows, recoveryLine: recoveryLine,
    alignSeries: alignSeries, flaggedSpans: flaggedSpans, fmt: fmt, tickDecimals: tickDecimals,
    render: render, boot: boot,
  };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else global.SemgReport = api;
})(typeof window !== 'undefined' ? window : globalThis);
