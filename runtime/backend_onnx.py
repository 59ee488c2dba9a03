"""onnxruntime backend (``pip install fmnist-edge[onnx]``): an .onnx model over uint8 images."""

from __future__ import annotations

import numpy as np

from .errors import MissingExtraError
from .preprocessing import to_model_input


class OnnxModel:
    """An ONNX Runtime CPU session; QDQ models take float x/255 input and quantize inside."""

    def __init__(self, path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingExtraError("onnxruntime", "onnx") from None
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = [d if isinstance(d, int) else -1 for d in inp.shape]  # -1 = any batch
        self.input_dtype = "float32" if inp.type == "tensor(float)" else inp.type
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def predict_images(self, images: np.ndarray, chunk: int = 1000) -> np.ndarray:
        """Class probabilities (float32, N×10) for uint8 images, run in chunks of ``chunk``."""
        x = to_model_input(images)
        outputs = [self.session.run(None, {self.input_name: x[i:i + chunk]})[0]
                   for i in range(0, len(x), chunk)]
        return np.concatenate(outputs).astype(np.float32)
