"""A hand-written FastAPI + pydantic endpoint, as a team would write one: a pydantic request
model, onnxruntime in the worker, uvicorn's workers. Started by bench/serve.py:

    uvicorn app:app --workers N   (MODEL, INPUT_NAME, ROW_SHAPE in the environment)
"""

import json
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = ort.InferenceSession(os.environ["MODEL"], options, providers=["CPUExecutionProvider"])
input_name = os.environ["INPUT_NAME"]
row_shape = json.loads(os.environ["ROW_SHAPE"])
app = FastAPI()


class PredictRequest(BaseModel):
    instances: list[list[float]]


class PredictResponse(BaseModel):
    predictions: list[list[float]]


@app.get("/ready")
def ready() -> dict:
    return {"ready": True}


@app.post("/predict")
def predict(request: PredictRequest) -> PredictResponse:
    rows = np.asarray(request.instances, dtype=np.float32).reshape(-1, *row_shape)
    (result,) = session.run(None, {input_name: rows})
    return PredictResponse(predictions=result.tolist())
