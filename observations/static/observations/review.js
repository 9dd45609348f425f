// The review desk: reviewers see the queue (alerts first), each report with its photo, the model's
// candidates, the verdict and its sources and contacts, and confirm, correct or reject it in one click.
// Loaded after app.js and uses its helpers (api, el, $, token, taxonName, capitalise, explain).
// The desk shows itself only when /review/queue/ answers 200: the server decides who reviews.
"use strict";

const DESK_PAGE = 10;
const ALERT_VERDICTS = ["invasive", "introduced", "out_of_range"];
const VERDICT_WORDS = {
  out_of_range: "out of range", uncertain: "not sure", unknown: "no range data", no_animal: "no animal",
};
let deskNext = null; // the next page of the queue, or null

function deskQuery() {
  const params = new URLSearchParams({ limit: DESK_PAGE });
  for (const name of ["verdict", "region", "taxon"]) {
    const value = $("desk-" + name).value.trim();
    if (value) params.set(name, name === "region" ? value.toUpperCase() : value);
  }
  const [bound, value] = $("desk-confidence").value.split(":");
  if (value) params.set(bound + "_confidence", value);
  return params;
}

async function deskLoad({ more = false } = {}) {
  const url = more ? deskNext : `${API}/review/queue/?${deskQuery()}`;
  $("desk-error").textContent = "";
  $("desk-status").textContent = "Loading…";
  let page;
  try {
    page = await api(url);
  } catch (error) {
    $("desk-status").textContent = "";
    if (error.status === 403 || error.status === 401) { $("review-desk").hidden = true; return; }
    $("desk-error").textContent = explain(error);
    return;
  }
  $("review-desk").hidden = false;
  const queue = $("desk-queue");
  if (!more) queue.replaceChildren();
  page.results.forEach((observation) => queue.append(deskItem(observation)));
  deskNext = page.next;
  $("desk-more").hidden = !deskNext;
  const waiting = `${page.count} report${page.count === 1 ? "" : "s"} waiting for review.`;
  $("desk-status").textContent = page.count ? waiting : "Nothing waiting for review.";
}

// ---- one report ---------------------------------------------------------------------------------
function deskItem(observation) {
  const item = el("li", null, { class: "review-item", "data-id": observation.id, "data-state": "unreviewed" });
  const img = el("img", null, { class: "review-photo", alt: "the reported photo", hidden: "" });
  item.append(img);
  deskPhoto(observation.id, img);

  const verdict = observation.verdict || {};
  const alert = observation.alert;
  const head = el("div", null, { class: "review-head" });
  // The answer's words come from the API (ranges/wording.py), as on the card and in Your reports.
  const answer = observation.answer || {};
  head.append(el("strong", capitalise(answer.name || "") || "—"));
  head.append(el("span", answer.status || verdict.status || observation.status, { class: "badge v-" + (verdict.status || "") }));
  if (alert && alert.level === "possible") head.classList.add("verify");
  item.append(head);
  if (answer.confidence) item.append(el("p", answer.confidence, { class: "meta" }));
  if (answer.headline) item.append(el("p", answer.headline, { class: "meta headline" }));
  if (verdict.explanation) item.append(el("p", verdict.explanation, { class: "explanation" }));
  item.append(deskMeta(observation));
  item.append(deskCandidates(observation.predictions || []));
  if ((verdict.sources || []).length) item.append(deskSources(verdict.sources));
  if (alert) item.append(deskContacts(alert.contacts || []));
  item.append(deskActions(observation, item));
  return item;
}

async function deskPhoto(id, img) {
  // The authorised photo view with the token, as a blob: never a public media URL.
  try {
    const response = await fetch(`${API}/observations/${id}/photo/`, {
      headers: { Authorization: "Token " + token() }, credentials: "omit",
    });
    if (!response.ok) return;
    img.src = URL.createObjectURL(await response.blob());
    img.hidden = false;
  } catch (e) { /* the report stays reviewable without its photo */ }
}

function deskMeta(observation) {
  const where = observation.location || {};
  const regions = ((observation.verdict || {}).regions || []).map((r) => r.name).join(", ");
  const point = typeof where.latitude === "number"
    ? `${where.latitude.toFixed(4)}, ${where.longitude.toFixed(4)}` : "no location";
  const when = new Date(observation.observed_at || observation.created).toLocaleString();
  return el("p", [point, regions, when].filter(Boolean).join(" · "), { class: "meta" });
}

function deskCandidates(predictions) {
  const box = el("div", null, { class: "review-block" });
  box.append(el("h3", "What the photo shows"));
  const list = el("ol", null, { class: "candidates" });
  for (const p of predictions) {
    const row = el("li");
    row.append(el("span", p.taxon ? taxonName(p.taxon) : "no animal"));
    row.append(el("span", `${Math.round(p.score * 100)}%`, { class: "score" }));
    if (p.taxon) {
      // Three values: null is "no range data here" (we don't know), never "not expected".
      const known = p.expected_here === true || p.expected_here === false;
      const here = !known ? "no range data here" : p.expected_here ? "expected here" : "not expected here";
      row.append(el("span", here, { class: !known ? "here unknown" : p.expected_here ? "here yes" : "here no" }));
    }
    list.append(row);
  }
  box.append(list);
  return box;
}

function deskSources(sources) {
  const box = el("div", null, { class: "review-block" });
  box.append(el("h3", "Sources"));
  const list = el("ul", null, { class: "plain" });
  for (const s of sources) {
    const row = el("li");
    const linked = /^https?:\/\//.test(s.url || "");
    row.append(linked ? el("a", s.name, { href: s.url, target: "_blank", rel: "noopener" }) : el("span", s.name));
    list.append(row);
  }
  box.append(list);
  return box;
}

function deskContacts(contacts) {
  const box = el("div", null, { class: "review-block" });
  box.append(el("h3", "Contacts for this place"));
  const list = el("ul", null, { class: "plain" });
  for (const c of contacts) {
    const reach = [c.phone, c.email].filter(Boolean).join(", ");
    const fallback = c.is_fallback ? " · global fallback, not alerted" : "";
    list.append(el("li", `${c.organisation} (${c.region_name})${reach ? ": " + reach : ""}${fallback}`));
  }
  if (!contacts.length) list.append(el("li", "No local contact on record."));
  box.append(list);
  return box;
}

// ---- decisions ----------------------------------------------------------------------------------
function deskActions(observation, item) {
  const box = el("div", null, { class: "review-actions" });
  // What one click confirms: the community's taxon, else the model's answer, else (a "not sure"
  // answer names none) its best candidate. Anything else goes through "Correct taxon".
  const best = (observation.predictions || []).find((p) => p.taxon);
  const proposed = (observation.citizen_science || {}).community_taxon
    || (observation.identification || {}).taxon || (best && best.taxon);
  const label = proposed ? `Confirm ${proposed.common_name || proposed.scientific_name}` : "Confirm";
  const confirm = el("button", label, { type: "button", class: "confirm" });
  confirm.disabled = !proposed;
  const correct = el("button", "Correct taxon", { type: "button", class: "secondary correct" });
  const reject = el("button", "Reject", { type: "button", class: "secondary reject" });
  const status = el("p", null, { class: "review-status", "aria-live": "polite" });
  const search = taxonSearch((taxon) => deskDecide(observation, item, status, "confirm", taxon));
  search.hidden = true;

  confirm.addEventListener("click", () => deskDecide(observation, item, status, "confirm", proposed));
  correct.addEventListener("click", () => {
    search.hidden = !search.hidden;
    if (!search.hidden) search.querySelector("input").focus();
  });
  reject.addEventListener("click", () => deskDecide(observation, item, status, "reject", null));
  box.append(confirm, correct, reject);
  // A domestic animal is never an alert by itself; the reviewer may judge this one feral or
  // free-roaming, and where a register lists it here the contacts are told.
  if (observation.verdict && observation.verdict.status === "domestic" && proposed) {
    const feral = el("button", "Confirm: feral / free-roaming", { type: "button", class: "secondary feral" });
    feral.addEventListener("click", () => deskDecide(observation, item, status, "confirm", proposed, true));
    box.append(feral);
  }
  box.append(search, status);
  return box;
}

async function deskDecide(observation, item, status, decision, taxon, freeRoaming = false) {
  const buttons = item.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  status.className = "review-status";
  status.textContent = decision === "confirm" ? "Confirming…" : "Rejecting…";
  const body = { decision };
  if (taxon) body.taxon = String(taxon.id); // always named: the server never guesses what a reviewer meant
  if (freeRoaming) body.free_roaming = true;
  try {
    const reviewed = await api(`${API}/observations/${observation.id}/review/`, {
      method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" }, attempts: 1,
    });
    const state = reviewed.citizen_science.verification;
    item.dataset.state = state;
    deskShowVerdict(item, reviewed); // a confirmation judges the confirmed taxon again
    item.querySelector(".review-actions").replaceChildren(status);
    status.classList.add("done");
    status.textContent = decisionText(reviewed, state);
  } catch (error) {
    buttons.forEach((b) => { b.disabled = false; });
    status.classList.add("error");
    status.textContent = explain(error);
  }
}

function deskShowVerdict(item, reviewed) {
  const answer = reviewed.answer || {};
  const taxon = reviewed.citizen_science.verified_taxon;
  if (taxon) item.querySelector(".review-head strong").textContent = taxonName(taxon);
  const verdict = reviewed.verdict;
  if (!verdict) return;
  const badge = item.querySelector(".review-head .badge");
  badge.className = "badge v-" + verdict.status;
  badge.textContent = answer.status || VERDICT_WORDS[verdict.status] || verdict.status;
  item.querySelectorAll(".review-head .badge.verify").forEach((b) => b.remove());
  const explanation = item.querySelector(".explanation");
  if (explanation) explanation.textContent = verdict.explanation;
}

// What happened, in words. A confirmed alert goes out (alerts app) by e-mail, and by webhook to the
// contacts that registered one; the page can only see the e-mail addresses, so it says no more than that.
function decisionText(reviewed, state) {
  if (state === "rejected") return "Rejected: it leaves the queue and the public feed.";
  const taxon = reviewed.citizen_science.verified_taxon;
  const verdict = reviewed.verdict || {};
  const said = `Confirmed as ${taxon ? taxonName(taxon) : "the proposed taxon"}.`;
  const status = VERDICT_WORDS[verdict.status] || verdict.status;
  if (!ALERT_VERDICTS.includes(verdict.status)) {
    return `${said} ${capitalise(status)} here: not an alert, nobody is notified.`;
  }
  const local = ((reviewed.alert || {}).contacts || []).filter((c) => !c.is_fallback);
  const mailed = local.filter((c) => c.email).map((c) => c.organisation);
  const unmailed = local.filter((c) => !c.email).map((c) => c.organisation);
  const parts = [`${said} ${capitalise(status)} here.`];
  if (mailed.length) parts.push(`The local contacts were notified by e-mail: ${mailed.join(", ")}.`);
  if (unmailed.length) {
    parts.push(`No e-mail on file for ${unmailed.join(", ")}: told only through a webhook, if they registered one.`);
  }
  if (!local.length) parts.push("No local contact is on record to notify.");
  return parts.join(" ");
}

// A search box over /species/?q=: each hit is a button that confirms that taxon.
function taxonSearch(onPick) {
  const box = el("div", null, { class: "taxon-search" });
  const input = el("input", null, {
    type: "search", placeholder: "Search a species or genus", "aria-label": "search a taxon", autocomplete: "off",
  });
  const hits = el("ul", null, { class: "plain hits" });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim();
      hits.replaceChildren();
      if (q.length < 3) return;
      try {
        const page = await api(`${API}/species/?q=${encodeURIComponent(q)}&limit=8`, { auth: false });
        for (const taxon of page.results || page) {
          const pick = el("button", taxonName(taxon), { type: "button", class: "secondary hit" });
          pick.addEventListener("click", () => onPick(taxon));
          const row = el("li");
          row.append(pick);
          hits.append(row);
        }
        if (!hits.children.length) hits.append(el("li", "No taxon by that name.", { class: "meta" }));
      } catch (error) { hits.append(el("li", explain(error), { class: "error" })); }
    }, 250); // one request when typing pauses, not one per key
  });
  box.append(input, hits);
  return box;
}

// The taxon filter suggests scientific names as the reviewer types (the queue takes a name or an id).
let filterTimer = null;
$("desk-taxon").addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(async () => {
    const q = $("desk-taxon").value.trim();
    if (q.length < 3) return;
    try {
      const page = await api(`${API}/species/?q=${encodeURIComponent(q)}&limit=8`, { auth: false });
      const options = (page.results || page).map((t) => el("option", taxonName(t), { value: t.scientific_name }));
      $("desk-taxon-names").replaceChildren(...options);
    } catch (e) { /* suggestions are a convenience; the filter still takes what was typed */ }
  }, 250);
});

// ---- wiring -------------------------------------------------------------------------------------
$("desk-filters").addEventListener("submit", (event) => { event.preventDefault(); deskLoad(); });
$("desk-more").addEventListener("click", () => deskLoad({ more: true }));
document.addEventListener("rangewatch:login", () => deskLoad());
document.addEventListener("rangewatch:logout", () => {
  $("review-desk").hidden = true;
  $("desk-queue").replaceChildren();
});
if (token()) deskLoad(); // app.js has already announced a stored login before this file loaded
