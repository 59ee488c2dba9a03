"""fmnist-edge: train, export, quantize and run a Fashion-MNIST CNN on small devices.

The pipeline stages live in subpackages: ``fmnist_edge.train``, ``fmnist_edge.export``,
``fmnist_edge.runtime`` (numpy-only, what a device installs) and ``fmnist_edge.benchmarks``.
The modules of this root package (metrics, splits, readme, tables, plotting, progress) are what
the stages share off the device; runtime never imports them (pyproject.toml's import contracts).
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

# In a source checkout the stages are top-level folders beside this one (pyproject.toml maps them
# as subpackages when installed). Python started in the checkout finds this folder first, so point
# the package path at the checkout too; an installed package has its stages inside and skips this.
_checkout = _Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "runtime" / "classifier.py").is_file():
    __path__.append(str(_checkout))  # noqa: F821 - __path__ is defined for packages
