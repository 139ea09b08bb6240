// trafficlake traffic page: jam episodes, the map at a minute, a road's time-space diagram, its
// hour x section heat map and one section's speed chart. Selecting an episode selects it in
// every view (the list row, the map's rings, the diagram's outline).
"use strict";

(() => {
  const { el, getJSON, fmt, esc } = TL;
  const day = document.body.dataset.day;
  const threshold = Number(document.body.dataset.threshold);
  const state = {
    roads: [], sections: [], jams: [], selectedJam: null, road: null, ts: null, at: null,
    mapData: null, outline: null, hitMap: null, section: null, health: new Map(),
  };
  // sections whose detectors are not to be trusted that day (from /api/detectors/health)
  function distrust(lve) {
    const h = state.health.get(lve);
    return h && !h.trusted ? h : null;
  }
  function trustNote(lve) {
    const h = distrust(lve);
    return h ? `<br>⚠ ${h.untrusted_lanes} of ${h.lanes} lane(s) not to be trusted (${(100 * h.pct_valid).toFixed(0)} % valid)` : "";
  }
  function sectionLabel(s) {
    return `${distrust(s.lve_nr) ? "⚠ " : ""}${String(s.name || "").slice(0, 24)}  km ${s.km.toFixed(1)}`;
  }
  const $ = (id) => document.getElementById(id);
  const HEAT = { L: 190, T: 8, B: 26, R: 6 };

  function roadKey(road, direction) { return `${road}|${direction}`; }
  function roadLabel(r) {
    return `${r.road} direction ${r.direction} (${r.from_name || ""} → ${r.to_name || ""})`;
  }

  // ---- jam episodes ----------------------------------------------------------------------
  function renderJams() {
    const body = $("jams").querySelector("tbody");
    body.textContent = "";
    $("jam-count").textContent = state.jams.length ? `(${state.jams.length})` : "";
    if (!state.jams.length) {
      body.append(el("tr", {}, ""));
      body.firstChild.append(el("td", { colspan: 7, class: "empty" },
        state.derived ? "no jam on this day" : "not derived yet: run trafficlake roads derive"));
      return;
    }
    for (const j of state.jams) {
      const tr = el("tr", { "data-jam": j.jam_id, tabindex: 0 });
      if (state.selectedJam && state.selectedJam.jam_id === j.jam_id) tr.classList.add("selected");
      tr.append(
        el("td", { class: "nowrap" }, `${fmt(j.start_ts)}–${fmt(j.end_ts)}`),
        el("td", { class: "nowrap" }, `${j.road} ${j.direction}`),
        el("td", {}, ""),
        el("td", { class: "num" }, String(j.duration_min)),
        el("td", { class: "num" }, j.max_queue_km.toFixed(1)),
        el("td", { class: "num" }, j.min_speed == null ? "-" : j.min_speed.toFixed(0)),
        el("td", { class: "num" }, Math.round(j.vehicle_hours_lost).toLocaleString("en")),
      );
      const where = tr.children[2];
      where.append(el("div", {}, j.head_name || `km ${j.head_km}`),
        el("div", { class: "muted small" }, `queue back to km ${j.tail_km.toFixed(1)}`));
      tr.addEventListener("click", () => selectJam(j));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") selectJam(j); });
      body.append(tr);
    }
    const chosen = body.querySelector("tr.selected");
    const box = $("jams").parentElement;  // the list scrolls: keep the selected episode in view
    if (chosen && (chosen.offsetTop < box.scrollTop || chosen.offsetTop > box.scrollTop + box.clientHeight - 40)) {
      box.scrollTop = Math.max(0, chosen.offsetTop - 60);
    }
  }

  async function selectJam(j) {
    state.selectedJam = j;
    renderJams();
    // the map at the minute of the longest queue
    let best = 0, longest = -1;
    j.trace_ts.forEach((t, i) => {
      const h = j.trace_head_km[i], tl = j.trace_tail_km[i];
      if (h !== null && tl !== null && Math.abs(h - tl) > longest) { longest = Math.abs(h - tl); best = t; }
    });
    const key = roadKey(j.road, j.direction);
    const tasks = [loadMap(best || j.start_ts)];
    if (!state.road || roadKey(state.road.road, state.road.direction) !== key) {
      $("road").value = key;
      tasks.push(loadRoad(key));
    } else {
      drawTimespace();
    }
    await Promise.all(tasks);
    await loadSection(j.sections[j.sections.length - 1]);
  }

  // ---- the map -----------------------------------------------------------------------------
  async function loadMap(at) {
    const data = await getJSON(at ? `/api/map?at=${at}` : `/api/map?day=${day}`);
    state.mapData = data;
    state.at = data.at;
    const start = Date.parse(day + "T00:00:00Z") / 1000;
    $("map-minute").value = String(Math.round((data.at - start) / 60));
    drawMap();
  }
  function drawMap() {
    const data = state.mapData;
    if (!data || !state.outline) return;
    const canvas = $("map");
    const selected = new Set(state.selectedJam ? state.selectedJam.sections : []);
    state.hitMap = TL.drawMap(canvas, state.outline, {
      sections: data.sections,
      color: (s) => TL.speedColor(s.speed),
      ring: (s) => (s.jam ? "#6e0014" : null),
      rank: (s) => (s.speed == null ? -1 : 200 - s.speed),
      selected,
      radius: 3.4,
    });
    canvas.dataset.at = String(data.at);
    canvas.dataset.jammed = String(data.sections.filter((s) => s.jam).length);
    canvas.dataset.selectedJam = state.selectedJam ? state.selectedJam.jam_id : "";
    const jammed = data.sections.filter((s) => s.jam).length;
    $("map-time").textContent = `${fmt(data.at, { weekday: "short", day: "numeric", month: "short" })} ${TL.zoneLabel()} · ${jammed} section(s) in a jam`;
    $("map-clock").textContent = fmt(data.at);
  }

  // ---- time-space diagram --------------------------------------------------------------------
  async function loadRoad(key) {
    const [road, direction] = key.split("|");
    const ts = await getJSON(`/api/roads/${encodeURIComponent(road)}/${encodeURIComponent(direction)}/timespace?day=${day}`);
    state.road = state.roads.find((r) => roadKey(r.road, r.direction) === key);
    state.ts = ts;
    drawTimespace();
    drawHeatmap();
  }

  function dataHours(ts) {
    // the whole hours of the day that hold data (the diagram's time range)
    let first = ts.minutes, last = -1;
    for (const row of ts.speed) {
      for (let m = 0; m < row.length; m++) if (row[m] >= 0) { if (m < first) first = m; break; }
      for (let m = row.length - 1; m >= 0; m--) if (row[m] >= 0) { if (m > last) last = m; break; }
    }
    if (last < 0) return [0, ts.minutes];
    return [Math.floor(first / 60) * 60, Math.min(ts.minutes, Math.ceil((last + 1) / 60) * 60)];
  }

  function tsLayout(canvas) {
    const ts = state.ts;
    const L = 210, R = 14, T = 12, B = 30;
    const [m0, m1] = dataHours(ts);
    const secs = ts.sections;
    const kms = secs.map((s) => s.km);
    const lo = Math.min(...kms.map((k, i) => k - secs[i].extent_km / 2));
    const hi = Math.max(...kms.map((k, i) => k + secs[i].extent_km / 2));
    const up = ts.direction !== "2";  // traffic runs up the page
    const W = canvas.width, H = canvas.height;
    const y = (km) => (up ? H - B - ((km - lo) / (hi - lo)) * (H - T - B) : T + ((km - lo) / (hi - lo)) * (H - T - B));
    const x = (minute) => L + ((minute - m0) / (m1 - m0)) * (W - L - R);
    return { L, R, T, B, W, H, lo, hi, y, x, up, m0, m1 };
  }

  function sectionBands(layout) {
    // each section spans half-way to its neighbours (in km); the band edges in pixels
    const secs = state.ts.sections;
    return secs.map((s, i) => {
      const prev = secs[i - 1], next = secs[i + 1];
      const a = prev ? (prev.km + s.km) / 2 : s.km - s.extent_km / 2;
      const b = next ? (next.km + s.km) / 2 : s.km + s.extent_km / 2;
      const y0 = layout.y(a), y1 = layout.y(b);
      return [Math.min(y0, y1), Math.max(Math.abs(y1 - y0), 1)];
    });
  }

  function drawTimespace() {
    const canvas = $("timespace");
    const ts = state.ts;
    if (!ts) return;
    const ctx = canvas.getContext("2d");
    const g = tsLayout(canvas);
    ctx.clearRect(0, 0, g.W, g.H);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, g.W, g.H);
    const bands = sectionBands(g);
    const colw = (g.W - g.L - g.R) / (g.m1 - g.m0);
    // one column per minute; consecutive minutes of one colour are one rectangle
    ts.speed.forEach((row, i) => {
      const [top, h] = bands[i];
      let start = g.m0;
      for (let m = g.m0 + 1; m <= g.m1; m++) {
        if (m < g.m1 && Math.round(row[m] / 5) === Math.round(row[start] / 5)) continue;
        ctx.fillStyle = TL.speedColor(row[start] < 0 ? null : row[start]);
        ctx.fillRect(g.x(start), top, (m - start) * colw + 0.5, h + 0.5);
        start = m;
      }
    });
    // axes: km on the left with section names, hours along the bottom (chosen time zone)
    ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "right";
    let lastY = -99;
    ts.sections.forEach((s) => {
      const yy = g.y(s.km);
      if (Math.abs(yy - lastY) < 13) return;
      lastY = yy;
      ctx.fillStyle = distrust(s.lve_nr) ? "#9a3412" : "#5d6b7a";
      ctx.fillText(sectionLabel(s), g.L - 6, yy + 4);
    });
    ctx.textAlign = "center";
    ctx.strokeStyle = "rgba(0,0,0,0.12)";
    const every = g.m1 - g.m0 > 12 * 60 ? 120 : 60;
    for (let m = g.m0; m <= g.m1; m += 60) {
      const t = ts.start + m * 60;
      const label = fmt(t);
      if ((m - g.m0) % every === 0) ctx.fillText(label, g.x(m), g.H - 10);
      ctx.beginPath(); ctx.moveTo(g.x(m), g.T); ctx.lineTo(g.x(m), g.H - g.B); ctx.stroke();
    }
    ctx.textAlign = "left";
    ctx.fillText(TL.zoneLabel(), g.L, g.H - 1);
    // jam episodes: head and tail over time, as closed outlines
    for (const j of ts.jams) {
      const chosen = state.selectedJam && state.selectedJam.jam_id === j.jam_id;
      ctx.beginPath();
      const pts = [];
      j.trace_ts.forEach((t, i) => {
        if (j.trace_head_km[i] === null) return;
        pts.push([(t - ts.start) / 60, j.trace_head_km[i], j.trace_tail_km[i]]);
      });
      if (!pts.length) continue;
      const dir = g.up ? 1 : -1;
      const edge = (km, s) => g.y(km + s * dir * 0.4);
      pts.forEach(([m, h], i) => (i ? ctx.lineTo(g.x(m), edge(h, 1)) : ctx.moveTo(g.x(m), edge(h, 1))));
      const last = pts[pts.length - 1];
      ctx.lineTo(g.x(last[0] + 1), edge(last[1], 1));
      ctx.lineTo(g.x(last[0] + 1), edge(last[2], -1));
      for (let i = pts.length - 1; i >= 0; i--) ctx.lineTo(g.x(pts[i][0]), edge(pts[i][2], -1));
      ctx.closePath();
      ctx.lineWidth = chosen ? 3 : 1.2;
      ctx.setLineDash(chosen ? [] : [4, 3]);
      ctx.strokeStyle = chosen ? "#000" : "#333";
      ctx.stroke();
      ctx.setLineDash([]);
      if (chosen) {
        ctx.fillStyle = "#000"; ctx.font = "bold 12px system-ui, sans-serif";
        ctx.fillText(`${fmt(j.start_ts)}–${fmt(j.end_ts)} · ${j.max_queue_km.toFixed(1)} km`, g.x(pts[0][0]) + 4, edge(pts[0][1], 1) - 6);
      }
    }
    canvas.dataset.road = `${ts.road}|${ts.direction}`;
    canvas.dataset.jams = String(ts.jams.length);
    canvas.dataset.selectedJam = state.selectedJam && ts.jams.some((j) => j.jam_id === state.selectedJam.jam_id) ? state.selectedJam.jam_id : "";
  }

  function timespaceAt(event) {
    const canvas = $("timespace");
    const ts = state.ts;
    if (!ts) return null;
    const [mx, my] = TL.canvasPoint(canvas, event);
    const g = tsLayout(canvas);
    const minute = g.m0 + Math.floor(((mx - g.L) / (g.W - g.L - g.R)) * (g.m1 - g.m0));
    if (minute < g.m0 || minute >= g.m1) return null;
    const bands = sectionBands(g);
    const i = bands.findIndex(([top, h]) => my >= top && my <= top + h);
    if (i < 0) return null;
    return { minute, section: ts.sections[i], speed: ts.speed[i][minute] };
  }

  // ---- hour x section heat map ---------------------------------------------------------------
  function drawHeatmap() {
    const canvas = $("heatmap");
    const ts = state.ts;
    if (!ts) return;
    const ctx = canvas.getContext("2d");
    const secs = ts.sections;
    const L = HEAT.L, T = HEAT.T, B = HEAT.B, R = HEAT.R;
    const W = canvas.width, H = canvas.height;
    const [h0, h1] = dataHours(ts).map((m) => m / 60);
    state.heatHours = [h0, h1];
    const hours = h1 - h0;
    const rowH = (H - T - B) / secs.length, colW = (W - L - R) / hours;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    // the hours of the chosen time zone that fall in this UTC day
    const firstHour = ts.start;
    const means = secs.map((s, i) => {
      const row = ts.speed[i];
      return Array.from({ length: 24 }, (_, h) => {
        let sum = 0, n = 0;
        for (let m = h * 60; m < h * 60 + 60; m++) if (row[m] >= 0) { sum += row[m]; n++; }
        return n ? sum / n : null;
      });
    });
    state.heat = means;
    ctx.font = "11px system-ui, sans-serif";
    secs.forEach((s, i) => {
      const r = secs.length - 1 - i;  // sections in the direction of travel: downstream on top
      for (let h = h0; h < h1; h++) {
        ctx.fillStyle = TL.speedColor(means[i][h]);
        ctx.fillRect(L + (h - h0) * colW, T + r * rowH, colW - 1, Math.max(rowH - 0.5, 0.5));
      }
    });
    ctx.textAlign = "right";
    let lastY = -99;
    secs.forEach((s, i) => {
      const r = secs.length - 1 - i;  // sections in the direction of travel: downstream on top
      const yy = T + r * rowH + rowH / 2 + 4;
      if (Math.abs(yy - lastY) < 13) return;
      lastY = yy;
      ctx.fillStyle = distrust(s.lve_nr) ? "#9a3412" : "#5d6b7a";
      ctx.fillText(sectionLabel(s), L - 6, yy);
    });
    ctx.textAlign = "center";
    const step = hours > 12 ? 3 : 1;
    for (let h = h0; h < h1; h += step) ctx.fillText(fmt(firstHour + h * 3600), L + (h - h0) * colW + colW / 2, H - 8);
    $("heatmap-road").textContent = `${ts.road} ${ts.direction} · mean speed per hour (${TL.zoneLabel()})`;
    canvas.dataset.road = `${ts.road}|${ts.direction}`;
  }

  // ---- a section's speeds ----------------------------------------------------------------------
  async function loadSection(lve) {
    state.section = lve;
    const box = $("chart");
    try {
      const data = await getJSON(`/api/locations/${encodeURIComponent(lve)}/timeseries?day=${day}`);
      $("chart-title").textContent = `Speed per minute · section ${lve}${data.name ? ` · ${data.name}` : ""}`;
      state.sectionData = data;
      TL.speedChart(box, data);
      box.dataset.lve = String(lve);
    } catch (err) {
      box.textContent = "";
      box.append(el("p", { class: "error" }, String(err.message || err)));
    }
  }

  // ---- wiring ------------------------------------------------------------------------------------
  function redrawAll() {
    renderJams(); drawMap(); drawTimespace(); drawHeatmap();
    if (state.sectionData) TL.speedChart($("chart"), state.sectionData);
  }

  async function init() {
    $("day").addEventListener("change", (e) => { window.location.search = `?day=${e.target.value}`; });
    TL.onTz(redrawAll);
    TL.speedLegend($("map-legend"));
    $("map-legend").append(el("span", { class: "muted small" }, " · dark-red ring: in a jam · black ring: the selected episode"));
    if (!day) {
      $("jams").querySelector("tbody").innerHTML = '<tr><td colspan="7" class="empty">no transformed data yet</td></tr>';
      return;
    }
    const [roads, jams, outline, health] = await Promise.all([
      getJSON("/api/roads"), getJSON(`/api/jams?day=${day}`), TL.loadOutline(),
      getJSON(`/api/detectors/health?day=${day}`),
    ]);
    state.health = new Map(health.sections.map((h) => [h.lve_nr, h]));
    state.roads = roads.roads;
    state.jams = jams.jams;
    state.derived = jams.derived;
    state.outline = outline;
    const select = $("road");
    for (const r of state.roads) select.append(el("option", { value: roadKey(r.road, r.direction) }, roadLabel(r)));
    select.addEventListener("change", () => loadRoad(select.value));
    renderJams();
    $("map-minute").addEventListener("input", (e) => {
      const start = Date.parse(day + "T00:00:00Z") / 1000;
      $("map-clock").textContent = fmt(start + Number(e.target.value) * 60);
    });
    $("map-minute").addEventListener("change", (e) => {
      const start = Date.parse(day + "T00:00:00Z") / 1000;
      loadMap(start + Number(e.target.value) * 60);
    });
    const map = $("map");
    map.addEventListener("mousemove", (e) => {
      const [mx, my] = TL.canvasPoint(map, e);
      const s = state.hitMap && state.hitMap(mx, my);
      TL.tooltip($("map-tip"), map, e, s ? `<b>${esc(s.name)}</b><br>${esc(s.road)} ${esc(s.direction)} km ${s.km.toFixed(1)} · section ${s.lve_nr}<br>${s.speed == null ? "no data" : `${s.speed.toFixed(0)} km/h`}${s.jam ? " · in a jam" : ""}${trustNote(s.lve_nr)}` : null);
    });
    map.addEventListener("mouseleave", () => { $("map-tip").hidden = true; });
    map.addEventListener("click", (e) => {
      const [mx, my] = TL.canvasPoint(map, e);
      const s = state.hitMap && state.hitMap(mx, my);
      if (!s) return;
      const key = roadKey(s.road, s.direction);
      select.value = key;
      loadRoad(key);
      loadSection(s.lve_nr);
    });
    const tsCanvas = $("timespace");
    tsCanvas.addEventListener("mousemove", (e) => {
      const hit = timespaceAt(e);
      TL.tooltip($("timespace-tip"), tsCanvas, e, hit ? `${fmt(state.ts.start + hit.minute * 60)} · km ${hit.section.km.toFixed(1)}<br><b>${esc(hit.section.name)}</b> (section ${hit.section.lve_nr})<br>${hit.speed < 0 ? "no data" : `${hit.speed} km/h`}${trustNote(hit.section.lve_nr)}` : null);
    });
    tsCanvas.addEventListener("mouseleave", () => { $("timespace-tip").hidden = true; });
    tsCanvas.addEventListener("click", (e) => {
      const hit = timespaceAt(e);
      if (!hit) return;
      const t = state.ts.start + hit.minute * 60;
      const inside = state.ts.jams.find((j) => j.start_ts <= t && t < j.end_ts && j.sections.includes(hit.section.lve_nr));
      if (inside) { selectJam(inside); return; }
      loadSection(hit.section.lve_nr);
      loadMap(t);
    });
    const heat = $("heatmap");
    heat.addEventListener("mousemove", (e) => {
      if (!state.ts) return;
      const [mx, my] = TL.canvasPoint(heat, e);
      const secs = state.ts.sections;
      const { L, T, B, R } = HEAT;
      const [h0, h1] = state.heatHours;
      const h = h0 + Math.floor((mx - L) / ((heat.width - L - R) / (h1 - h0)));
      const r = Math.floor((my - T) / ((heat.height - T - B) / secs.length));
      if (h < h0 || h >= h1 || r < 0 || r >= secs.length) { $("heatmap-tip").hidden = true; return; }
      const i = secs.length - 1 - r;
      const v = state.heat[i][h];
      TL.tooltip($("heatmap-tip"), heat, e, `${fmt(state.ts.start + h * 3600)}–${fmt(state.ts.start + (h + 1) * 3600)}<br><b>${esc(secs[i].name)}</b> km ${secs[i].km.toFixed(1)}<br>${v == null ? "no data" : `${v.toFixed(0)} km/h`}`);
    });
    heat.addEventListener("mouseleave", () => { $("heatmap-tip").hidden = true; });
    // start on the day's worst jam (most vehicle-hours lost), or the road with most sections
    const worst = [...state.jams].sort((a, b) => b.vehicle_hours_lost - a.vehicle_hours_lost)[0];
    if (worst) {
      await selectJam(worst);
    } else {
      if (state.roads.length) { select.value = roadKey(state.roads[0].road, state.roads[0].direction); await loadRoad(select.value); }
      await loadMap(null);
    }
    document.body.dataset.ready = "1";
  }

  init().catch((err) => {
    const p = el("p", { class: "notice error" }, String(err.message || err));
    document.querySelector("main").prepend(p);
    document.body.dataset.ready = "error";
  });
})();
