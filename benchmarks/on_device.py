"""The benchmark a device runs on itself: the one command of the CI Pi job and the emulated Pis.

    python -m fmnist_edge.benchmarks.on_device EXPORT_DIR [--out DIR] [--device-name NAME]

``fmnist-bench`` on every model a backend here can run, with only ``[litert,onnx]`` installed
(no TensorFlow, no matplotlib), then the device gate: the packaged ``baseline.json`` for this
CPU class. On a real device the quick plan over all 10,000 test images; in an emulator
(``FMNIST_EMULATED``, which ``make pi-check`` sets in its guests) the tiny plan over the first
500 and no gate (timings are the emulator's, and 500 images are too few for the drop budgets:
the Pi check compares each accuracy with x86's instead). ``make pi-check`` runs exactly this in both emulated Pis, so
the self-hosted Pi job's path is tested on every CI run even without a Pi.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fmnist_edge.runtime import cliutil

from .cliargs import export_parser
from .device import EMULATED_ENV
from .plan import Plan

BASELINE = Path(__file__).resolve().parent / "baseline.json"
EMULATED_IMAGES = 500  # ~5 s per model under qemu; a device takes all 10,000 in about a second


def device_config(export_dir: Path, device_name: str | None, data_dir: str | None = None):
    """The BenchConfig of a device run: quick and all images, or tiny and 500 when emulated."""
    from .run import BenchConfig

    emulated = bool(os.environ.get(EMULATED_ENV))
    return BenchConfig((export_dir,), threads=(1,), batch=32 if emulated else 256,
                       plan_kind=Plan.TINY if emulated else Plan.QUICK, keras=False, data_dir=data_dir,
                       device_name=device_name, images=EMULATED_IMAGES if emulated else None)


def main(argv: list[str] | None = None) -> int:
    """Benchmark and gate this device: 0 passed, 1 the gate failed, 2 bad input."""
    p = export_parser("python -m fmnist_edge.benchmarks.on_device",
                      "Benchmark the export on this device with only the runtime installed, and "
                      "gate it with the baseline of its CPU class.")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="report folder (default: reports/devices/<device name>)")
    p.add_argument("--device-name", metavar="NAME", default=None,
                   help="the device's name in the report (default: this machine's hostname)")
    p.add_argument("--gate", metavar="BASELINE", default=str(BASELINE),
                   help="baseline file (default: the one packaged with fmnist-edge)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="Fashion-MNIST folder (default: $FMNIST_DATA, then the Debian package location)")
    args = p.parse_args(argv)

    def action() -> int:
        import socket

        from .bench import bench

        name = args.device_name or socket.gethostname() or "device"
        out = Path(args.out) if args.out else Path("reports") / "devices" / name
        emulated = os.environ.get(EMULATED_ENV)
        if emulated:  # 500 images are too few for the drop budgets (one image = 0.2 points),
            # and timings are skipped anyway: the Pi check compares every accuracy with x86's
            print(f"on-device: no gate under emulation ({emulated}); accuracies are compared "
                  "with this machine's by make pi-check")
        return bench(device_config(Path(args.export_dir), name, args.data), out,
                     None if emulated else args.gate)

    return cliutil.run("on-device", action)


if __name__ == "__main__":
    sys.exit(main())
