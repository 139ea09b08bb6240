// trafficlake dashboard: day picker, per-location speed chart (inline SVG), query box.
// No libraries: everything is drawn from the JSON API with plain DOM calls.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const SERIES = [
  ["currentSpeed", "current"],
  ["avgSpeed3Minutes", "avg3"],
  ["avgSpeed20Minutes", "avg20"],
];

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

function hhmm(epochSeconds) {
  return new Date(epochSeconds * 1000).toISOString().slice(11, 16);
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// ---- speed chart -------------------------------------------------------------------------
function drawChart(box, data) {
  const W = 760, H = 300, L = 44, R = 12, T = 12, B = 28;
  const col = Object.fromEntries(data.columns.map((c, i) => [c, i]));
  const rows = data.rows;
  const ts = rows.map((r) => r[col.recordTimestamp]);
  const t0 = ts[0], t1 = Math.max(ts[ts.length - 1], t0 + 60);
  let vmax = data.jam_threshold_kmh * 1.5;
  for (const r of rows) for (const [name] of SERIES) {
    const v = r[col[name]];
    if (v !== null && v > vmax) vmax = v;
  }
  vmax = Math.ceil(vmax / 20) * 20;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / vmax) * (H - T - B);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", width: "100%" });

  // jam minutes as shaded bars
  const step = Math.max(1, (W - L - R) / Math.max(1, (t1 - t0) / 60));
  for (const r of rows) {
    if (r[col.trafficJamIndicator] === 1) {
      chart.appendChild(svg("rect", {
        x: x(r[col.recordTimestamp]) - step / 2, y: T, width: step, height: H - T - B, class: "jam",
      }));
    }
  }
  // axes and grid
  for (let v = 0; v <= vmax; v += 20) {
    chart.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    const label = svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" });
    label.textContent = String(v);
    chart.appendChild(label);
  }
  const hours = Math.max(1, Math.round((t1 - t0) / 3600 / 8));
  for (let t = Math.ceil(t0 / 3600) * 3600; t <= t1; t += 3600 * hours) {
    chart.appendChild(svg("line", { x1: x(t), x2: x(t), y1: T, y2: H - B, class: "grid" }));
    const label = svg("text", { x: x(t), y: H - 8, class: "axis", "text-anchor": "middle" });
    label.textContent = hhmm(t);
    chart.appendChild(label);
  }
  // the speed lines (gaps where a value is missing)
  for (const [name, cls] of SERIES) {
    let d = "", pen = "M";
    for (const r of rows) {
      const v = r[col[name]];
      if (v === null) { pen = "M"; continue; }
      d += `${pen}${x(r[col.recordTimestamp]).toFixed(1)},${y(v).toFixed(1)} `;
      pen = "L";
    }
    chart.appendChild(svg("path", { d, class: `line ${cls}` }));
  }
  // jam threshold
  const thr = data.jam_threshold_kmh;
  chart.appendChild(svg("line", { x1: L, x2: W - R, y1: y(thr), y2: y(thr), class: "threshold" }));
  box.replaceChildren(chart);
}

async function showLocation(lve) {
  const day = document.body.dataset.day;
  const box = document.getElementById("chart");
  const title = document.getElementById("chart-title");
  document.querySelectorAll("#congestion tr.selected").forEach((r) => r.classList.remove("selected"));
  const row = document.querySelector(`#congestion tr[data-lve="${lve}"]`);
  if (row) row.classList.add("selected");
  box.replaceChildren(el("p", { class: "empty" }, "loading…"));
  try {
    const data = await getJSON(`/api/locations/${encodeURIComponent(lve)}/timeseries?day=${day}`);
    title.textContent = `Speed per minute: ${data.name || "location"} (lve_nr ${data.lve_nr}), ${data.day} UTC`;
    drawChart(box, data);
  } catch (err) {
    box.replaceChildren(el("p", { class: "error" }, err.message));
  }
}

// ---- query box ---------------------------------------------------------------------------
async function runQuery(event) {
  event.preventDefault();
  const out = document.getElementById("query-result");
  out.replaceChildren(el("p", { class: "empty" }, "running…"));
  try {
    const sql = document.getElementById("sql").value;
    const result = await getJSON("/api/query", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sql, limit: 200 }),
    });
    const table = el("table");
    const head = el("tr");
    for (const c of result.columns) head.appendChild(el("th", {}, c));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    for (const r of result.rows) {
      const tr = body.appendChild(el("tr"));
      for (const v of r) tr.appendChild(el("td", {}, v === null ? "NULL" : String(v)));
    }
    const note = `${result.rows.length} row(s)${result.truncated ? " (truncated)" : ""}, ` +
      `${result.files_read.length} file(s) read`;
    out.replaceChildren(el("p", { class: "hint" }, note), table);
  } catch (err) {
    out.replaceChildren(el("p", { class: "error" }, err.message));
  }
}

// ---- wiring ------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  const picker = document.getElementById("day");
  picker.addEventListener("change", () => {
    if (picker.value) window.location.search = `?day=${encodeURIComponent(picker.value)}`;
  });
  const rows = document.querySelectorAll("#congestion tr[data-lve]");
  for (const row of rows) {
    row.addEventListener("click", () => showLocation(row.dataset.lve));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") showLocation(row.dataset.lve); });
  }
  if (rows.length) showLocation(rows[0].dataset.lve);
  document.getElementById("query-form").addEventListener("submit", runQuery);
});
