"""``bench``: what ``fmnist-bench`` does — measure, write the reports and plots, update README, gate."""

from __future__ import annotations

from pathlib import Path

from fmnist_edge import plotting

from .gate import check_gate, load_baseline
from .report import headline, readme_block, write_reports
from .run import BenchConfig, run_benchmark

PROG = "fmnist-bench"
NO_PLOTS = "matplotlib is not installed (pip install 'fmnist-edge[plots]' adds them)"


def bench(config: BenchConfig, out: Path, gate: str | None = None, readme: str | None = None) -> int:
    """Benchmark, write ``out``/benchmark.{json,md} (+ PNGs with matplotlib), print the headline.

    Returns 1 when ``gate`` (a baseline file) finds a regression that a second measurement of the
    failed batch-1 ratios repeats, else 0. A bad baseline or README block fails before anything
    is measured.
    """
    from fmnist_edge.readme import check_block, replace_block

    baseline = load_baseline(gate) if gate else None
    if readme:
        check_block(readme, "bench")
    report = run_benchmark(config)
    written = write_reports(report, out) + _plots(report, out)
    print(headline(report))
    print(f"\n{PROG}: wrote " + ", ".join(str(p) for p in written))
    if not plotting.available():
        print(f"{PROG}: no plots: {NO_PLOTS}")
    if readme:
        replace_block(readme, "bench", readme_block(report))
    if not baseline:
        return 0
    from .confirm import remeasurer

    return check_gate(report, baseline, remeasurer(config, report))


def _plots(report: dict, out: Path) -> list[Path]:
    """The PNGs when matplotlib is installed; a device with only ``[litert]`` has none."""
    if not plotting.available():
        return []
    from .plots import save_plots

    return save_plots(report, out)
