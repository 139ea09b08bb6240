// trafficlake detectors page: the day's detector health (per lane, summed up per section), the
// sections not to be trusted on a map and in a table, and the lanes behind them.
"use strict";

(() => {
  const { el, getJSON, esc } = TL;
  const day = document.body.dataset.day;
  const $ = (id) => document.getElementById(id);
  const pct = (v) => (v == null ? "-" : `${(100 * v).toFixed(1)}`);

  function healthColor(s) {
    if (!s) return TL.speedColor(null);
    if (s.stuck_lanes) return "rgb(120, 60, 160)";
    return TL.speedColor(20 + 100 * Math.max(0, (s.pct_valid - 0.5) / 0.5));  // red .. green
  }

  function card(label, value, note) {
    const box = el("div", { class: "card" });
    box.append(el("div", { class: "value" }, value), el("div", { class: "label" }, label));
    if (note) box.append(el("div", { class: "note" }, note));
    return box;
  }

  function row(cells) {
    const tr = el("tr");
    for (const [text, cls] of cells) tr.append(el("td", cls ? { class: cls } : {}, text));
    return tr;
  }

  async function init() {
    $("day").addEventListener("change", (e) => { window.location.search = `?day=${e.target.value}`; });
    TL.onTz(() => {});
    if (!day) return;
    const [health, roads, outline] = await Promise.all([
      getJSON(`/api/detectors/health?day=${day}`), getJSON("/api/roads"), TL.loadOutline(),
    ]);
    const cards = $("health-cards");
    if (!health.derived) {
      cards.append(el("p", { class: "empty" }, "not derived yet: run trafficlake roads derive"));
    } else {
      const s = health.summary;
      cards.append(
        card("lanes reporting", s.lanes.toLocaleString("en")),
        card("% observed", pct(s.pct_observed), "fresh minutes of the day's published minutes"),
        card("% valid", pct(s.pct_valid), "observed, not defect, with data"),
        card("lanes not to be trusted", s.untrusted_lanes.toLocaleString("en"), `valid < ${pct(health.rules.min_valid_share)} % or stuck ≥ ${health.rules.stuck_minutes} min`),
        card("sections flagged", `${s.untrusted_sections} of ${s.sections}`),
      );
    }
    const bySection = new Map(health.sections.map((s) => [s.lve_nr, s]));
    const sections = roads.roads.flatMap((r) => r.sections);
    const canvas = $("health-map");
    const hit = TL.drawMap(canvas, outline, {
      sections,
      color: (s) => healthColor(bySection.get(s.lve_nr)),
      ring: (s) => (bySection.get(s.lve_nr) && !bySection.get(s.lve_nr).trusted ? "#111" : null),
      rank: (s) => (bySection.get(s.lve_nr) && !bySection.get(s.lve_nr).trusted ? 1 : 0),
      radius: 3.2,
    });
    canvas.addEventListener("mousemove", (e) => {
      const [mx, my] = TL.canvasPoint(canvas, e);
      const s = hit(mx, my);
      const h = s && bySection.get(s.lve_nr);
      TL.tooltip($("health-map-tip"), canvas, e, s ? `<b>${esc(s.name)}</b> · section ${s.lve_nr}<br>${esc(s.road)} ${esc(s.direction)} km ${s.km.toFixed(1)}<br>${h ? `${pct(h.pct_valid)} % valid, ${h.untrusted_lanes} of ${h.lanes} lane(s) not trusted${h.stuck_lanes ? `, ${h.stuck_lanes} stuck` : ""}` : "no health data"}` : null);
    });
    canvas.addEventListener("mouseleave", () => { $("health-map-tip").hidden = true; });
    const legend = $("health-legend");
    for (const [label, color] of [["100 % valid", healthColor({ pct_valid: 1 })], ["90 %", healthColor({ pct_valid: 0.9 })], ["75 %", healthColor({ pct_valid: 0.75 })], ["≤ 50 %", healthColor({ pct_valid: 0.5 })], ["stuck", healthColor({ stuck_lanes: 1 })], ["no data", healthColor(null)]]) {
      const key = el("span", { class: "swatch" });
      key.style.background = color;
      legend.append(key, el("span", {}, label + "  "));
    }
    const flagged = health.sections.filter((s) => !s.trusted);
    $("untrusted-count").textContent = `(${flagged.length})`;
    const body = $("health-sections").querySelector("tbody");
    body.textContent = "";
    for (const s of flagged) {
      const tr = row([[String(s.lve_nr)], [`${s.road || ""} ${s.direction || ""}`, "nowrap"], [s.km == null ? "" : s.km.toFixed(1), "num"], [s.name || ""],
        [String(s.lanes), "num"], [String(s.untrusted_lanes), "num"], [String(s.stuck_lanes), "num"],
        [pct(s.pct_observed), "num"], [pct(s.pct_valid), "num"]]);
      tr.dataset.lve = String(s.lve_nr);
      body.append(tr);
    }
    if (!flagged.length) body.append(row([["every section is to be trusted", "empty"]]));
    const lanes = $("health-lanes").querySelector("tbody");
    lanes.textContent = "";
    for (const l of health.lanes) {
      lanes.append(row([[String(l.unieke_id)], [l.beschrijvende_id || ""], [l.Rijstrook || ""], [l.name || ""],
        [pct(l.pct_observed), "num"], [pct(l.pct_valid), "num"], [String(l.minutes_defect), "num"],
        [String(l.minutes_stale), "num"], [String(l.minutes_unavailable), "num"], [String(l.stuck_minutes), "num"]]));
    }
    if (!health.lanes.length) lanes.append(row([["none", "empty"]]));
    document.body.dataset.ready = "1";
  }

  init().catch((err) => {
    document.querySelector("main").prepend(el("p", { class: "notice error" }, String(err.message || err)));
    document.body.dataset.ready = "error";
  });
})();
