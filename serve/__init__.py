"""fmnist_edge.serve: ``fmnist-serve``, an exported model behind an HTTP service (``[serve]`` extra).

Starlette on uvicorn; one :class:`~fmnist_edge.runtime.classifier.Classifier` shared by a small
thread pool that decodes and classifies, so the event loop only moves bytes. It builds on
``fmnist_edge.runtime`` alone (pyproject.toml's import contracts).
"""
