"""An observation result in plain words, for a terminal. What the answer names, its confidence and its
headline are the server's `answer` (ranges/wording.py), as on the web page: never re-derived here."""

from __future__ import annotations

import textwrap

HEADLINES = {
    "native": "NATIVE here: it belongs in {region}.",
    "invasive": "INVASIVE here: a known invasive species in {region}. Please report it.",
    "introduced": "INTRODUCED here: not native to {region}; people brought it. Please report it.",
    "out_of_range": (
        "OUT OF ITS KNOWN RANGE in {region}: possibly a new introduction or an escaped animal. Please report it."
    ),
    "unknown": "NO RANGE DATA: we cannot say whether it belongs in {region}.",
    "uncertain": "NOT SURE: nothing we can name from this photo.",
    "no_animal": "NO ANIMAL found in the photo.",
    "domestic": "DOMESTIC ANIMAL: kept by people nearly everywhere; nothing to report in {region}.",
}
# What a candidate's `expected_here` means: null is "we don't know", never "not expected".
EXPECTED_HERE = {True: "expected here", False: "not expected here", None: "no range data here"}
WHAT_TO_DO = [
    "Keep the photo and note the exact place and time.",
    "Do not move, release or feed the animal; keep a safe distance.",
    "Report it to the contacts below; they may ask for the photo.",
]
CONTACT_KINDS = {
    "invasive_species_hotline": "invasive species hotline",
    "wildlife_agency": "wildlife agency",
    "animal_control": "animal control",
}


def taxon_name(taxon: dict | None) -> str:
    if not taxon:
        return "no animal"
    common, scientific = taxon.get("common_name"), taxon.get("scientific_name", "?")
    return f"{common} ({scientific})" if common and common != scientific else scientific


def percent(score: float | None) -> str:
    return f"{round(100 * (score or 0))}%"


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width=88, initial_indent=indent, subsequent_indent=indent) or [indent]


def render_observation(obs: dict) -> str:
    lines = [f"Observation {obs['id']}", *_where_and_when(obs)]
    status = obs.get("status")
    if status in ("queued", "processing"):
        lines.append(f"  Still {status}: run `python -m mobile_client_stub show {obs['id']}` in a moment.")
        return "\n".join(lines)
    if status == "failed":
        failure = obs.get("failure") or {}
        lines.append(f"  FAILED ({failure.get('code', 'error')}): {failure.get('detail', '')}")
        return "\n".join(lines)
    lines += _identification(obs)
    verdict = obs.get("verdict")
    if verdict:
        region = (verdict.get("region") or {}).get("name") or "this place"
        headline = (obs.get("answer") or {}).get("headline")
        lines.append("")
        lines.append("  " + (headline or HEADLINES.get(verdict["status"], verdict["status"]).format(region=region)))
        lines += _wrap(verdict.get("explanation", ""), "    ")
    if obs.get("species_info"):
        lines += _species_info(obs["species_info"])
    if obs.get("alert"):
        lines += _alert(obs["alert"])
    if verdict and verdict.get("sources"):
        lines.append("")
        lines.append("  Sources: " + "; ".join(s.get("url") or s.get("name") for s in verdict["sources"][:3]))
    if obs.get("model_version"):
        lines.append(f"  Model: {obs['model_version']}")
    return "\n".join(lines)


def _where_and_when(obs: dict) -> list[str]:
    lines = []
    loc = obs.get("location") or {}
    if loc.get("latitude") is not None:
        source = {"client": "sent by the phone", "exif": "the photo's GPS"}.get(
            loc.get("source"), loc.get("source", "?")
        )
        where = f"{loc['latitude']:.4f}, {loc['longitude']:.4f} ({source})"
        lines.append(f"  where: {where}" + (f"  [{', '.join(loc['flags'])}]" if loc.get("flags") else ""))
    if obs.get("observed_at"):
        lines.append(f"  when:  {obs['observed_at']}")
    return lines


def _identification(obs: dict) -> list[str]:
    lines = []
    answer = obs.get("answer") or {}
    if answer.get("name"):
        name = answer["name"][0].upper() + answer["name"][1:]
        lines.append(f"  {name}" + (f", {answer['confidence']}" if answer.get("confidence") else ""))
    preds = obs.get("predictions") or []
    # Nothing named (below the review threshold), no animal, a person: no list of 5 % guesses.
    if preds and answer.get("kind") not in ("nothing_named", "no_animal", "person"):
        top = ", ".join(
            f"{taxon_name(p.get('taxon')) if p.get('taxon') else p['key']} {percent(p['score'])}"
            + (f" ({EXPECTED_HERE[p.get('expected_here')]})" if p.get("taxon") else "")
            for p in preds[:3]
        )
        lines.append(f"  Top guesses: {top}")
    return lines


def _species_info(info: dict) -> list[str]:
    lines = ["", "  About it:"]
    for label, key in (
        ("", "summary"),
        ("Habitat: ", "habitat"),
        ("Diet: ", "diet"),
        ("", "conservation_note"),
        ("How to help: ", "how_to_help"),
    ):
        if info.get(key):
            lines += _wrap(label + info[key], "    ")
    if info.get("iucn_category_label"):
        lines.append(f"    IUCN Red List: {info['iucn_category_label']}")
    return lines


def _alert(alert: dict) -> list[str]:
    lines = [""]
    if alert.get("level") == "possible":
        lines.append(
            "  POSSIBLE match of an animal not expected here: please verify. An expert checks it before anyone is alerted."
        )
    lines += _wrap(alert.get("message", ""), "  ")
    lines.append("  What to do:")
    lines += [f"    - {step}" for step in WHAT_TO_DO]
    contacts = alert.get("contacts") or []
    lines.append(
        "  Whom to contact:"
        if contacts
        else "  No local contact is on record; report to your national wildlife agency."
    )
    for c in contacts:
        kind = CONTACT_KINDS.get(c.get("kind"), (c.get("kind") or "").replace("_", " "))
        where = "no local body on record: the global fallback" if c.get("is_fallback") else c.get("region_name", "")
        lines.append(f"    * {c['organisation']} ({kind}, {where})")
        for label, key in (("phone", "phone"), ("email", "email"), ("web", "url"), ("hours", "hours")):
            if c.get(key):
                lines.append(f"        {label}: {c[key]}")
    return lines


def render_history_row(obs: dict) -> str:
    answer = obs.get("answer") or {}
    verdict = answer.get("status") or (obs.get("verdict") or {}).get("status") or obs.get("status")
    region = answer.get("region") or ((obs.get("verdict") or {}).get("region") or {}).get("name", "")
    name = answer.get("name") or "-"
    return f"{obs['id']}  {obs.get('created', '')[:16]:16}  {verdict:12}  {name}  {region}"


def render_batch_report(report) -> str:
    """The end of a batch run (mobile_client_stub.batch.BatchReport) in a few lines."""
    results, tally = report.results, report.tally
    statuses = [
        (results[f"status:{s}"], label)
        for s, label in (
            ("done", "identified"),
            ("failed", "failed on the server"),
            ("rejected", "refused at upload"),
            ("not_sent", "not sent"),
            ("pending", "waiting for a result"),
        )
    ]
    lines = [
        f"{report.found} image(s) found; in the results: "
        + ", ".join(f"{n} {label}" for n, label in statuses if n)
        + "."
    ]
    lines.append(
        f"This run sent {tally['sent']}, finished {tally['finished']}"
        + (f"; {tally['already_finished']} were finished by an earlier run" if tally["already_finished"] else "")
        + "."
    )
    verdicts = sorted(
        ((n, key.split(":", 1)[1]) for key, n in results.items() if key.startswith("verdict:")), reverse=True
    )
    if verdicts:
        lines.append("Verdicts: " + ", ".join(f"{name} {n}" for n, name in verdicts) + ".")
    if report.stalled:
        lines.append(
            "Some results did not come in time: they stay accepted on the server, and the next run collects them."
        )
    if not report.complete:
        lines.append(
            "Not finished (see status and error_code in results.csv): run the same command again to resume; "
            "nothing is sent twice."
        )
    out = report.out_dir
    lines.append(f"Results: {out / 'results.csv'}, {out / 'predictions.json'} (journal: {out / 'journal.sqlite3'})")
    return "\n".join(lines)
