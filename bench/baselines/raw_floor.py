"""The floor of bench/serve.py: the least a Python service can do per request on the kit's server
stack (gunicorn's arbiter, uvicorn workers, each on a listening socket of its own). A bare ASGI
app, no framework: read the body, parse it with orjson, one numpy array, one onnxruntime call
with the kit's session options, answer with orjson. No validation, no metrics, no routing
beyond the path check.

    gunicorn --worker-class uvicorn_worker.UvicornWorker --reuse-port raw_floor:app   (MODEL)
"""

import os

import numpy as np
import orjson

from ml.serve.model import load

model = load(os.environ["MODEL"])  # in each worker: gunicorn imports the app after the fork
START = {"type": "http.response.start", "status": 200}
START["headers"] = [(b"content-type", b"application/json")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":
        await send(START)
        await send({"type": "http.response.body", "body": b"{}"})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    tensor = orjson.loads(body)["inputs"][0]
    rows = np.array(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    result = model.predict(rows)
    answer = {"outputs": [{"name": model.output_name, "shape": result.shape, "data": result}]}
    await send(START)
    await send(
        {
            "type": "http.response.body",
            "body": orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY),
        }
    )
