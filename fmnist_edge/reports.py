"""Report files: ``NAME.json`` beside ``NAME.md``, each written atomically — the one report writer.

fmnist-bench (benchmark, fleet), the emulated-Pi check (pi), the load test (serve) and
fmnist-sweep (sweep) all write their reports through :func:`write_report`, so every report is
JSON a program reads and markdown a person reads, and a Ctrl-C never leaves half of either.
"""

from __future__ import annotations

import json
from pathlib import Path

from fmnist_edge.runtime import atomic


def dumps(obj) -> str:
    """Indented JSON for reports: numpy scalars become numbers, anything else unknown a string."""
    return json.dumps(obj, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def write_report(out: Path, name: str, data: dict, markdown: str) -> list[Path]:
    """Write ``out/NAME.json`` (``data``) and ``out/NAME.md`` (``markdown``); return both paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / f"{name}.json", dumps(data) + "\n")
    return [out / f"{name}.json", write_markdown(out, name, markdown)]


def write_markdown(out: Path, name: str, markdown: str) -> Path:
    """Write ``out/NAME.md`` alone (an export's report.md: its JSON is the manifest)."""
    path = Path(out) / f"{name}.md"
    atomic.write_text(path, markdown)
    return path
