"""Location-aware identification on real photos: top-1, committed precision, false alerts on native
animals and missed invaders, with and without the location prior, in one run (issue 14, "Measure").

Needs the database of `scripts/run` / `manage.py bootstrap` (the starter model, regions, starter pack)
and, for a meaningful prior, the range data of ../shared/data imported (`manage.py import_data mdd ...`;
`bench/verdict.py --import 1` imports all of it). Every labelled photo of ../shared/data/photos is
placed at a point in its real country (the MICA deployments give real points; elsewhere a point inside
the country, or Snapshot Serengeti's own position for Tanzania), and each photo of a species with a
known native range is also placed in another country of its native range and in a country outside it.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass, replace
from math import nan
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHOTOS = REPO.parent / "shared" / "data" / "photos"
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")

# Snapshot Serengeti's cameras (the project's published centre); other countries get a point inside them.
KNOWN_SITES = {"TZA": (34.83, -2.33)}
# Where an out-of-range placement goes: the first of these outside the species' native range.
FAR_COUNTRIES = ("AUS", "BRA", "USA", "DEU", "JPN", "IND", "TZA", "ARG")
# An out-of-range placement counts as "visible" when the classifier gives its taxon this much: a
# photo the model cannot see at all is a classifier miss, not something a prior could flag.
VISIBLE = 0.1
# The sweep behind the settings' defaults: (alert, review, prior floor).
SWEEP = [(a, r, f) for a in (0.5, 0.7, 0.9) for r in (0.1, 0.2, 0.3) for f in (0.02, 0.1, 0.3)]


@dataclass(frozen=True)
class Placement:
    path: str
    truth: str  # the photo's taxon: species, else genus, else family
    lon: float
    lat: float
    kind: str  # real | native | out_of_range


def truth_key(lineage: str) -> str | None:
    """'uuid;mammalia;carnivora;felidae;felis;silvestris lybica;wildcat' -> 'Felis silvestris'."""
    parts = lineage.split(";")
    if len(parts) < 6:
        return None
    family, genus, species = parts[3], parts[4], parts[5].split(" ")[0]
    if genus and species:
        return f"{genus.capitalize()} {species}"
    return (genus or family).capitalize() or None


def genus_of(key: str | None, taxa) -> str | None:
    node, seen = key, set()
    while node and node not in seen:
        seen.add(node)
        if taxa.ranks.get(node) == "genus":
            return node
        node = taxa.parents.get(node)
    return key.split(" ")[0] if key and " " in key else None


def country_point(code: str, index) -> tuple[float, float] | None:
    import shapely

    if code in KNOWN_SITES:
        return KNOWN_SITES[code]
    for record, geom in zip(index.regions, index.region_geometries):
        if record.code == code and geom is not None and not geom.is_empty:
            p = shapely.point_on_surface(geom)
            return p.x, p.y
    return None


def placements(index, taxa) -> list[Placement]:
    from ranges.verdict import NATIVE, OUT_OF_RANGE, verdict

    with open(PHOTOS / "photos_index.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        truth = truth_key(row["speciesnet_taxonomy"])
        if not truth or "truncated" in row["notes"]:
            continue  # blank, vehicle, unlabelled, or a deliberately broken file
        truth = taxa.accepted_name(truth)
        if row["latitude"] and row["longitude"]:  # the MICA frames: their deployment's position
            point = (float(row["longitude"]), float(row["latitude"]))
        elif row["country_iso3"]:
            point = country_point(row["country_iso3"], index)
        else:
            point = None  # no place known: not placed for real
        if point:
            out.append(Placement(row["path"], truth, *point, "real"))
        native = sorted(
            c
            for c in index.native_region_codes(truth)
            if index.region(c) and index.region(c).kind == "country" and c != row["country_iso3"]
        )
        for code in native[:1]:
            p = country_point(code, index)
            if p and verdict(truth, *p, index, taxa).status == NATIVE:
                out.append(Placement(row["path"], truth, *p, "native"))
        for code in FAR_COUNTRIES:
            p = country_point(code, index)
            if p and verdict(truth, *p, index, taxa).status == OUT_OF_RANGE:
                out.append(Placement(row["path"], truth, *p, "out_of_range"))
                break
    return out


def classify_all(paths: list[str]) -> dict[str, dict[str, float]]:
    from classifier.selectors import active_model_version
    from ml.engine import Classifier

    version = active_model_version()
    classifier = Classifier.load(version.path, backend="onnxruntime", threads=2)
    print(f"model: {version.name} ({version.arch}), {len(paths)} photos")
    scores = {}
    for path, result in zip(paths, classifier.classify([str(PHOTOS / p) for p in paths])):
        if result.ok:
            scores[path] = result.taxon_scores
    return scores


def evaluate(cases, scores, index, taxa, thresholds, use_prior: bool) -> dict[str, float]:
    from ml.taxonomy import subtree_total
    from ranges.identification import ALERT_LEVEL, REVIEW_LEVEL, identify
    from ranges.verdict import ALERT_STATUSES, verdict

    n = {
        "top1_species": 0,
        "top1_genus": 0,
        "committed": 0,
        "committed_right": 0,
        "native": 0,
        "false_alert": 0,
        "native_review": 0,
        "invader": 0,
        "invader_flagged": 0,
        "invader_seen": 0,
        "invader_seen_flagged": 0,
    }
    domestic_commits = []  # (score, right) of each answer that names a domestic form (dog, cat, cattle, ...)
    for case in cases:
        taxon_scores = scores[case.path]
        found = identify(taxon_scores, case.lon, case.lat, index, taxa, thresholds, use_prior=use_prior)
        best = max(found.candidates, key=lambda c: c.weighted).key if found.candidates else None
        n["top1_species"] += best == case.truth and taxa.ranks.get(case.truth) == "species"
        n["top1_genus"] += _same_genus(best, case.truth, taxa)
        if found.decision.outcome == "identified":
            n["committed"] += 1
            right = found.decision.key in _lineage(case.truth, taxa) or _same_genus(
                found.decision.key, case.truth, taxa
            )
            n["committed_right"] += right
            if taxa.is_domestic(found.decision.key):  # the photo's own score for it
                domestic_commits.append((subtree_total(taxon_scores, found.decision.key, taxa.parents), bool(right)))
        truth_here = verdict(case.truth, case.lon, case.lat, index, taxa)
        if case.kind == "out_of_range":
            flagged = found.alert_level in (ALERT_LEVEL, REVIEW_LEVEL)
            n["invader"] += 1
            n["invader_flagged"] += flagged
            if subtree_total(taxon_scores, case.truth, taxa.parents) >= VISIBLE:
                n["invader_seen"] += 1
                n["invader_seen_flagged"] += flagged
        elif truth_here.status not in ALERT_STATUSES:  # a native (or unplaceable) animal where it lives
            n["native"] += 1
            n["false_alert"] += found.alert_level == ALERT_LEVEL
            n["native_review"] += found.alert_level == REVIEW_LEVEL
    total = max(len(cases), 1)
    return {
        "top1_species": n["top1_species"] / total,
        "top1_genus": n["top1_genus"] / total,
        "committed_precision": n["committed_right"] / max(n["committed"], 1),
        "committed": n["committed"],
        "false_alert_rate": n["false_alert"] / max(n["native"], 1),
        "native_review_rate": n["native_review"] / max(n["native"], 1),
        "natives": n["native"],
        # nan, not 1.0, when there was no invader to miss: an empty set is not a miss.
        "missed_invader_rate": 1 - n["invader_seen_flagged"] / n["invader_seen"] if n["invader_seen"] else nan,
        "missed_invader_rate_all": 1 - n["invader_flagged"] / n["invader"] if n["invader"] else nan,
        "invaders_seen": n["invader_seen"],
        "invaders": n["invader"],
        "domestic_commits": domestic_commits,
    }


def _truth_score(case: Placement, scores, taxa) -> float:
    from ml.taxonomy import subtree_total

    return subtree_total(scores[case.path], case.truth, taxa.parents)


def _highest_false_alarm_score(cases, scores, index, taxa) -> float:
    """Over native placements: the best classifier score of any top candidate whose verdict there is an alert."""
    from ranges.verdict import ALERT_STATUSES, verdict

    highest = 0.0
    for case in cases:
        if case.kind == "out_of_range" or verdict(case.truth, case.lon, case.lat, index, taxa).status in ALERT_STATUSES:
            continue
        ranked = sorted(
            ((k, v) for k, v in scores[case.path].items() if k != "no_animal"), key=lambda kv: kv[1], reverse=True
        )[:5]
        for key, score in ranked:
            if verdict(key, case.lon, case.lat, index, taxa).status in ALERT_STATUSES:
                highest = max(highest, score)
    return highest


def _same_genus(key: str | None, truth: str, taxa) -> bool:
    """The genus of `key` is the truth's; for a truth above genus (a family), `key` lies within it."""
    if key is None:
        return False
    genus = genus_of(truth, taxa)
    return genus_of(key, taxa) == genus if genus else truth in _lineage(key, taxa)


def _lineage(key: str, taxa) -> set[str]:
    out, node = set(), key
    while node and node not in out:
        out.add(node)
        node = taxa.parents.get(node)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-sweep", action="store_true", help="skip the threshold sweep")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import DatabaseError

    from ranges.at_point import identification_thresholds
    from ranges.index_cache import build_range_index
    from species.selectors import taxon_tree

    try:
        # Built here with its whole region outlines (the placements need a point in each country);
        # a server process's cached index keeps only the pieces it looks points up in.
        index, taxa, thresholds = build_range_index(), taxon_tree(), identification_thresholds()
    except DatabaseError as exc:
        sys.exit(f"the database is not set up ({exc}): run scripts/run (or manage.py migrate + bootstrap) first")
    print(
        f"range index: {len(index.regions)} regions, {len(index.statuses)} statuses; taxonomy: {len(taxa.parents)} taxa"
    )
    cases = placements(index, taxa)
    if not any(c.kind == "native" for c in cases):
        sys.exit("no photo could be placed in another country of its native range: import the ranges first")
    scores = classify_all(sorted({c.path for c in cases}))
    cases = [c for c in cases if c.path in scores]
    kinds = {k: sum(c.kind == k for c in cases) for k in ("real", "native", "out_of_range")}
    print(
        f"placements: {len(cases)} ({kinds['real']} real, {kinds['native']} synthetic native, "
        f"{kinds['out_of_range']} synthetic out of range)"
    )

    if not args.no_sweep:
        print("\nsweep (prior on): alert review floor | false_alert native_review missed_invader(visible) ", end="")
        print("top1_genus committed_precision")
        for alert, review, floor in SWEEP:
            m = evaluate(
                cases, scores, index, taxa, replace(thresholds, alert=alert, review=review, prior_floor=floor), True
            )
            rates = [m[k] for k in ("false_alert_rate", "native_review_rate", "missed_invader_rate", "top1_genus")]
            print(
                f"  {alert:.1f} {review:.1f} {floor:.2f} | " + " ".join(f"{r:.3f}" for r in rates),
                f"{m['committed_precision']:.3f}",
            )

    print("\nwhat the alert threshold must separate (the classifier's own scores):")
    highest = _highest_false_alarm_score(cases, scores, index, taxa)
    print(f"  highest score of a would-be-alert candidate on a native placement: {highest:.3f}")
    visible = [c for c in cases if c.kind == "out_of_range" and _truth_score(c, scores, taxa) >= VISIBLE]
    print(
        "  scores of the visible out-of-range animals:",
        sorted(round(_truth_score(c, scores, taxa), 3) for c in visible),
    )

    t = thresholds
    print(f"\nsettings: alert {t.alert}, review {t.review}, prior floor {t.prior_floor}, confidence {t.confidence}")
    print(
        "| | top-1 species | top-1 genus | committed precision (n) | false alerts on natives (n) "
        "| natives sent to review ",
        end="",
    )
    print("| missed invaders: visible (n) / all (n) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    results = {}
    for label, use_prior in (("prior", True), ("plain", False)):
        m = results[label] = evaluate(cases, scores, index, taxa, thresholds, use_prior)
        print(
            f"| {label} | {m['top1_species']:.3f} | {m['top1_genus']:.3f} "
            f"| {m['committed_precision']:.3f} ({m['committed']}) "
            f"| {m['false_alert_rate']:.3f} ({m['natives']}) | {m['native_review_rate']:.3f} "
            f"| {m['missed_invader_rate']:.3f} ({m['invaders_seen']}) "
            f"/ {m['missed_invader_rate_all']:.3f} ({m['invaders']}) |"
        )
    prior, plain = results["prior"], results["plain"]
    # Issue 21: does committing to a domestic form (a dog on a camera-trap frame) need a higher score?
    commits = evaluate(cases, scores, index, taxa, replace(thresholds, domestic=0.0), True)["domestic_commits"]
    print(
        "\ncommitted answers naming a domestic form (prior on, no domestic threshold): "
        f"{sum(r for _, r in commits)} right of {len(commits)}; RANGEWATCH_DOMESTIC_MIN_SCORE {t.domestic}"
    )
    for cut in (0.5, 0.6, 0.7, 0.8, 0.9):
        kept = [r for s, r in commits if s >= cut]
        print(f"  with a domestic commit score of {cut:.1f}: {sum(kept)} right of {len(kept)}")
    print(
        f"top1_genus_prior={prior['top1_genus']:.3f} top1_genus_plain={plain['top1_genus']:.3f} "
        f"false_alert_rate={prior['false_alert_rate']:.3f} missed_invader_rate={prior['missed_invader_rate']:.3f}"
    )


if __name__ == "__main__":
    main()
