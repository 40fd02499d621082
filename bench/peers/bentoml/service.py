"""A BentoML service serving the ONNX file with onnxruntime, as BentoML's documentation writes
one. Started by bench/serve.py:

    bentoml serve service:OnnxService --port PORT   (MODEL, INPUT_NAME, ROW_SHAPE, WORKERS)
"""

import json
import os

import bentoml
import numpy as np


@bentoml.service(workers=int(os.environ.get("WORKERS", "1")))
class OnnxService:
    def __init__(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            os.environ["MODEL"], options, providers=["CPUExecutionProvider"]
        )
        self.input_name = os.environ["INPUT_NAME"]
        self.row_shape = json.loads(os.environ["ROW_SHAPE"])

    @bentoml.api
    def predict(self, instances: list[list[float]]) -> dict:
        rows = np.asarray(instances, dtype=np.float32).reshape(-1, *self.row_shape)
        (result,) = self.session.run(None, {self.input_name: rows})
        return {"predictions": result.tolist()}
