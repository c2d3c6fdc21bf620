// aquatwin operators' page. Plain JavaScript, no library, no build step:
// the map and the evidence plot are SVG drawn from this service's own API.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const POLL_MS = 2000;
const TOKEN_KEY = "aquatwin-token";
const $ = (id) => document.getElementById(id);

const state = {
  view: null, // {x, y, w, h} in screen-oriented model units (y flipped)
  extent: null,
  alerts: [],
  selected: null, // alert id
  status: null,
  sensorTags: new Set(),
  sse: false, // server-sent events flowing
  lastPoll: 0,
  sensorKey: "", // the status's sensor tags when last seen
  loadingNetwork: false,
  areaKey: "", // what the drawn candidate area shows (alert, place)
};

// ---------- formatting ----------
function fmtTime(ms) {
  if (ms === null || ms === undefined) return "–";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}
function fmtValue(v, unit, kind) {
  if (v === null || v === undefined) return "–";
  if (unit === "m3/s") return (v * 1000).toFixed(2) + " L/s";
  if (unit === "m") return v.toFixed(2) + " m";
  return v.toPrecision(4) + (unit ? " " + unit : "");
}
function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---------- HTTP ----------
async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { msg = (await r.json()).error || msg; } catch (_) { /* not JSON */ }
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return r.json();
}

function askToken() {
  return new Promise((resolve) => {
    const dlg = $("token-dialog");
    const input = $("token-input");
    input.value = "";
    const done = (value) => {
      $("token-form").onsubmit = null;
      $("token-cancel").onclick = null;
      dlg.close();
      resolve(value);
    };
    $("token-form").onsubmit = (ev) => { ev.preventDefault(); done(input.value.trim() || null); };
    $("token-cancel").onclick = () => done(null);
    dlg.showModal();
    input.focus();
  });
}

async function postAction(url, body) {
  let token = sessionStorage.getItem(TOKEN_KEY);
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!token) {
      token = await askToken();
      if (!token) throw new Error("no token given");
      sessionStorage.setItem(TOKEN_KEY, token);
    }
    const r = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify(body),
    });
    if (r.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      token = null;
      continue;
    }
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || r.status + " " + r.statusText);
    return data;
  }
  throw new Error("the token was refused");
}

// ---------- map ----------
function pathData(coords) {
  return coords.map((c, i) => (i ? "L" : "M") + c[0] + " " + (-c[1])).join("");
}

function setView(v) {
  state.view = v;
  $("map").setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
  resizeMarks();
}

// Radii and font sizes in model units follow the zoom so that marks keep
// their size on screen.
function unitsPerPixel() {
  const svg = $("map");
  const px = Math.max(1, Math.min(svg.clientWidth, svg.clientHeight) || 600);
  const v = state.view;
  return v ? Math.max(v.w / (svg.clientWidth || 600), v.h / (svg.clientHeight || 400)) || v.w / px : 1;
}
function resizeMarks() {
  const u = unitsPerPixel();
  for (const c of $("nodes").children) c.setAttribute("r", (c.classList.contains("junction") ? 1.6 : 4) * u);
  for (const g of $("sensors").children) {
    const c = g.querySelector("circle");
    const t = g.querySelector("text");
    c.setAttribute("r", 6 * u);
    t.setAttribute("font-size", 11 * u);
    t.setAttribute("x", Number(c.getAttribute("cx")) + 8 * u);
    t.setAttribute("y", Number(c.getAttribute("cy")) - 6 * u);
  }
}

function fitTo(minX, minY, maxX, maxY, pad) {
  const w = Math.max(maxX - minX, 1e-6), h = Math.max(maxY - minY, 1e-6);
  const p = pad === undefined ? 0.05 : pad;
  const svg = $("map");
  const aspect = (svg.clientWidth || 800) / (svg.clientHeight || 600);
  let vw = w * (1 + 2 * p), vh = h * (1 + 2 * p);
  if (vw / vh < aspect) vw = vh * aspect; else vh = vw / aspect;
  const cx = (minX + maxX) / 2, cy = -(minY + maxY) / 2;
  setView({ x: cx - vw / 2, y: cy - vh / 2, w: vw, h: vh });
}
function fitAll() {
  if (state.extent) fitTo(...state.extent);
}

function drawNetwork(fc) {
  const links = $("links"), nodes = $("nodes"), sensors = $("sensors");
  links.replaceChildren(); nodes.replaceChildren(); sensors.replaceChildren();
  state.sensorTags = new Set();
  let ext = fc.bbox ? fc.bbox.slice() : null;
  for (const f of fc.features) {
    const p = f.properties, g = f.geometry;
    if (p.layer === "link") {
      links.appendChild(el("svg:path", { d: pathData(g.coordinates), class: p.kind, "data-id": p.id, "data-layer": "link", "data-kind": p.kind }));
    } else if (p.layer === "node") {
      nodes.appendChild(el("svg:circle", { cx: g.coordinates[0], cy: -g.coordinates[1], r: 1, class: p.kind, "data-id": p.id, "data-layer": "node", "data-kind": p.kind }));
    } else if (p.layer === "sensor") {
      state.sensorTags.add(p.id);
      const grp = el("svg:g", { "data-id": p.id, "data-layer": "sensor", "data-kind": p.kind, "data-element": p.element });
      grp.appendChild(el("svg:circle", { cx: g.coordinates[0], cy: -g.coordinates[1], r: 1, class: "s-stale", "data-id": p.id, "data-layer": "sensor", "data-kind": p.kind, "data-element": p.element }));
      grp.appendChild(el("svg:text", {}, ""));
      sensors.appendChild(grp);
    }
  }
  if (!ext) {
    const xs = [], ys = [];
    for (const c of nodes.children) { xs.push(+c.getAttribute("cx")); ys.push(-c.getAttribute("cy")); }
    ext = xs.length ? [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)] : [0, 0, 1, 1];
  }
  state.extent = ext;
  fitAll();
  paintSensors();
}

async function loadNetwork() {
  if (state.loadingNetwork) return;
  state.loadingNetwork = true;
  try {
    drawNetwork(await getJSON("/api/network.geojson"));
  } catch (e) {
    $("picked").textContent = "no network map: " + e.message;
  } finally {
    state.loadingNetwork = false;
  }
}

function describe(target) {
  const d = target.dataset;
  if (!d || !d.layer) return null;
  if (d.layer === "sensor") {
    const s = sensorStatus(d.id);
    const val = s ? fmtValue(s.last_value, s.unit, s.kind) + " · " + s.state : "";
    return `sensor ${d.id} (${d.kind} at ${d.element}) ${val}`;
  }
  return `${d.kind} ${d.id}`;
}

function installMapInteraction() {
  const svg = $("map"), tip = $("tooltip");
  let drag = null;
  const toModel = (ev) => {
    const r = svg.getBoundingClientRect(), v = state.view;
    const s = Math.max(v.w / r.width, v.h / r.height);
    const ox = v.x + (v.w - r.width * s) / 2, oy = v.y + (v.h - r.height * s) / 2;
    return { x: ox + (ev.clientX - r.left) * s, y: oy + (ev.clientY - r.top) * s, s };
  };
  svg.addEventListener("wheel", (ev) => {
    if (!state.view) return;
    ev.preventDefault();
    const m = toModel(ev), v = state.view;
    const k = ev.deltaY < 0 ? 1 / 1.2 : 1.2;
    setView({ x: m.x - (m.x - v.x) * k, y: m.y - (m.y - v.y) * k, w: v.w * k, h: v.h * k });
  }, { passive: false });
  svg.addEventListener("pointerdown", (ev) => {
    if (!state.view) return;
    drag = { x: ev.clientX, y: ev.clientY, v: { ...state.view }, moved: false };
    svg.setPointerCapture(ev.pointerId);
    svg.classList.add("dragging");
  });
  svg.addEventListener("pointermove", (ev) => {
    if (drag) {
      const r = svg.getBoundingClientRect();
      const s = Math.max(drag.v.w / r.width, drag.v.h / r.height);
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) setView({ ...drag.v, x: drag.v.x - dx * s, y: drag.v.y - dy * s });
      return;
    }
    const text = describe(ev.target);
    if (text) {
      const r = $("mapwrap").getBoundingClientRect();
      tip.textContent = text;
      tip.style.left = ev.clientX - r.left + 12 + "px";
      tip.style.top = ev.clientY - r.top + 12 + "px";
      tip.hidden = false;
    } else tip.hidden = true;
  });
  const end = (ev) => {
    if (!drag) return;
    const moved = drag.moved;
    drag = null;
    svg.classList.remove("dragging");
    if (!moved) pick(document.elementFromPoint(ev.clientX, ev.clientY));
  };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", () => { drag = null; svg.classList.remove("dragging"); });
  svg.addEventListener("pointerleave", () => { tip.hidden = true; });
  const zoom = (k) => {
    const v = state.view;
    if (!v) return;
    const cx = v.x + v.w / 2, cy = v.y + v.h / 2;
    setView({ x: cx - v.w * k / 2, y: cy - v.h * k / 2, w: v.w * k, h: v.h * k });
  };
  $("zoom-in").onclick = () => zoom(1 / 1.5);
  $("zoom-out").onclick = () => zoom(1.5);
  $("zoom-fit").onclick = fitAll;
  window.addEventListener("resize", () => { if (state.view) setView(state.view); });
}

function pick(target) {
  for (const p of document.querySelectorAll("#map .picked")) p.classList.remove("picked");
  const text = target ? describe(target) : null;
  if (!text) return;
  target.classList.add("picked");
  $("picked").textContent = text;
}

// ---------- status and sensors ----------
function sensorStatus(tag) {
  return state.status ? state.status.sensors.find((s) => s.tag === tag) : null;
}

function paintSensors() {
  const st = state.status;
  if (!st) return;
  for (const g of $("sensors").children) {
    const s = st.sensors.find((x) => x.tag === g.dataset.id);
    const c = g.querySelector("circle"), t = g.querySelector("text");
    c.setAttribute("class", "s-" + (s ? s.state : "stale"));
    // Demand meters are many: their values are in the table and tooltips.
    const labelled = s && s.kind !== "demand" && s.last_value !== null;
    t.textContent = labelled ? fmtValue(s.last_value, s.unit, s.kind) : "";
  }
  resizeMarks();
  const body = $("sensor-table").tBodies[0];
  body.replaceChildren();
  for (const s of st.sensors) {
    const tr = el("tr", { "data-tag": s.tag });
    const dot = el("span", { class: "dot s-" + s.state, title: s.state });
    const td0 = el("td"); td0.appendChild(dot); tr.appendChild(td0);
    tr.appendChild(el("td", {}, s.tag));
    tr.appendChild(el("td", {}, s.kind + " @ " + s.element));
    tr.appendChild(el("td", { class: "num" }, fmtValue(s.last_value, s.unit, s.kind)));
    tr.appendChild(el("td", {}, s.last_ts_ms ? fmtTime(s.last_ts_ms).slice(5, 16) : "–"));
    body.appendChild(tr);
  }
}

function renderStatus(st) {
  state.status = st;
  $("st-model").textContent = "model time " + fmtTime(st.model_time_ms) + (st.catching_up ? " (catching up)" : "");
  const fresh = st.sensors.filter((s) => s.state === "fresh").length;
  const fr = $("st-fresh");
  fr.textContent = `sensors ${fresh}/${st.sensors.length} fresh`;
  fr.className = st.sensors.length && fresh < st.sensors.length ? "warn" : "";
  $("st-cycle").textContent = "cycle " + (st.last_cycle_ms === null ? "–" : st.last_cycle_ms.toFixed(1) + " ms");
  $("st-samples").textContent = "samples " + st.samples_ingested.toLocaleString("en");
  const dg = $("st-degraded");
  dg.textContent = st.degraded ? "DEGRADED: " + (st.degraded_reasons.join("; ") || "see log") : "normal";
  dg.className = st.degraded ? "bad" : "ok";
  // The sensor list changed (the run loop filled it after the page
  // loaded): redraw the map once for it. Sensors the model cannot place
  // stay off the map; that alone does not trigger a redraw.
  const key = st.sensors.map((s) => s.tag).join("\u0000");
  if (key !== state.sensorKey && st.sensors.some((s) => !state.sensorTags.has(s.tag))) loadNetwork();
  state.sensorKey = key;
  paintSensors();
}

// ---------- alerts ----------
const ORDER = { open: 0, acknowledged: 1, closed: 2 };
// An alert whose place no report has fixed: its pipe is only the best
// guess, the leak is to be searched for in the candidate area.
const UNCERTAIN = "place uncertain — candidate area";
const UNCERTAIN_TIP = "the water balance sees this leak but no report has placed it: search the candidate area";
// An alert that points at a pump's station pipework: a change in the
// pump's own flow fits a leak in a metre of pipe there, so check the pump
// and its meter before sending a crew.
const pumpText = (a) => `pump ${a.at_pump}'s station: check the pump and its meter`;

function pipesText(a, and) {
  return a.pipe + (a.also_pipe ? and + a.also_pipe : "");
}

function renderAlerts(list) {
  state.alerts = list.slice().sort((a, b) => ORDER[a.state] - ORDER[b.state] || b.raised_ms - a.raised_ms);
  const open = state.alerts.filter((a) => a.state === "open").length;
  document.title = (open ? `(${open}) ` : "") + "aquatwin — network and leak alerts";
  const ul = $("alerts");
  ul.replaceChildren();
  if (!state.alerts.length) ul.appendChild(el("li", { class: "empty" }, "no alerts"));
  for (const a of state.alerts) {
    const li = el("li", { class: "alert " + a.state + (a.id === state.selected ? " selected" : ""), "data-id": a.id, "data-state": a.state, "data-place": a.place_uncertain ? "uncertain" : "pipe" });
    const head = el("div", {}, `#${a.id} ${a.state} · ${a.place_uncertain ? "best guess pipe" : "pipe"} ${pipesText(a, " + ")}`);
    if (a.place_uncertain) head.appendChild(el("span", { class: "uncertain", title: UNCERTAIN_TIP }, UNCERTAIN));
    li.appendChild(head);
    if (a.at_pump) li.appendChild(el("div", { class: "pump", "data-pump": a.at_pump }, pumpText(a)));
    li.appendChild(el("div", { class: "meta" },
      `raised ${fmtTime(a.raised_ms)} · start ≈ ${fmtTime(a.estimated_start_ms)} · ${a.size_lps.toFixed(2)} L/s · confidence ${(a.confidence * 100).toFixed(0)} %`));
    li.onclick = () => select(a.id);
    ul.appendChild(li);
  }
  if (state.selected !== null) {
    const a = state.alerts.find((x) => x.id === state.selected);
    if (a) {
      renderDetail(a, false);
      // Re-placed (a report placed it, or re-localized): redraw its area.
      if (areaKey(a) !== state.areaKey) drawArea(a);
    }
  }
}

function renderDetail(a, fresh) {
  $("detail").hidden = false;
  $("d-title").textContent = `Alert #${a.id} — ${a.state}${a.resolution ? " (" + a.resolution.replace("_", " ") + ")" : ""}`;
  const dl = $("d-fields");
  dl.replaceChildren();
  const rows = a.place_uncertain ? [
    ["place", UNCERTAIN + ` (${a.candidates.length} pipes)`],
    ["best guess", "pipe " + pipesText(a, " and ")],
    ...(a.at_pump ? [["pump station", pumpText(a)]] : []),
  ] : [
    ["pipe", pipesText(a, " and ")],
  ];
  rows.push(
    ["raised", fmtTime(a.raised_ms)],
    ["updated", fmtTime(a.updated_ms)],
    ["estimated start", fmtTime(a.estimated_start_ms)],
    ["size", a.size_lps.toFixed(2) + " L/s"],
    ["confidence", (a.confidence * 100).toFixed(0) + " %"],
    ["candidate pipes", String(a.candidates.length)],
    ["evidence", a.evidence.map((e) => `${e.sensor} (${e.residual.toFixed(3)})`).join(", ") || "–"],
  );
  if (a.acknowledged_ms) rows.push(["acknowledged", fmtTime(a.acknowledged_ms)]);
  if (a.closed_ms) rows.push(["closed", fmtTime(a.closed_ms)]);
  if (a.note) rows.push(["note", a.note]);
  for (const [k, v] of rows) {
    dl.appendChild(el("dt", {}, k));
    const dd = el("dd", {}, v);
    if (k === "place") { dd.className = "uncertain"; dd.title = UNCERTAIN_TIP; }
    dl.appendChild(dd);
  }
  $("ack").disabled = a.state !== "open";
  $("close").disabled = a.state === "closed";
  $("resolution").disabled = a.state === "closed";
  if (fresh) {
    $("action-msg").textContent = "";
    $("note").value = "";
    loadEvidence(a);
  }
}

async function select(id) {
  state.selected = id;
  for (const li of $("alerts").children) li.classList.toggle("selected", Number(li.dataset.id) === id);
  const a = state.alerts.find((x) => x.id === id);
  if (!a) return;
  renderDetail(a, true);
  await drawArea(a);
}

function areaKey(a) {
  return [a.id, a.pipe, a.also_pipe, a.place_uncertain, a.at_pump, a.candidates.map((c) => c.pipe).join(",")].join("|");
}

// The candidate area shaded by weight. A placed alert's chosen pipe is
// marked; an alert whose place is uncertain marks its best guess only as
// one more candidate (dashed) and says so over the map.
async function drawArea(a) {
  const id = a.id;
  state.areaKey = areaKey(a);
  const area = $("area");
  area.replaceChildren();
  const note = $("area-note");
  note.textContent = a.place_uncertain ? `Alert #${id}: ${UNCERTAIN} (best guess pipe ${pipesText(a, " + ")}${a.at_pump ? "; " + pumpText(a) : ""})` : "";
  note.title = a.place_uncertain ? UNCERTAIN_TIP : "";
  note.hidden = !a.place_uncertain;
  try {
    const fc = await getJSON(`/api/alerts/${id}/area`);
    if (state.selected !== id) return; // another alert was selected meanwhile
    const max = Math.max(1e-12, ...fc.features.map((f) => f.properties.weight));
    let box = [Infinity, Infinity, -Infinity, -Infinity];
    const chosen = [];
    for (const f of fc.features) {
      if (!f.geometry) continue;
      const w = f.properties.weight / max;
      const p = el("svg:path", { d: pathData(f.geometry.coordinates), class: "cand", "data-pipe": f.properties.pipe, "stroke-opacity": (0.25 + 0.75 * w).toFixed(3), "stroke-width": (2 + 6 * w).toFixed(2) });
      if (f.properties.chosen) {
        p.setAttribute("class", a.place_uncertain ? "cand guess" : "cand chosen");
        chosen.push(p);
      }
      area.appendChild(p);
      for (const c of f.geometry.coordinates) box = [Math.min(box[0], c[0]), Math.min(box[1], c[1]), Math.max(box[2], c[0]), Math.max(box[3], c[1])];
    }
    for (const p of chosen) area.appendChild(p); // on top
    if (isFinite(box[0]) && state.extent) {
      const e = state.extent, pad = Math.max(box[2] - box[0], box[3] - box[1], 0.18 * Math.max(e[2] - e[0], e[3] - e[1]));
      fitTo(box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad, 0);
    }
  } catch (e) {
    $("action-msg").textContent = "no candidate area: " + e.message;
  }
}

async function act(kind) {
  const id = state.selected;
  if (id === null) return;
  const note = $("note").value.trim() || undefined;
  const body = kind === "ack" ? { note } : { resolution: $("resolution").value, note };
  const msg = $("action-msg");
  msg.className = "";
  msg.textContent = "sending…";
  try {
    const a = await postAction(`/api/alerts/${id}/${kind}`, body);
    msg.textContent = kind === "ack" ? "acknowledged" : "closed";
    const i = state.alerts.findIndex((x) => x.id === a.id);
    if (i >= 0) state.alerts[i] = a;
    renderAlerts(state.alerts);
  } catch (e) {
    msg.className = "bad";
    msg.textContent = e.message;
  }
}

// ---------- evidence plot ----------
async function loadEvidence(a) {
  const box = $("evidence");
  box.replaceChildren();
  const sensors = a.evidence.slice(0, 4);
  if (!sensors.length) { box.appendChild(el("p", {}, "this alert names no evidence sensor")); return; }
  const day = 86400000;
  const from = Math.min(a.estimated_start_ms, a.raised_ms) - 2 * day;
  const latest = state.status && state.status.model_time_ms ? state.status.model_time_ms : a.raised_ms + day;
  const to = Math.max(a.raised_ms + 60000, Math.min(a.raised_ms + 2 * day, latest));
  for (const e of sensors) {
    const holder = el("div");
    box.appendChild(holder);
    try {
      const s = await getJSON(`/api/sensors/${encodeURIComponent(e.sensor)}/series?from=${from}&to=${to}`);
      plotSeries(holder, s, a);
    } catch (err) {
      holder.appendChild(el("p", {}, `${e.sensor}: ${err.message}`));
    }
  }
}

function plotSeries(holder, s, a) {
  const W = 400, H = 150, L = 44, R = 6, T = 16, B = 18;
  const scale = s.unit === "m3/s" ? 1000 : 1, unit = s.unit === "m3/s" ? "L/s" : (s.unit || "");
  const pts = [...s.measured, ...s.modelled].filter((p) => p[1] !== null);
  holder.appendChild(el("p", {}, `${s.tag}: ${s.measured.length} measured, ${s.modelled.length} modelled points`));
  if (!pts.length) return;
  let lo = Math.min(...pts.map((p) => p[1])) * scale, hi = Math.max(...pts.map((p) => p[1])) * scale;
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const x = (t) => L + (W - L - R) * (t - s.from_ms) / (s.to_ms - s.from_ms);
  const y = (v) => T + (H - T - B) * (1 - (v * scale - lo) / (hi - lo));
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "plot", "data-tag": s.tag });
  svg.appendChild(el("svg:line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
  svg.appendChild(el("svg:line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  svg.appendChild(el("svg:text", { x: 2, y: T + 4 }, hi.toFixed(2)));
  svg.appendChild(el("svg:text", { x: 2, y: H - B }, lo.toFixed(2)));
  svg.appendChild(el("svg:text", { x: L + 4, y: 11 }, `${s.tag} (${unit}) — measured (solid) vs modelled (dashed)`));
  svg.appendChild(el("svg:text", { x: L, y: H - 4 }, fmtTime(s.from_ms)));
  svg.appendChild(el("svg:text", { x: W - R - 118, y: H - 4 }, fmtTime(s.to_ms)));
  const line = (series, cls) => {
    let d = "", pen = false;
    for (const [t, v] of series) {
      if (v === null) { pen = false; continue; }
      d += (pen ? "L" : "M") + x(t).toFixed(1) + " " + y(v).toFixed(1);
      pen = true;
    }
    if (d) svg.appendChild(el("svg:path", { d, class: cls }));
  };
  line(s.modelled, "modelled");
  line(s.measured, "measured");
  for (const t of [a.estimated_start_ms, a.raised_ms]) {
    if (t >= s.from_ms && t <= s.to_ms) svg.appendChild(el("svg:line", { class: "start", x1: x(t), x2: x(t), y1: T, y2: H - B }));
  }
  holder.appendChild(svg);
}

// ---------- polling ----------
async function poll() {
  const conn = $("st-conn");
  try {
    const [st, alerts] = await Promise.all([getJSON("/api/status"), getJSON("/api/alerts")]);
    renderStatus(st);
    renderAlerts(alerts);
    conn.className = "ok";
    conn.title = "connected, updated " + new Date().toISOString().slice(11, 19) + " UTC";
  } catch (e) {
    conn.className = "bad";
    conn.title = "cannot reach the twin: " + e.message;
  }
}

// Server-sent events push alert changes and status changes as they
// happen; while they flow, the full poll runs only every FULL_POLL_MS (a
// safety net), otherwise every POLL_MS.
const FULL_POLL_MS = 15000;

function connectEvents() {
  if (!window.EventSource) return;
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => { state.sse = true; });
  es.addEventListener("error", () => { state.sse = false; }); // the browser reconnects
  es.addEventListener("status", (ev) => {
    try { renderStatus(JSON.parse(ev.data)); } catch (_) { /* next poll */ }
  });
  es.addEventListener("alert", () => {
    getJSON("/api/alerts").then(renderAlerts).catch(() => { state.sse = false; });
  });
}

window.addEventListener("DOMContentLoaded", async () => {
  installMapInteraction();
  $("ack").onclick = () => act("ack");
  $("close").onclick = () => act("close");
  await loadNetwork();
  await poll();
  state.lastPoll = Date.now();
  connectEvents();
  setInterval(async () => {
    if (state.sse && Date.now() - state.lastPoll < FULL_POLL_MS) return;
    state.lastPoll = Date.now();
    await poll();
  }, POLL_MS);
});
