"""ai-edge-litert backend (``pip install fmnist-edge[litert]``): a .tflite model over uint8 images."""

from __future__ import annotations

import numpy as np

from .errors import MissingExtraError
from .preprocessing import to_model_input
from .quiet import native_stderr_captured
from .quantize import QuantParams, dequantize, quantize_images


def _quant(detail: dict) -> QuantParams | None:
    scale, zero_point = detail["quantization"]
    if not scale:
        return None
    return QuantParams(float(scale), int(zero_point), np.dtype(detail["dtype"]).name)


class LiteRTModel:
    """A LiteRT interpreter with its input/output details read once from the model file."""

    def __init__(self, path, threads: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise MissingExtraError("ai-edge-litert", "litert") from None
        with native_stderr_captured():  # XNNPACK prints an INFO banner on every load
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        self.input_index, self.output_index = inp["index"], out["index"]
        self.input_name, self.input_dtype = inp["name"], np.dtype(inp["dtype"]).name
        self.input_shape = [int(d) for d in inp["shape_signature"]]  # -1 = any batch size
        self.input_quant, self.output_quant = _quant(inp), _quant(out)
        self._batch = int(inp["shape"][0])

    def op_names(self) -> list[str]:
        """Builtin/custom op names in the graph (a Flex op shows up as ``Flex…``)."""
        return [op["op_name"] for op in self.interpreter._get_ops_details()]

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """uint8 images → this model's input tensor (quantized with the file's own parameters)."""
        if self.input_quant is not None:
            return quantize_images(images, self.input_quant)
        return to_model_input(images)

    def predict_images(self, images: np.ndarray, chunk: int = 1000) -> np.ndarray:
        """Class probabilities (float32, N×10) for uint8 images, run in chunks of ``chunk``."""
        x = self.prepare(images)
        outputs = [self._run(x[i:i + chunk]) for i in range(0, len(x), chunk)]
        return np.concatenate(outputs)

    def _run(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self._batch:  # resize only when the batch size changes
            with native_stderr_captured():  # re-applying XNNPACK prints the banner again
                self.interpreter.resize_tensor_input(self.input_index, [len(x), 28, 28, 1])
                self.interpreter.allocate_tensors()
            self._batch = len(x)
        self.interpreter.set_tensor(self.input_index, x)
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self.output_index)
        return dequantize(y, self.output_quant) if self.output_quant else y.astype(np.float32)
