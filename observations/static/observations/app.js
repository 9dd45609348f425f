// The RangeWatch web page: log in, upload a photo with a place, show the verdict, list past reports.
// Plain browser JavaScript, no CDN: the one library, Leaflet, is vendored (through ranges/rangemap.js).
// Server data is only ever set as textContent.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "rangewatch.token";
const USER_KEY = "rangewatch.username";
const MAX_WAIT = 10; // the API's ?wait ceiling, seconds
const $ = (id) => document.getElementById(id);

const CONTACT_KINDS = { invasive_species_hotline: "invasive species hotline", wildlife_agency: "wildlife agency", animal_control: "animal control" };

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const error = (body && body.error) || {};
    super(error.detail || `request failed (${status})`);
    this.status = status;
    this.code = error.code || "error";
    this.fields = error.fields || {};
    this.retryAfter = retryAfter;
  }
}

function token() { return localStorage.getItem(TOKEN_KEY); }

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "k-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One call with the token; retries 429 and 503 (honouring Retry-After) and network errors, with jitter.
async function api(path, { method = "GET", body = null, headers = {}, auth = true, attempts = 4 } = {}) {
  const allHeaders = { Accept: "application/json", ...headers };
  if (auth && token()) allHeaders.Authorization = "Token " + token();
  let lastError;
  for (let attempt = 0; attempt < attempts; attempt++) {
    let response;
    try {
      // credentials: "omit": the page authenticates with its token only, never an admin session cookie.
      response = await fetch(path, { method, body, headers: allHeaders, credentials: "omit" });
    } catch (networkError) {
      lastError = new ApiError(0, { error: { code: "network", detail: "could not reach the server; check your connection" } });
      await sleep(Math.random() * Math.min(8000, 500 * 2 ** attempt));
      continue;
    }
    const retryAfter = parseFloat(response.headers.get("Retry-After") || "");
    if (response.status === 204) return null;
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (response.ok) return data;
    lastError = new ApiError(response.status, data, retryAfter);
    if (response.status !== 429 && response.status !== 503) throw lastError;
    const backoff = Math.random() * Math.min(8000, 500 * 2 ** attempt);
    await sleep(Math.max(backoff, (isNaN(retryAfter) ? 0 : retryAfter) * 1000));
  }
  throw lastError;
}

function explain(error) {
  if (error.status === 401) { showLoggedOut("Please log in again."); return "Your session expired: please log in again."; }
  if (error.status === 413 || error.code === "image_too_large") return "This photo is too large for the server. Try a smaller one.";
  if (error.status === 429) return "Too many reports in a short time. Wait a minute and try again.";
  if (error.status === 503 || error.status === 0) return "The server is busy or unreachable. Try again in a moment.";
  return fieldMessages(error).join(" ") || error.message;
}

// Field errors as sentences for people: "Latitude: ensure this value is less than or equal to 90.",
// never a key such as non_field_errors or detail (those messages stand on their own).
const FIELD_LABELS = { latitude: "Latitude", longitude: "Longitude", photo: "Photo", observed_at: "Date", username: "Username",
  password: "Password", email: "E-mail", taxon: "Taxon", region: "Region", decision: "Decision" };
function fieldMessages(error) {
  const out = [];
  const walk = (key, value) => {
    if (value && typeof value === "object" && !Array.isArray(value)) { Object.entries(value).forEach(([k, v]) => walk(k, v)); return; }
    const text = [].concat(value).map(String).map(sentence).join(" ");
    const label = FIELD_LABELS[key];
    out.push(label ? `${label}: ${text}` : text);
  };
  Object.entries(error.fields || {}).forEach(([k, v]) => walk(k, v));
  return out;
}
const sentence = (text) => { const t = text.trim(); return t ? t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? "" : ".") : t; };

// ---- auth -------------------------------------------------------------------------------------
function showLoggedIn() {
  $("auth").hidden = true;
  $("report").hidden = false;
  $("history-section").hidden = false;
  $("logout").hidden = false;
  const who = localStorage.getItem(USER_KEY);
  $("who").hidden = !who;
  $("who").textContent = who ? "Signed in as " + who : "";
  loadHistory();
  document.dispatchEvent(new Event("rangewatch:login")); // review.js shows its desk to reviewers
}

function showLoggedOut(message) {
  localStorage.removeItem(TOKEN_KEY);
  $("auth").hidden = false;
  $("report").hidden = true;
  $("history-section").hidden = true;
  $("logout").hidden = true;
  $("who").hidden = true;
  $("auth-error").textContent = message || "";
  document.dispatchEvent(new Event("rangewatch:logout"));
}

$("auth-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const action = (event.submitter && event.submitter.value) || "login";
  const body = { username: $("username").value.trim(), password: $("password").value };
  if (action === "register" && $("email").value.trim()) body.email = $("email").value.trim();
  $("auth-error").textContent = "";
  try {
    const answer = await api(`${API}/auth/${action}/`, {
      method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" }, auth: false,
    });
    localStorage.setItem(TOKEN_KEY, answer.token);
    localStorage.setItem(USER_KEY, (answer.user && answer.user.username) || body.username);
    $("password").value = "";
    showLoggedIn();
  } catch (error) {
    $("auth-error").textContent = error.status === 401 || error.status === 400 ? explainAuth(error) : explain(error);
  }
});

function explainAuth(error) {
  return fieldMessages(error).join(" ") || sentence(error.message);
}

$("logout").addEventListener("click", async () => {
  try { await api(`${API}/auth/logout/`, { method: "POST", attempts: 1 }); } catch (e) { /* forget it locally anyway */ }
  localStorage.removeItem(USER_KEY);
  showLoggedOut("Logged out.");
});

// ---- report -----------------------------------------------------------------------------------
let previewUrl = null;
$("photo").addEventListener("change", () => {
  const file = $("photo").files[0];
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = file ? URL.createObjectURL(file) : null;
  $("preview").hidden = !previewUrl;
  if (previewUrl) $("preview").src = previewUrl;
});

$("locate").addEventListener("click", () => {
  if (!navigator.geolocation) { $("upload-error").textContent = "This browser cannot share its location: type the coordinates."; return; }
  $("progress").textContent = "Finding your location…";
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      $("lat").value = pos.coords.latitude.toFixed(5);
      $("lon").value = pos.coords.longitude.toFixed(5);
      $("lat").dataset.accuracy = $("lon").dataset.accuracy = pos.coords.accuracy;  // sent as accuracy_m while unedited
      $("progress").textContent = `Location found (±${Math.round(pos.coords.accuracy)} m).`;
    },
    (err) => { $("progress").textContent = ""; $("upload-error").textContent = "No location (" + err.message + "): type the coordinates, or leave them empty to use the photo's GPS."; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
});

// A typed coordinate is not the fix the browser measured: its accuracy no longer applies.
for (const id of ["lat", "lon"]) $(id).addEventListener("input", () => { delete $(id).dataset.accuracy; });

$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("photo").files[0];
  const lat = $("lat").value.trim(), lon = $("lon").value.trim();
  $("upload-error").textContent = "";
  if (!file) { $("upload-error").textContent = "Pick a photo first."; return; }
  if ((lat === "") !== (lon === "")) { $("upload-error").textContent = "Give both latitude and longitude, or neither."; return; }
  const form = new FormData();
  form.append("photo", file, file.name || "photo.jpg");
  if (lat !== "") { form.append("latitude", lat); form.append("longitude", lon); }
  if (lat !== "" && $("lat").dataset.accuracy && $("lon").dataset.accuracy) form.append("accuracy_m", $("lat").dataset.accuracy);
  $("submit").disabled = true;
  $("progress").textContent = "Uploading…";
  try {
    // One key per chosen photo and submit: a retried upload names the same observation.
    let observation = await api(`${API}/observations/?wait=${MAX_WAIT}`, { method: "POST", body: form, headers: { "Idempotency-Key": newKey() } });
    $("progress").textContent = "Identifying…";
    observation = await untilFinal(observation);
    $("progress").textContent = "";
    showResult(observation, previewUrl);
    loadHistory();
  } catch (error) {
    $("progress").textContent = "";
    $("upload-error").textContent = explain(error);
  } finally {
    $("submit").disabled = false;
  }
});

async function untilFinal(observation, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  while (!["done", "failed"].includes(observation.status) && Date.now() < deadline) {
    observation = await api(`${API}/observations/${observation.id}/?wait=${MAX_WAIT}`);
  }
  return observation;
}

// ---- result card ------------------------------------------------------------------------------
function taxonName(taxon) {
  if (!taxon) return "no animal";
  const common = taxon.common_name && taxon.common_name !== taxon.scientific_name ? taxon.common_name : "";
  const scientific = isSpecies(taxon) ? taxon.scientific_name : `${taxon.rank} ${taxon.scientific_name}`;
  return common ? `${capitalise(common)} (${scientific})` : capitalise(scientific);
}
const isSpecies = (taxon) => !taxon.rank || taxon.rank === "species" || taxon.rank === "subspecies";
const capitalise = (text) => (text ? text[0].toUpperCase() + text.slice(1) : text);


function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

async function photoUrl(observation) {
  try {
    const response = await fetch(`${API}/observations/${observation.id}/photo/`, { headers: { Authorization: "Token " + token() }, credentials: "omit" });
    return response.ok ? URL.createObjectURL(await response.blob()) : null;
  } catch (e) { return null; }
}

async function showResult(observation, localPreview) {
  const card = $("result");
  card.hidden = false;
  card.dataset.status = observation.status;
  card.dataset.verdict = (observation.verdict && observation.verdict.status) || "";
  const img = $("result-photo");
  img.hidden = true;
  const src = localPreview || (await photoUrl(observation));
  if (src) { img.src = src; img.hidden = false; }

  $("result-facts").hidden = true;
  $("result-alert").hidden = true;
  $("result-species").textContent = "";
  $("result-confidence").textContent = "";
  $("result-explanation").textContent = "";
  const verdictNode = $("result-verdict");
  verdictNode.className = "verdict";

  if (observation.status === "failed") {
    const failure = observation.failure || {};
    verdictNode.textContent = "We could not read this photo.";
    verdictNode.classList.add("v-failed");
    $("result-explanation").textContent = `${failure.detail || ""} (${failure.code || "error"})`;
  } else if (observation.status !== "done") {
    verdictNode.textContent = "Still working on it… open it again from Your reports in a moment.";
  } else {
    // The words come from the API (ranges/wording.py): the card, the lists, the desk, the client and
    // the e-mails say one answer the same way, so nothing here re-derives them from the scores.
    const answer = observation.answer || {};
    $("result-species").textContent = capitalise(answer.name || "");
    $("result-confidence").textContent = answer.confidence || "";
    const verdict = observation.verdict;
    verdictNode.textContent = answer.headline || "";
    if (verdict) {
      verdictNode.classList.add("v-" + verdict.status);
      $("result-explanation").textContent = verdict.explanation;
    }
    card.dataset.answer = answer.kind || "";
    renderFacts(observation.species_info);
    renderAlert(observation.alert);
  }
  renderMap(observation);
  const where = observation.location && observation.location.latitude !== null && observation.location.latitude !== undefined
    ? `${observation.location.latitude.toFixed(4)}, ${observation.location.longitude.toFixed(4)}` : "no location";
  $("result-meta").textContent = [where, observation.observed_at ? new Date(observation.observed_at).toLocaleString() : "", observation.model_version || ""].filter(Boolean).join(" · ");
  card.scrollIntoView({ behavior: "smooth", block: "start" });
}

// The taxon whose range the card maps: the answer's, or for a "please verify" answer (it names none)
// the best candidate not expected here, the one the answer asks about.
function mappedTaxon(observation) {
  if (observation.identification) return observation.identification.taxon;
  if (!observation.alert || observation.alert.level !== "possible") return null;
  const predictions = observation.predictions || [];
  const asked = predictions.find((p) => p.taxon && p.asked_about) || predictions.find((p) => p.taxon && p.expected_here === false);
  return asked ? asked.taxon : null;
}

// The map of the card: the sighting, the regions the verdict looked at, and the taxon's native range
// and alien records, in the legend's colours (ranges/rangemap.js).
let resultMap = null;
async function renderMap(observation) {
  if (resultMap) { resultMap.remove(); resultMap = null; }
  const node = $("result-map");
  delete node.dataset.ready;
  const location = observation.location || {};
  const hasPoint = typeof location.latitude === "number" && typeof location.longitude === "number";
  const taxon = observation.status === "done" ? mappedTaxon(observation) : null;
  // The region that decided the verdict and the most specific one at the point (a county, a state):
  // the broader ones (the whole country, with its far islands) would only clutter a phone-sized map.
  const verdict = observation.verdict || {};
  const mostSpecific = (verdict.regions || [])[0];
  const regionCodes = [...new Set([verdict.region, mostSpecific].filter(Boolean).map((region) => region.code))];
  const link = $("result-species-link");
  link.hidden = !taxon;
  if (taxon) link.href = `/species/${encodeURIComponent(taxon.id)}/`;
  $("result-map-box").hidden = observation.status !== "done" || !(hasPoint || taxon) || !window.RangeMap;
  if ($("result-map-box").hidden) return;

  const view = new RangeMap.MapView(node);
  resultMap = view;
  const simplify = view.config.cardSimplify || 0.1;
  const loads = [view.ready];
  if (taxon) {
    const url = `${API}/species/${encodeURIComponent(taxon.id)}/range/?simplify=${simplify}`;
    loads.push(RangeMap.getJSON(url).then((g) => view.addGeoJSON(g, "range")));
  }
  if (regionCodes.length && view.config.regionsUrl) {
    const codes = encodeURIComponent(regionCodes.join(","));
    // Finer than the range: one or two regions, and a county at ~10 km would be a triangle.
    const url = `${view.config.regionsUrl}?codes=${codes}&simplify=${simplify / 5}`;
    loads.push(RangeMap.getJSON(url).then((g) => view.addGeoJSON(g, "verdict")));
  }
  if (hasPoint) view.addPoint(location.latitude, location.longitude, "Your sighting");
  await Promise.allSettled(loads); // a layer that failed to load leaves the others on the map
  if (resultMap !== view) return; // a newer result replaced this map meanwhile
  view.fit();
  node.dataset.ready = "true";
}

function renderFacts(info) {
  if (!info) return;
  const facts = $("facts");
  facts.replaceChildren();
  const rows = [["", info.summary], ["Habitat", info.habitat], ["Diet", info.diet], ["IUCN Red List", info.iucn_category_label],
    ["Conservation", info.conservation_note], ["How to help", info.how_to_help]];
  for (const [label, value] of rows) {
    if (!value) continue;
    if (label) facts.append(el("dt", label));
    facts.append(el("dd", value));
  }
  $("result-facts").hidden = false;
}

function renderAlert(alert) {
  if (!alert) return;
  $("alert-message").textContent = alert.message;
  const list = $("contacts");
  list.replaceChildren();
  for (const c of alert.contacts || []) {
    const item = el("li");
    item.append(el("strong", c.organisation));
    item.append(el("span", ` ${CONTACT_KINDS[c.kind] || (c.kind || "").replace(/_/g, " ")}, ${c.region_name}`, { class: "meta" }));
    const links = el("div", null, { class: "links" });
    if (c.phone) links.append(el("a", "Call " + c.phone, { href: "tel:" + c.phone.replace(/[^+\d]/g, ""), class: "button" }));
    if (c.email) links.append(el("a", "E-mail", { href: "mailto:" + c.email, class: "button" }));
    if (c.url && /^https?:\/\//.test(c.url)) links.append(el("a", "Website", { href: c.url, target: "_blank", rel: "noopener", class: "button secondary" }));
    item.append(links);
    if (c.hours) item.append(el("small", c.hours));
    list.append(item);
  }
  if (!(alert.contacts || []).length) list.append(el("li", "No local contact is on record: report to your national wildlife agency."));
  $("result-alert").hidden = false;
}

// ---- history ----------------------------------------------------------------------------------
async function loadHistory() {
  let page;
  try { page = await api(`${API}/observations/?limit=20`); } catch (error) {
    if (error.status === 401) explain(error);
    return;
  }
  const rows = Array.isArray(page) ? page : page.results || [];
  const list = $("history");
  list.replaceChildren();
  $("history-empty").hidden = rows.length > 0;
  for (const obs of rows) {
    const verdict = (obs.verdict && obs.verdict.status) || obs.status;
    const button = el("button", null, { type: "button", class: "history-row", "data-id": obs.id });
    const answer = obs.answer || {};
    button.append(el("span", capitalise(answer.name || "") || "—", { class: "name" }));
    button.append(el("span", answer.status || verdict.replace(/_/g, " "), { class: "badge v-" + verdict }));
    button.append(el("span", new Date(obs.created).toLocaleString(), { class: "meta" }));
    button.addEventListener("click", async () => {
      try { showResult(await api(`${API}/observations/${obs.id}/`), null); } catch (error) { $("upload-error").textContent = explain(error); }
    });
    const item = el("li");
    item.append(button);
    list.append(item);
  }
}

if (token()) showLoggedIn(); else showLoggedOut();
