// trafficlake dashboard: helpers every page shares (JSON, time zones, speed colours, the map,
// the speed chart). Plain browser JavaScript; the only library is uPlot (static/vendor/uplot).
"use strict";

const TL = (() => {
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function getJSON(url, options) {
    const response = await fetch(url, options);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  // ---- time zones: Europe/Brussels by default, UTC on the switch ----------------------------
  const TZ_KEY = "trafficlake.tz";
  function tz() {
    const checked = document.querySelector('input[name="tz"]:checked');
    return checked ? checked.value : "Europe/Brussels";
  }
  function onTz(callback) {
    const saved = localStorage.getItem(TZ_KEY);
    for (const input of document.querySelectorAll('input[name="tz"]')) {
      if (saved) input.checked = input.value === saved;
      input.addEventListener("change", () => {
        localStorage.setItem(TZ_KEY, tz());
        callback(tz());
      });
    }
  }
  const formats = new Map();
  function fmt(epoch, options) {
    const zone = tz();
    const key = zone + JSON.stringify(options || {});
    if (!formats.has(key)) {
      formats.set(key, new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23", ...(options || {}),
      }));
    }
    return formats.get(key).format(new Date(epoch * 1000));
  }
  function zoneLabel() { return tz() === "UTC" ? "UTC" : "Brussels time"; }

  // ---- speed colours (as traffic maps draw them: red = stopped .. green = free) ------------
  const STOPS = [[0, [110, 0, 20]], [15, [200, 20, 30]], [30, [240, 80, 30]], [45, [250, 160, 40]],
    [65, [240, 220, 70]], [85, [150, 205, 90]], [105, [40, 160, 80]], [130, [20, 120, 90]]];
  function speedRGB(v) {
    if (v === null || v === undefined || v < 0 || !Number.isFinite(v)) return [226, 229, 233];
    for (let i = 1; i < STOPS.length; i++) {
      if (v <= STOPS[i][0]) {
        const [a, ca] = STOPS[i - 1], [b, cb] = STOPS[i];
        const f = (v - a) / (b - a);
        return ca.map((c, k) => Math.round(c + f * (cb[k] - c)));
      }
    }
    return STOPS[STOPS.length - 1][1];
  }
  function speedColor(v) { return `rgb(${speedRGB(v).join(",")})`; }
  function speedLegend(box) {
    box.textContent = "";
    for (const v of [5, 20, 35, 50, 70, 90, 110]) {
      const key = el("span", { class: "swatch" });
      key.style.background = speedColor(v);
      box.append(key, el("span", {}, `${v}`));
    }
    const none = el("span", { class: "swatch" });
    none.style.background = speedColor(null);
    box.append(el("span", {}, " km/h   "), none, el("span", {}, "no data"));
  }

  // ---- the map: an offline outline of Belgium, roads as polylines, sections as dots --------
  let outline = null;
  async function loadOutline() {
    if (!outline) outline = await getJSON("/static/vendor/outline/belgium.geojson");
    return outline;
  }
  function projector(canvas, sections) {
    let lat0 = 90, lat1 = -90, lon0 = 180, lon1 = -180;
    for (const s of sections) {
      lat0 = Math.min(lat0, s.lat); lat1 = Math.max(lat1, s.lat);
      lon0 = Math.min(lon0, s.lon); lon1 = Math.max(lon1, s.lon);
    }
    if (lat0 > lat1) { lat0 = 50.68; lat1 = 51.5; lon0 = 2.54; lon1 = 5.92; }  // Flanders
    const padLat = Math.max(0.08, (lat1 - lat0) * 0.08), padLon = Math.max(0.12, (lon1 - lon0) * 0.06);
    lat0 -= padLat; lat1 += padLat; lon0 -= padLon; lon1 += padLon;
    const k = Math.cos(((lat0 + lat1) / 2) * Math.PI / 180);
    const W = canvas.width, H = canvas.height;
    const scale = Math.min(W / ((lon1 - lon0) * k), H / (lat1 - lat0));
    const ox = (W - (lon1 - lon0) * k * scale) / 2, oy = (H - (lat1 - lat0) * scale) / 2;
    return (lat, lon) => [ox + (lon - lon0) * k * scale, H - oy - (lat - lat0) * scale];
  }
  // options: sections (with lat, lon, road, direction, position), color(s), ring(s) -> colour
  // or null, selected: Set of lve_nr, radius
  function drawMap(canvas, shape, options) {
    const ctx = canvas.getContext("2d");
    const secs = options.sections;
    const P = projector(canvas, secs);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#eef2f6";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#ffffff"; ctx.strokeStyle = "#9aa7b4"; ctx.lineWidth = 1;
    for (const poly of shape.geometry.coordinates) {
      ctx.beginPath();
      poly[0].forEach(([lon, lat], i) => {
        const [x, y] = P(lat, lon);
        if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      });
      ctx.closePath(); ctx.fill(); ctx.stroke();
    }
    // roads: a polyline through each road's sections, per direction, offset to its right side
    const roads = new Map();
    for (const s of secs) {
      const key = `${s.road}|${s.direction}`;
      if (!roads.has(key)) roads.set(key, []);
      roads.get(key).push(s);
    }
    ctx.lineWidth = 2.5; ctx.strokeStyle = "#c4ccd5"; ctx.lineJoin = "round";
    for (const list of roads.values()) {
      list.sort((a, b) => a.position - b.position);
      ctx.beginPath();
      list.forEach((s, i) => {
        const [x, y] = P(s.lat, s.lon);
        if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      });
      ctx.stroke();
    }
    const r = options.radius || 3.2;
    const points = [];
    const order = [...secs].sort((a, b) => (options.rank ? options.rank(a) - options.rank(b) : 0));
    for (const s of order) {
      const [x, y] = P(s.lat, s.lon);
      const side = s.direction === "2" ? -1 : 1;  // the two carriageways side by side
      const px = x + side * 2.2, py = y - side * 2.2;
      points.push([px, py, s]);
      ctx.beginPath(); ctx.arc(px, py, r, 0, 2 * Math.PI);
      ctx.fillStyle = options.color(s); ctx.fill();
      const ring = options.ring ? options.ring(s) : null;
      if (ring) { ctx.lineWidth = 1.5; ctx.strokeStyle = ring; ctx.stroke(); }
    }
    if (options.selected && options.selected.size) {
      ctx.lineWidth = 2.5; ctx.strokeStyle = "#111";
      for (const [px, py, s] of points) {
        if (!options.selected.has(s.lve_nr)) continue;
        ctx.beginPath(); ctx.arc(px, py, r + 3.5, 0, 2 * Math.PI); ctx.stroke();
      }
    }
    // place names: the end sections of the longest roads
    ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = "#5d6b7a";
    const labelled = new Set();
    for (const list of [...roads.values()].sort((a, b) => b.length - a.length).slice(0, 12)) {
      const s = list[list.length - 1];
      if (labelled.has(s.road)) continue;
      labelled.add(s.road);
      const [x, y] = P(s.lat, s.lon);
      ctx.fillText(s.road, x + 6, y - 6);
    }
    return (mx, my) => {  // hit test: the nearest section within 8 px
      let best = null, bestD = 64;
      for (const [px, py, s] of points) {
        const d = (px - mx) ** 2 + (py - my) ** 2;
        if (d < bestD) { best = s; bestD = d; }
      }
      return best;
    };
  }

  function canvasPoint(canvas, event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width,
      (event.clientY - box.top) * canvas.height / box.height];
  }
  function tooltip(tip, canvas, event, html) {
    if (html === null) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.innerHTML = html;
    const box = canvas.getBoundingClientRect();
    tip.style.left = `${Math.min(event.clientX - box.left + 14, box.width - 220)}px`;
    tip.style.top = `${event.clientY - box.top + 14}px`;
  }
  function esc(text) {
    return String(text ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }

  // ---- the speed chart (uPlot: values follow the cursor in its legend) ----------------------
  let chart = null;
  function speedChart(box, data) {
    const col = Object.fromEntries(data.columns.map((c, i) => [c, i]));
    const rows = data.rows;
    const t = rows.map((r) => r[col.recordTimestamp]);
    const series = ["currentSpeed", "avgSpeed3Minutes", "avgSpeed20Minutes"].map(
      (name) => rows.map((r) => r[col[name]]));
    const threshold = rows.map(() => data.jam_threshold_kmh);
    if (chart) { chart.destroy(); chart = null; }
    box.textContent = "";
    const zone = tz();
    const opts = {
      width: Math.max(320, box.clientWidth - 8), height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
      scales: { y: { range: (u, lo, hi) => [0, Math.max(140, Math.ceil(hi / 20) * 20)] } },
      axes: [{ values: (u, splits) => splits.map((v) => fmt(v)) }, { label: "km/h", size: 48 }],
      series: [
        { label: zoneLabel(), value: (u, v) => (v == null ? "-" : fmt(v, { weekday: "short" })) },
        { label: "currentSpeed", stroke: "#1f77b4", width: 1, value: (u, v) => (v == null ? "-" : v.toFixed(1)) },
        { label: "avgSpeed3Minutes", stroke: "#d62728", width: 1.6, value: (u, v) => (v == null ? "-" : v.toFixed(1)) },
        { label: "avgSpeed20Minutes", stroke: "#2ca02c", width: 1.6, value: (u, v) => (v == null ? "-" : v.toFixed(1)) },
        { label: `jam threshold`, stroke: "#000", dash: [6, 4], width: 1, value: () => `${data.jam_threshold_kmh} km/h` },
      ],
    };
    chart = new uPlot(opts, [t, ...series, threshold], box);
    box.dataset.points = String(t.length);
    return chart;
  }

  return { el, getJSON, tz, onTz, fmt, zoneLabel, speedColor, speedRGB, speedLegend, loadOutline,
    drawMap, canvasPoint, tooltip, esc, speedChart };
})();
