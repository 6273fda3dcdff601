// semg history: one subject's visits from the session log, drawn from the data `semg history`
// embeds (layout: docs/history.md). Plain JavaScript, no build step; charts with uPlot.
//   {format: 1, subject, database, software, visits: [{session, recorded_at, note, hold_s: P}],
//    reliability: {imf|slope|hold|ai: {unit, sd, sd_source, icc, icc_source, sem, mdc95}},
//    sites: [{muscle, level, side, channel, imf_hz: [P], slope_pct_per_s: [P]}],
//    pairs: [{muscle, level, left, right, ai_pct: [P]}]}
// P (one per visit): {value, ci95: [low, high], change, exceeds_mdc95}; null where unknown.
(function (global) {
  'use strict';

  function finite(v) { return typeof v === 'number' && isFinite(v); }
  function fmt(v, digits) { return finite(v) ? v.toFixed(digits) : '\u2013'; }
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children || []) if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return e;
  }

  // Sites grouped by muscle and level, left and right side by side; the pair's AI with them.
  function groups(data) {
    const out = [];
    const byKey = new Map();
    const keyOf = (muscle, level, fallback) => (muscle ? muscle + '\u0000' + (level || '') : 'ch\u0000' + fallback);
    for (const s of data.sites) {
      const key = keyOf(s.muscle, s.level, s.channel);
      if (!byKey.has(key)) {
        const g = { muscle: s.muscle, level: s.level, title: s.muscle ? (s.muscle + ' ' + (s.level || '')).trim() : s.channel,
                    left: null, right: null, other: [], pairs: [] };
        byKey.set(key, g);
        out.push(g);
      }
      const g = byKey.get(key);
      if (s.side === 'left' && !g.left) g.left = s;
      else if (s.side === 'right' && !g.right) g.right = s;
      else g.other.push(s);
    }
    for (const p of data.pairs) {
      const key = keyOf(p.muscle, p.level, p.left);
      if (byKey.has(key)) byKey.get(key).pairs.push(p);
    }
    return out;
  }

  function changeCell(p, digits, unit) {
    const td = el('td', { class: 'change' });
    if (!p || !finite(p.change)) return td;
    td.textContent = (p.change >= 0 ? '+' : '') + p.change.toFixed(digits);
    if (p.exceeds_mdc95 === true) {
      td.className = 'change beyond';
      td.textContent += ' >MDC';
      td.title = 'the change exceeds the minimal detectable change (MDC95)';
    } else if (p.exceeds_mdc95 === false) {
      td.title = 'within the minimal detectable change (MDC95): not distinguishable from measurement error';
    } else {
      td.title = 'no MDC95 for this measure (' + unit + '): see the table of sources';
    }
    return td;
  }
  function valueCell(p, digits, withCi) {
    const td = el('td', { text: fmt(p && p.value, digits) });
    if (withCi && p && p.ci95 && finite(p.ci95[0]) && finite(p.ci95[1])) {
      td.appendChild(el('span', { class: 'ci', text: ' [' + p.ci95[0].toFixed(digits) + ', ' + p.ci95[1].toFixed(digits) + ']' }));
    }
    return td;
  }

  function visitsPanel(data) {
    const head = el('tr', {}, ['visit', 'session', 'recorded', 'hold s', 'change', 'note'].map((t, i) =>
      el('th', { class: i === 1 || i === 2 || i === 5 ? 'label' : '', text: t })));
    const body = el('tbody');
    data.visits.forEach((v, i) => {
      body.appendChild(el('tr', {}, [el('td', { text: String(i + 1) }), el('td', { class: 'label', text: v.session || '\u2013' }),
        el('td', { class: 'label', text: v.recorded_at || '\u2013' }), valueCell(v.hold_s, 1, false),
        changeCell(v.hold_s, 1, 's'), el('td', { class: 'label', text: v.note || '' })]));
    });
    return el('section', { class: 'panel', id: 'visits' }, [el('h2', { text: 'Visits' }),
      el('table', {}, [el('thead', {}, [head]), body])]);
  }

  function siteTable(g, data) {
    const sides = [];
    if (g.left) sides.push(['left', g.left]);
    if (g.right) sides.push(['right', g.right]);
    for (const o of g.other) sides.push([o.side || o.channel, o]);
    const top = el('tr', {}, [el('th', { text: '' })]);
    const sub = el('tr', {}, [el('th', { text: 'visit' })]);
    for (const [name, s] of sides) {
      top.appendChild(el('th', { class: 'group ' + name, colspan: '4', text: name + ' (' + s.channel + ')' }));
      for (const t of ['IMF Hz', '\u0394', 'slope %/s [95 % CI]', '\u0394']) sub.appendChild(el('th', { text: t }));
    }
    for (const p of g.pairs) {
      top.appendChild(el('th', { class: 'group', colspan: '2', text: 'AI % (L\u2212R)/(L+R)' }));
      sub.appendChild(el('th', { text: 'AI % [95 % CI]' }));
      sub.appendChild(el('th', { text: '\u0394' }));
      void p;
    }
    const body = el('tbody');
    data.visits.forEach((v, i) => {
      const tr = el('tr', {}, [el('td', { text: String(i + 1) })]);
      for (const [, s] of sides) {
        tr.appendChild(valueCell(s.imf_hz[i], 1, false));
        tr.appendChild(changeCell(s.imf_hz[i], 1, 'Hz'));
        tr.appendChild(valueCell(s.slope_pct_per_s[i], 3, true));
        tr.appendChild(changeCell(s.slope_pct_per_s[i], 3, '%/s'));
      }
      for (const p of g.pairs) {
        tr.appendChild(valueCell(p.ai_pct[i], 1, true));
        tr.appendChild(changeCell(p.ai_pct[i], 1, '%'));
      }
      body.appendChild(tr);
    });
    return el('table', { class: 'site-table' }, [el('thead', {}, [top, sub]), body]);
  }

  const charts = [];
  function chart(box, title, unit, series, visits) {
    const xs = visits.map((_, i) => i + 1);
    const width = Math.max(280, Math.min(520, box.clientWidth || 420));
    const opts = {
      width: width, height: 150, title: '',
      scales: { x: { time: false, range: [0.8, Math.max(2, xs.length) + 0.2] } },
      axes: [{ label: 'visit', values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : '')) },
             { label: unit, size: 55, space: 18 }],
      series: [{ label: 'visit' }].concat(series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2,
                                                             points: { show: true, size: 7 } }))),
      legend: { show: true, live: false },
    };
    const values = [xs].concat(series.map((s) => s.points.map((p) => (p && finite(p.value) ? p.value : null))));
    const plot = new uPlot(opts, values, box);
    charts.push({ title: title, series: series.map((s) => ({ label: s.label, stroke: s.stroke,
      points: s.points.filter((p) => p && finite(p.value)).length })), plot: plot });
  }

  // The trend in plain words: least-squares change per visit, and how many visit-to-visit
  // changes exceed the MDC95 (a measurement, never a diagnosis).
  function trendText(g) {
    const items = [];
    const words = (v, better, worse) => (v > 0 ? better : worse);
    for (const [name, s] of [['left', g.left], ['right', g.right]].concat(g.other.map((o) => [o.channel, o]))) {
      if (!s) continue;
      const t = s.trend_per_visit && s.trend_per_visit.slope_pct_per_s;
      if (finite(t)) items.push('MDF slope ' + name + ' ' + (t >= 0 ? '+' : '') + t.toFixed(2) + ' %/s per visit (' +
                                words(t, 'less fatigue', 'more fatigue') + ')');
    }
    for (const p of g.pairs) {
      const t = p.trend_per_visit && p.trend_per_visit.ai_pct;
      const last = p.ai_pct.length ? p.ai_pct[p.ai_pct.length - 1].value : null;
      const first = p.ai_pct.length ? p.ai_pct[0].value : null;
      if (finite(t) && finite(first) && finite(last)) {
        items.push('AI ' + (t >= 0 ? '+' : '') + t.toFixed(1) + ' % per visit (' +
                   (Math.abs(last) < Math.abs(first) ? 'toward balance' : 'away from balance') + ')');
      }
    }
    let judged = 0, beyond = 0;
    const count = (points) => { for (const p of points) if (p && typeof p.exceeds_mdc95 === 'boolean') { judged++; if (p.exceeds_mdc95) beyond++; } };
    for (const s of [g.left, g.right].concat(g.other)) if (s) { count(s.imf_hz); count(s.slope_pct_per_s); }
    for (const p of g.pairs) count(p.ai_pct);
    const list = el('ul', { class: 'trend' }, items.map((t) => el('li', { text: t })));
    list.appendChild(el('li', { text: judged ? beyond + ' of ' + judged + ' changes between visits exceed the MDC95 (>MDC)'
                                             : 'no MDC95 for these measures: see the sources below' }));
    return list;
  }

  function sitePanel(g, data, index) {
    const chartsBox = el('div', { class: 'charts' });
    const panel = el('section', { class: 'panel site', id: 'site-' + index }, [
      el('h2', { text: g.title }),
      el('div', { class: 'grid' }, [el('div', { class: 'table-wrap' }, [siteTable(g, data), trendText(g)]), chartsBox])]);
    const slopeSeries = [];
    if (g.left) slopeSeries.push({ label: 'left', stroke: '#1f6fb4', points: g.left.slope_pct_per_s });
    if (g.right) slopeSeries.push({ label: 'right', stroke: '#e07b00', points: g.right.slope_pct_per_s });
    for (const o of g.other) slopeSeries.push({ label: o.channel, stroke: '#555555', points: o.slope_pct_per_s });
    panel.later = () => {
      const a = el('div');
      chartsBox.appendChild(el('div', { class: 'chart-title', text: 'MDF slope %/s by visit (closer to 0: less fatigue)' }));
      chartsBox.appendChild(a);
      chart(a, g.title + ': MDF slope', '%/s', slopeSeries, data.visits);
      if (g.pairs.length) {
        const b = el('div');
        chartsBox.appendChild(el('div', { class: 'chart-title', text: 'Asymmetry index % by visit (0: balanced)' }));
        chartsBox.appendChild(b);
        chart(b, g.title + ': AI', '%', g.pairs.map((p) => ({ label: p.left + ' / ' + p.right, stroke: '#6a3d9a', points: p.ai_pct })),
              data.visits);
      }
    };
    return panel;
  }

  function sourcesPanel(data) {
    const names = { imf: 'initial MDF', slope: 'MDF slope', hold: 'hold time', ai: 'asymmetry index' };
    const body = el('tbody');
    for (const [k, r] of Object.entries(data.reliability)) {
      body.appendChild(el('tr', {}, [el('td', { text: names[k] || k }),
        el('td', { text: finite(r.mdc95) ? r.mdc95.toPrecision(3) + ' ' + r.unit : 'n/a' }),
        el('td', { text: (finite(r.sd) ? r.sd.toPrecision(3) + ' ' + r.unit + ': ' : '') + r.sd_source }),
        el('td', { text: (finite(r.icc) ? r.icc.toFixed(2) + ': ' : '') + r.icc_source })]));
    }
    return el('section', { class: 'panel', id: 'mdc' }, [
      el('h2', { text: 'When is a change real? Minimal detectable change' }),
      el('p', { class: 'note', text: 'MDC95 = 1.96 \u00b7 \u221a2 \u00b7 SEM, SEM = SD \u00b7 \u221a(1 \u2212 ICC), SD a between-subject SD. ' +
        'A change between two visits larger than MDC95 is marked >MDC; smaller changes cannot be told from measurement ' +
        'error. Reference values are from the literature (healthy adults), a yardstick and never a diagnosis.' }),
      el('table', { class: 'sources' }, [el('thead', {}, [el('tr', {}, ['measure', 'MDC95', 'SD and its source',
        'ICC and its source'].map((t) => el('th', { class: 'label', text: t })))]), body])]);
  }

  function boot(root, data) {
    const state = { ready: false, errors: global.semgHistoryErrors || [], charts: charts };
    try {
      root.textContent = '';
      root.appendChild(el('header', {}, [
        el('h1', { text: 'Subject ' + data.subject + ': ' + data.visits.length + ' visit' + (data.visits.length === 1 ? '' : 's') }),
        el('p', { class: 'facts', text: 'Session log ' + data.database + ' \u00b7 semg ' + data.software +
          ' \u00b7 values of each visit\u2019s first contraction \u00b7 \u0394: change from the visit before' })]));
      const gs = groups(data);
      const panels = gs.map((g, i) => sitePanel(g, data, i));
      for (const p of panels) root.appendChild(p);
      root.appendChild(visitsPanel(data));
      root.appendChild(sourcesPanel(data));
      for (const p of panels) p.later();
      state.ready = true;
    } catch (e) {
      state.errors.push(String(e && e.stack ? e.stack : e));
      root.appendChild(el('p', { text: 'This page could not be drawn: ' + e }));
      console.error(e);
    }
    return state;
  }

  global.SemgHistory = { boot: boot, groups: groups };
})(typeof window !== 'undefined' ? window : globalThis);
