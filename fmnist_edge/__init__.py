"""fmnist-edge: train, export, quantize and run a Fashion-MNIST CNN on small devices.

The pipeline stages live in subpackages: ``fmnist_edge.train``, ``fmnist_edge.export``,
``fmnist_edge.runtime`` (numpy-only, what a device installs) and ``fmnist_edge.benchmarks``.
"""

__version__ = "0.1.0"
