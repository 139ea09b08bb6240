// trafficlake lake page: the congestion ranking with one location's speed chart (uPlot, via
// static/common.js) and the read-only query box.
"use strict";

const { el, getJSON } = TL;

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
    title.textContent = `Speed per minute: ${data.name || "location"} (lve_nr ${data.lve_nr}), UTC day ${data.day}, ${TL.zoneLabel()}`;
    box.replaceChildren();
    TL.speedChart(box, data);
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
