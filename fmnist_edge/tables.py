"""Markdown tables for every report: one header, one alignment row, one row per record.

A dozen small reports (README blocks, reports/*.md, the make-target printouts) need only pipes and
an alignment row, so a ten-line helper does it; ``tabulate`` would be a dependency for that.
"""

from __future__ import annotations

from typing import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence], align: str = "") -> str:
    """``| a | b |`` lines; ``align`` has one letter per column, ``l`` or ``r``.

    Without ``align`` the first column is left-aligned and the others (the figures) right.
    """
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r} does not give l or r for each of {len(header)} columns")
    lines = [_row(header), "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells, the header {len(header)}")
        lines.append(_row(row))
    return "\n".join(lines)


def _row(cells: Sequence) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"
