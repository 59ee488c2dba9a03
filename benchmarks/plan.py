"""How long fmnist-bench measures (``--plan``): light to import, so ``--help`` stays instant."""

from __future__ import annotations

from fmnist_edge.runtime.formats import Choice


class Plan(Choice):
    """How long to measure: full (reports), quick (CI, about a minute), tiny (an emulator)."""

    FULL = "full"
    QUICK = "quick"
    # a smoke run under qemu, ~500× slower than a device: one short round, no fresh processes
    # (qemu user mode cannot start another guest process), accuracy still on real images
    TINY = "tiny"


PLANS = {Plan.FULL: {"rounds": 7, "calls": 2000, "repeats": 20, "cold_runs": 5},
         Plan.QUICK: {"rounds": 3, "calls": 300, "repeats": 5, "cold_runs": 1},
         Plan.TINY: {"rounds": 1, "calls": 30, "repeats": 1, "cold_runs": 0}}
