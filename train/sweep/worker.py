"""One worker of a sweep: ``python -m fmnist_edge.train.sweep.worker CONFIG.json`` (started by sweep.run).

Not a user command: ``fmnist-sweep --workers N`` starts N - 1 of these on the study it opened.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run trials of the sweep described in CONFIG.json until the study has none left."""
    from fmnist_edge.runtime import cliutil

    p = cliutil.ArgumentParser(prog="python -m fmnist_edge.train.sweep.worker",
                               description="Internal: one worker process of an fmnist-sweep.")
    p.add_argument("config", metavar="CONFIG.json", help="the sweep, as fmnist-sweep wrote it")
    args = p.parse_args(argv)

    def action() -> int:
        from .study import SweepConfig, run_worker

        run_worker(SweepConfig.from_json(json.loads(Path(args.config).read_text())))
        return 0

    return cliutil.run("fmnist-sweep worker", action)


if __name__ == "__main__":
    sys.exit(main())
