"""``Service``: the loaded model and the work of one classify request, off the event loop.

Decoding and inference run in worker threads (``run_sync``), as many at once as the pool has
threads, all sharing one thread-safe Classifier: each call takes an engine runner of its own,
so requests neither wait for one interpreter nor share a buffer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.images import ImageTooLarge, decode_image, measure
from fmnist_edge.runtime.manifest import read_manifest, sha256_file

from .config import ServeConfig


def _png(size: int = 8) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (size, size)).save(buffer, "PNG")
    return buffer.getvalue()


class RequestError(FmnistError):
    """A client mistake: answered with ``status`` and one line, the server carries on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """One image of a request: the name to answer with and the file's bytes."""

    name: str
    data: bytes


class Service:
    """One model, loaded once, and the settings every request is answered with."""

    def __init__(self, classifier: Classifier, config: ServeConfig) -> None:
        self.classifier, self.config = classifier, config
        self.model = model_identity(classifier)

    @classmethod
    def load(cls, config: ServeConfig, warm: bool = True) -> "Service":
        """Load ``config.model`` (an FmnistError, with one line, when it cannot be loaded).

        The engine gets one thread per call: the pool's threads are the parallelism, and two
        levels of it on a 2- or 4-core board only make the calls fight over the cores. ``warm``
        classifies one small PNG first, so Pillow has its PNG plugin before the first request;
        a process that only checks the model (the supervisor of --workers) skips it.
        """
        options = replace(config.options.for_command(), threads=1)
        classifier = Classifier.load(config.model, options)
        service = cls(classifier, config)
        if warm:
            service.classify([Upload("warm-up", _png())], 1)
        return service

    def classify(self, uploads: list[Upload], top_k: int, pixels: bool = False) -> dict:
        """Decode every upload, classify them in one batch call; the answer and its stage times.

        Blocking: the app calls it in a worker thread. A bad image raises RequestError (400, or
        413 for a decompression bomb) naming the upload.
        """
        start, start_cpu = time.perf_counter(), time.thread_time()
        images = []
        for upload in uploads:
            try:
                images.append(decode_image(upload.data, upload.name, self.config.invert,
                                           self.config.limits))
            except FmnistError as exc:
                raise _refused(exc) from None
        decoded, decoded_cpu = time.perf_counter(), time.thread_time()
        guesses = self.classifier.classify(np.stack(images), top_k)
        done, done_cpu = time.perf_counter(), time.thread_time()
        results = [_result(u.name, g, image if pixels else None)
                   for u, g, image in zip(uploads, guesses, images)]
        # Wall times are what a client waits for; this thread's CPU times are what the stage
        # costs (under load the wall time also counts waiting for the GIL and the cores: 2 photos
        # decoding at once on 2 cores read as ~2x their CPU in the 2026-12-03 load test).
        return {"results": results,
                "time_ms": {"decode": _ms(decoded - start), "inference": _ms(done - decoded)},
                "cpu_ms": {"decode": _ms(decoded_cpu - start_cpu),
                           "inference": _ms(done_cpu - decoded_cpu)}}


    def measure(self, uploads: list[Upload]) -> int:
        """The most pixels one of ``uploads`` counts when decoded, from the headers alone.

        RequestError 413 for an image over the pixel limit (nothing decoded), 400 for a file
        that is not an image.
        """
        most = 0
        for upload in uploads:
            try:
                most = max(most, measure(upload.data, upload.name, self.config.limits))
            except FmnistError as exc:
                raise _refused(exc) from None
        return most


def _refused(exc: FmnistError) -> RequestError:
    return RequestError(413 if isinstance(exc, ImageTooLarge) else 400, str(exc))


def _result(name: str, guesses, image) -> dict:
    best = guesses[0]
    result = {"name": name, "label": best.label, "index": best.index, "score": round(best.score, 6),
              "top_k": [{"label": g.label, "index": g.index, "score": round(g.score, 6)} for g in guesses]}
    if image is not None:  # the 28×28 the model saw, row by row (the page draws it)
        result["pixels"] = image.ravel().tolist()
    return result


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 4)


def model_identity(classifier: Classifier) -> dict:
    """Name (the training run), file, format, quantization, sha256 and engine of what is loaded."""
    path = Path(classifier.path)
    entry = classifier.entry or {}
    manifest = read_manifest(path.parent) or {}
    name = manifest.get("run") or (path.parent.parent.name if path.parent.name == "export"
                                   else path.stem)
    return {"name": str(name), "file": path.name, "format": classifier.describe()["format"],
            "quantization": entry.get("quantization"),
            "sha256": entry.get("sha256") or sha256_file(path), "backend": classifier.backend}
