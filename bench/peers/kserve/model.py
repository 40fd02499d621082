"""A custom KServe predictor: a `kserve.Model` subclass serving the ONNX file with onnxruntime,
started by KServe's Python model server (what a KServe user writes for a custom predictor).
Started by bench/serve.py:

    python model.py --http_port PORT --workers N --enable_grpc false
    (MODEL, INPUT_NAME, ROW_SHAPE in the environment)
"""

import json
import os

import kserve
import numpy as np
import onnxruntime as ort


class OnnxModel(kserve.Model):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.session = None
        self.load()

    def load(self) -> bool:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            os.environ["MODEL"], options, providers=["CPUExecutionProvider"]
        )
        self.input_name = os.environ["INPUT_NAME"]
        self.row_shape = json.loads(os.environ["ROW_SHAPE"])
        self.ready = True
        return self.ready

    # With --workers above 1, KServe pickles the model into each spawned worker process; an
    # onnxruntime session cannot be pickled, so each worker opens its own.
    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "session"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.load()

    def predict(self, payload: dict, headers: dict | None = None) -> dict:
        rows = np.asarray(payload["instances"], dtype=np.float32).reshape(-1, *self.row_shape)
        (result,) = self.session.run(None, {self.input_name: rows})
        return {"predictions": result.tolist()}


if __name__ == "__main__":
    # ModelServer reads its options (--http_port, --workers, --enable_grpc) from sys.argv.
    kserve.ModelServer().start([OnnxModel("digits")])
