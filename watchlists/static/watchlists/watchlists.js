// The watch-list page: the user's lists, a new list, a list's map (MapLibre: vector tiles from
// PostGIS where the server makes them, else GeoJSON cells and points), its records with filters,
// triage and comments; a new list's area can be drawn on a second map (Terra Draw). Plain browser JavaScript;
// the libraries, MapLibre GL JS and Terra Draw with its MapLibre adapter, are vendored. Server data
// is only ever set as textContent. Uses the token the home page keeps after login.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "rangewatch.token";
const $ = (id) => document.getElementById(id);
const token = () => localStorage.getItem(TOKEN_KEY);
const STATUSES = ["new", "handling", "managed", "not_found", "no_action"];

let current = null; // the selected list
let map = null;
let tiles = false; // does the server make vector tiles?
let nextPage = null;

async function api(path, { method = "GET", body = null } = {}) {
  const headers = { Accept: "application/json", Authorization: "Token " + token() };
  if (body !== null) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === null ? null : JSON.stringify(body), credentials: "omit" });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new Error(error.detail || `request failed (${response.status})`);
  }
  return data;
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function filterQuery() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($("filters")).entries()) if (v) params.set(k, v);
  return params;
}

async function loadLists() {
  const page = await api(`${API}/watchlists/?limit=200`);
  const ul = $("lists");
  ul.replaceChildren();
  for (const list of page.results) {
    const li = el("li", list.name, { "data-id": list.id });
    if (current && current.id === list.id) li.className = "selected";
    li.addEventListener("click", () => selectList(list.id));
    ul.append(li);
  }
  const wanted = Number(document.body.dataset.watchList) || (current && current.id);
  if (wanted) await selectList(wanted);
}

async function selectList(id) {
  current = await api(`${API}/watchlists/${id}/`);
  history.replaceState(null, "", `/watchlists/${id}/`);
  for (const li of $("lists").children) li.className = Number(li.dataset.id) === id ? "selected" : "";
  $("list-panel").hidden = false;
  $("list-name").textContent = current.name;
  const what = [current.rule && `rule: ${current.rule}`, current.taxa.length && `taxa: ${current.taxa.map((t) => t.scientific_name).join(", ")}`, current.regions.length && `regions: ${current.regions.join(", ")}`, current.area && "a drawn area", `digest: ${current.frequency}`].filter(Boolean);
  $("list-summary").textContent = what.join(" · ");
  await setUpMap();
  await loadMatches(true);
}

// -- the map -------------------------------------------------------------------------------------

async function setUpMap() {
  if (map) { map.remove(); map = null; }
  const probe = await fetch(`${API}/watchlists/${current.id}/tiles/0/0/0.mvt`, { headers: { Authorization: "Token " + token() }, credentials: "omit" });
  tiles = probe.ok;
  maplibregl.setWorkerUrl(document.body.dataset.worker);
  map = new maplibregl.Map({
    container: "map",
    style: { version: 8, sources: {}, layers: [{ id: "background", type: "background", paint: { "background-color": "#e8eef0" } }] },
    center: [10, 45], zoom: 2,
    transformRequest: (url) => (url.startsWith(location.origin + API) || url.startsWith(API) ? { url, headers: { Authorization: "Token " + token() } } : { url }),
  });
  window.watchMap = map; // for the browser test and the console
  map.on("load", async () => {
    // The regions' outlines come from the ranges API, the drawn area from the list itself.
    const areas = { type: "FeatureCollection", features: current.area ? [{ type: "Feature", geometry: current.area, properties: {} }] : [] };
    if (current.regions.length) {
      try {
        const regions = await api(`${API}/regions/geojson/?codes=${encodeURIComponent(current.regions.join(","))}`);
        areas.features.push(...(regions.features || []));
      } catch (e) { /* the outline is a help, not the point */ }
    }
    map.addSource("area", { type: "geojson", data: areas });
    map.addLayer({ id: "area", type: "line", source: "area", paint: { "line-color": "#1f4e3d", "line-width": 2 } });
    const box = bounds(areas);
    if (box) map.fitBounds(box, { padding: 30, maxZoom: 9, duration: 0 });
    if (tiles) {
      map.addSource("tiles", { type: "vector", tiles: [`${location.origin}${API}/watchlists/${current.id}/tiles/{z}/{x}/{y}.mvt`], maxzoom: 14 });
      map.addLayer({ id: "tile-cells", type: "circle", source: "tiles", "source-layer": "matches", filter: ["has", "count"], paint: { "circle-color": "#c0392b", "circle-opacity": 0.6, "circle-radius": ["min", 22, ["+", 4, ["*", 2, ["ln", ["get", "count"]]]]] } });
      map.addLayer({ id: "tile-points", type: "circle", source: "tiles", "source-layer": "matches", filter: ["!", ["has", "count"]], paint: { "circle-color": "#c0392b", "circle-radius": 5, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
      map.on("click", "tile-points", (e) => showRecord(e.features[0].id || e.features[0].properties.id));
      map.on("click", "tile-cells", (e) => map.easeTo({ center: e.lngLat, zoom: map.getZoom() + 2 }));
    }
    map.addSource("records", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({ id: "cells", type: "circle", source: "records", filter: ["==", ["get", "cluster"], true], paint: { "circle-color": "#d35400", "circle-opacity": 0.6, "circle-radius": ["min", 22, ["+", 4, ["*", 2, ["ln", ["get", "count"]]]]] } });
    map.addLayer({ id: "points", type: "circle", source: "records", filter: ["!=", ["get", "cluster"], true], paint: { "circle-color": ["match", ["get", "status"], "new", "#c0392b", "handling", "#e67e22", "#7f8c8d"], "circle-radius": 6, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.on("click", "points", (e) => showRecord(e.features[0].properties.id));
    map.on("click", "cells", (e) => map.easeTo({ center: e.lngLat, zoom: map.getZoom() + 2 }));
    map.on("moveend", refreshRecords);
    refreshRecords();
  });
}

// [[west, south], [east, north]] of a FeatureCollection's coordinates, or null.
function bounds(collection) {
  let w = 180, s = 90, e = -180, n = -90, any = false;
  const walk = (c) => {
    if (typeof c[0] === "number") { w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]); any = true; }
    else for (const inner of c) walk(inner);
  };
  for (const f of collection.features) if (f.geometry) walk(f.geometry.coordinates);
  return any ? [[w, s], [e, n]] : null;
}

async function refreshRecords() {
  if (!map || !map.getSource("records")) return;
  const b = map.getBounds();
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  const params = filterQuery();
  params.set("zoom", Math.round(map.getZoom()));
  params.set("bbox", [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(5)).join(","));
  const collections = [];
  // With vector tiles the imported records come from the tiles; uploads and frames (each shown
  // with the viewer's geoprivacy) still come as GeoJSON.
  const sources = tiles ? ["uploads", "camera_traps"] : [params.get("source") || ""];
  for (const source of sources) {
    const p = new URLSearchParams(params);
    if (source) p.set("source", source); else p.delete("source");
    collections.push(await api(`${API}/watchlists/${current.id}/matches/map/?${p}`));
  }
  map.getSource("records").setData({ type: "FeatureCollection", features: collections.flatMap((c) => c.features) });
}

// -- the records and triage ------------------------------------------------------------------------

async function loadMatches(fresh) {
  const tbody = $("matches").querySelector("tbody");
  if (fresh) tbody.replaceChildren();
  const url = fresh ? `${API}/watchlists/${current.id}/matches/?${filterQuery()}` : nextPage;
  const page = await api(url);
  nextPage = page.next;
  $("more").hidden = !nextPage;
  for (const m of page.results) {
    const row = el("tr", null, { "data-id": m.id, class: m.seen ? "" : "unseen" });
    for (const value of [m.taxon || "?", m.verdict, m.observed_on || "", m.source, m.status, m.seen ? "yes" : "no", m.comments || ""]) row.append(el("td", value));
    row.addEventListener("click", () => showRecord(m.id));
    tbody.append(row);
  }
  const q = filterQuery();
  $("export-csv").href = `${API}/watchlists/${current.id}/matches/export/csv/?${q}`;
  $("export-dwca").href = `${API}/watchlists/${current.id}/matches/export/dwca/?${q}`;
}

async function showRecord(id) {
  const m = await api(`${API}/watchlists/${current.id}/matches/${id}/`);
  const box = $("record");
  box.hidden = false;
  box.replaceChildren(
    el("h3", `${m.taxon || "unnamed"} — ${m.verdict}`),
    el("p", m.explanation),
    el("p", `${m.observed_on || "undated"} · ${m.source} · ${m.latitude === null ? "location withheld" : `${m.latitude}, ${m.longitude}`} ${m.location_note}`),
  );
  if (m.record_url) { const p = el("p"); p.append(el("a", m.record_id, { href: m.record_url, rel: "noopener" })); box.append(p); }
  if (m.license || m.citation) box.append(el("p", `Licence: ${m.license || "?"}. ${m.citation}`));
  if (m.photo_url) {
    const response = await fetch(m.photo_url, { headers: { Authorization: "Token " + token() }, credentials: "omit" });
    if (response.ok) { const img = el("img", null, { alt: "the record's photo" }); img.src = URL.createObjectURL(await response.blob()); box.append(img); }
  }
  const form = el("form", null, { id: "triage" });
  const select = el("select", null, { name: "status" });
  for (const s of STATUSES) { const o = el("option", s, { value: s }); if (s === m.status) o.selected = true; select.append(o); }
  const note = el("textarea", null, { name: "note", rows: 2, cols: 40 });
  note.value = m.note;
  form.append(el("label", "Status "), select, el("br"), el("label", "Note "), note, el("br"), el("button", "Save", { type: "submit" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    await api(`${API}/watchlists/${current.id}/matches/${id}/`, { method: "PATCH", body: { status: select.value, note: note.value } });
    await showRecord(id);
    await loadMatches(true);
    refreshRecords();
  });
  box.append(form, el("h4", "History"));
  const ul = el("ul");
  for (const h of m.history) ul.append(el("li", `${h.at.slice(0, 16)} ${h.by || "?"}: ${h.status}${h.note ? " — " + h.note : ""}`));
  box.append(ul);
  await showComments(id, box);
  if (!m.seen) { await api(`${API}/watchlists/${current.id}/matches/seen/`, { method: "POST", body: { ids: [id] } }); }
}

// -- comments on a record (the list's owner and members) -------------------------------------------

const COMMENTS_SHOWN = 200; // the newest this many; the API pages them oldest first

async function showComments(id, box) {
  const url = `${API}/watchlists/${current.id}/matches/${id}/comments/`;
  const list = el("ul", null, { id: "comments" });
  const form = el("form", null, { id: "comment-form" });
  const text = el("textarea", null, { name: "text", rows: 2, cols: 40, maxlength: 5000, required: "", "aria-label": "your comment" });
  const error = el("p", null, { class: "error", role: "status" });
  form.append(text, el("br"), el("button", "Add comment", { type: "submit" }), error);
  box.append(el("h4", "Comments"), list, form);
  const load = async () => {
    let page = await api(`${url}?limit=${COMMENTS_SHOWN}`);
    if (page.count > COMMENTS_SHOWN) page = await api(`${url}?limit=${COMMENTS_SHOWN}&offset=${page.count - COMMENTS_SHOWN}`);
    list.replaceChildren();
    if (page.count > page.results.length) list.append(el("li", `${page.count - page.results.length} earlier comment(s) not shown`, { class: "hint" }));
    for (const c of page.results) list.append(el("li", `${c.created.slice(0, 16)} ${c.author || "?"}: ${c.text}`));
    if (!page.count) list.append(el("li", "no comments yet", { class: "hint" }));
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api(url, { method: "POST", body: { text: text.value } });
      text.value = "";
      error.textContent = "";
      await load();
      loadMatches(true); // the table's records carry their comments count
    } catch (err) {
      error.textContent = err.message;
    }
  });
  await load();
}

// -- drawing a new list's area --------------------------------------------------------------------

let drawMap = null;
let draw = null; // Terra Draw, once the drawing map has loaded

// The drawing map is made when the "New list" form is first opened (a hidden map has no size).
function setUpDrawMap() {
  if (drawMap) return;
  maplibregl.setWorkerUrl(document.body.dataset.worker);
  const outlines = document.body.dataset.outlines ? location.origin + document.body.dataset.outlines : { type: "FeatureCollection", features: [] };
  drawMap = new maplibregl.Map({
    container: "draw-map",
    style: {
      version: 8,
      sources: { countries: { type: "geojson", data: outlines } },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#e8eef0" } },
        { id: "countries", type: "line", source: "countries", paint: { "line-color": "#7f8c8d", "line-width": 0.7 } },
      ],
    },
    center: [10, 45], zoom: 2,
  });
  window.drawMap = drawMap; // for the browser test and the console
  drawMap.on("load", () => {
    draw = new terraDraw.TerraDraw({
      adapter: new terraDrawMaplibreGlAdapter.TerraDrawMapLibreGLAdapter({ map: drawMap }),
      modes: [new terraDraw.TerraDrawPolygonMode({ editable: true })],
    });
    draw.start();
    draw.on("finish", drawnChanged);
    draw.on("change", drawnChanged);
    window.watchDraw = draw;
    $("draw-polygon").disabled = false;
  });
}

// The finished polygons (not the one being drawn, nor the helper points Terra Draw shows).
function drawnPolygons() {
  if (!draw) return [];
  return draw.getSnapshot()
    .filter((f) => f.geometry.type === "Polygon" && !f.properties.currentlyDrawing)
    .map((f) => ({ type: "Feature", geometry: f.geometry, properties: {} }));
}

function drawnChanged() {
  const n = drawnPolygons().length;
  $("draw-status").textContent = n ? `${n} polygon${n === 1 ? "" : "s"} drawn` : "no area drawn";
}

function clearDrawing() {
  if (draw) { draw.clear(); draw.setMode("static"); }
  drawnChanged();
}

// A GeoJSON file's content as Features (a geometry, a Feature or a FeatureCollection).
function asFeatures(geojson) {
  if (geojson && geojson.type === "FeatureCollection") return geojson.features || [];
  if (geojson && geojson.type === "Feature") return [geojson];
  return [{ type: "Feature", geometry: geojson, properties: {} }];
}

async function createList(event) {
  event.preventDefault();
  const form = new FormData($("create-form"));
  const split = (v) => (v || "").split(",").map((s) => s.trim()).filter(Boolean);
  const body = { name: form.get("name"), regions: split(form.get("regions")), taxa: split(form.get("taxa")), rule: form.get("rule"), frequency: form.get("frequency") };
  const file = form.get("geometry");
  try {
    // The drawn polygons and the file's, together: the server unions, validates and repairs them.
    const features = drawnPolygons();
    if (file && file.size) features.push(...asFeatures(JSON.parse(await file.text())));
    if (features.length) body.geometry = { type: "FeatureCollection", features };
    const created = await api(`${API}/watchlists/`, { method: "POST", body });
    $("create-error").textContent = "";
    $("create-form").reset();
    clearDrawing();
    current = created;
    document.body.dataset.watchList = created.id;
    await loadLists();
  } catch (e) {
    $("create-error").textContent = e.message;
  }
}

if (!token()) {
  $("logged-out").hidden = false;
  $("lists-panel").hidden = true;
} else {
  $("create-form").addEventListener("submit", createList);
  $("draw-polygon").disabled = true; // until the drawing map has loaded
  $("new-list").addEventListener("toggle", () => { if ($("new-list").open) setUpDrawMap(); });
  $("draw-polygon").addEventListener("click", () => { if (draw) draw.setMode("polygon"); });
  $("draw-clear").addEventListener("click", clearDrawing);
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); loadMatches(true); refreshRecords(); });
  $("more").addEventListener("click", () => loadMatches(false));
  $("mark-all-seen").addEventListener("click", async () => {
    await api(`${API}/watchlists/${current.id}/matches/seen/?${filterQuery()}`, { method: "POST", body: { all: true } });
    loadMatches(true);
  });
  loadLists().catch((e) => { $("who").textContent = e.message; });
}
