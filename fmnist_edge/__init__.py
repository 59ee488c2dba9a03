"""fmnist-edge: train, export, quantize and run a Fashion-MNIST CNN on small devices.

The pipeline stages live in subpackages: ``fmnist_edge.train``, ``fmnist_edge.export``,
``fmnist_edge.runtime`` (numpy-only, what a device installs) and ``fmnist_edge.benchmarks``.
The modules of this root package (metrics, splits, readme, tables, plotting, progress) are what
the stages share off the device; runtime never imports them (pyproject.toml's import contracts).

In a source checkout the stages are top-level folders, and ``fmnist_edge/train`` etc. are
symlinks to them, so Python and lint-imports see the checkout as the installed package; the
wheel maps the folders in with setuptools' package-dir instead.
"""

__version__ = "0.1.0"
