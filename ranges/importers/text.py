"""Text as its publisher meant it: UTF-8 that was once decoded as Latin-1 / Windows-1252 and saved again
("GuÃ©rin" for "Guérin", "Ã—" for the hybrid sign "×") is repaired on reading."""

from __future__ import annotations

import ftfy

# Where UTF-8 read as Windows-1252 leaves its mark: the lead bytes of 2-byte sequences (U+00C0..U+00FF
# starts with 0xC3 "Ã", U+0080..U+00BF with 0xC2 "Â"). Text without them is returned as it is, cheaply.
_MARKS = ("Ã", "Â")


def text_repaired(value: str) -> str:
    """`value` with double-encoded UTF-8 undone (ftfy's `fix_encoding`: it changes only what decodes
    as a whole, so a real "Ã" in "São Tomé" written correctly is left alone)."""
    if not value or not any(mark in value for mark in _MARKS):
        return value
    return ftfy.fix_encoding(value)


def row_repaired(row: dict) -> dict:
    return {key: text_repaired(value) if isinstance(value, str) else value for key, value in row.items()}
