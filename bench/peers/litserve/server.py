"""A LitServe API serving the ONNX file with onnxruntime, as LitServe's documentation writes one.
Started by bench/serve.py:

    python server.py   (MODEL, INPUT_NAME, ROW_SHAPE, PORT, WORKERS in the environment)
"""

import json
import os

import litserve as ls
import numpy as np
import onnxruntime as ort


class OnnxAPI(ls.LitAPI):
    def setup(self, device):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            os.environ["MODEL"], options, providers=["CPUExecutionProvider"]
        )
        self.input_name = os.environ["INPUT_NAME"]
        self.row_shape = json.loads(os.environ["ROW_SHAPE"])

    def decode_request(self, request):
        return np.asarray(request["instances"], dtype=np.float32).reshape(-1, *self.row_shape)

    def predict(self, rows):
        (result,) = self.session.run(None, {self.input_name: rows})
        return result

    def encode_response(self, result):
        return {"predictions": result.tolist()}


if __name__ == "__main__":
    server = ls.LitServer(
        OnnxAPI(), accelerator="cpu", workers_per_device=int(os.environ["WORKERS"])
    )
    server.run(port=int(os.environ["PORT"]), generate_client_file=False)
