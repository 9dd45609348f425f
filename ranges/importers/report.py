"""What an import did: counts per outcome, rejections with reasons, names that stayed unmatched."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class ImportInputError(Exception):
    """The input cannot be read at all (missing file, wrong format): the command exits non-zero."""


@dataclass
class ImportReport:
    fmt: str
    created: Counter = field(default_factory=Counter)  # per kind of row: "regions", "statuses", ...
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    rejected_examples: dict[str, list[str]] = field(default_factory=dict)
    unmatched: Counter = field(default_factory=Counter)  # name -> rows
    matched: Counter = field(default_factory=Counter)  # how a name matched ("accepted", "synonym", ...) -> rows
    synonym_examples: list[str] = field(default_factory=list)  # names that matched only through a synonym
    notes: list[str] = field(default_factory=list)  # repairs and fallbacks worth reading
    # Names this import made ambiguous across kingdoms ("Proboscidea: order in Animalia, genus in
    # Plantae"): both taxa are kept apart, and lookups say which kingdom they mean.
    homonyms: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, kind: str, counts: dict[str, int]) -> None:
        for outcome in ("created", "updated", "unchanged"):
            getattr(self, outcome)[kind] += counts.get(outcome, 0)

    def reject(self, reason: str, example: str = "") -> None:
        self.rejected[reason] += 1
        examples = self.rejected_examples.setdefault(reason, [])
        if example and len(examples) < 3:
            examples.append(example)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def match(self, how: str, name: str) -> None:
        """Count a name matched by TaxonNames.resolve (how: its second answer)."""
        self.matched[how] += 1
        if "synonym" in how and name not in self.synonym_examples and len(self.synonym_examples) < 5:
            self.synonym_examples.append(name)

    @property
    def matched_via_synonym(self) -> int:
        return sum(count for how, count in self.matched.items() if "synonym" in how)

    @property
    def changed(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())

    def summary_lines(self) -> list[str]:
        kinds = sorted(set(self.created) | set(self.updated) | set(self.unchanged))
        lines = [f"{self.fmt}: {self.seconds:.1f}s"]
        for kind in kinds:
            lines.append(
                f"  {kind}: created {self.created[kind]}, updated {self.updated[kind]}, unchanged {self.unchanged[kind]}"
            )
        lines.append(f"  rejected: {sum(self.rejected.values())}")
        for reason, count in self.rejected.most_common():
            examples = "; ".join(self.rejected_examples.get(reason, []))
            lines.append(f"    {count} × {reason}" + (f" (e.g. {examples})" if examples else ""))
        if self.matched:
            ways = ", ".join(f"{how} {count}" for how, count in self.matched.most_common())
            lines.append(
                f"  names matched: {sum(self.matched.values())} rows ({ways}); via synonym: {self.matched_via_synonym} rows"
                + (f", e.g. {', '.join(self.synonym_examples)}" if self.synonym_examples else "")
            )
        if self.unmatched:
            names = ", ".join(name for name, _ in self.unmatched.most_common(10))
            lines.append(
                f"  unmatched names: {len(self.unmatched)} ({sum(self.unmatched.values())} rows), e.g. {names}"
            )
        if self.homonyms:
            lines.append(
                f"  same name in several kingdoms (kept apart): {len(self.homonyms)}, e.g. {'; '.join(self.homonyms[:5])}"
            )
        if self.notes:
            lines.append(f"  notes: {len(self.notes)}")
            lines.extend(f"    {n}" for n in self.notes[:10])
            if len(self.notes) > 10:
                lines.append(f"    … and {len(self.notes) - 10} more")
        return lines
