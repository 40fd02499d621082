"""One worker's state, in-process: the model served by name and version (and rebuilt after a
hot reload), the body read within its limits, predictions counted and sampled. (The same through
HTTP, against the running service, is in test_app.py and test_bad_inputs.py.)"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from ml.config import ServeParams
from ml.serve.command import settings_for
from ml.serve.service import Service, header_values
from ml.serve.validation import RequestError
from tests.serving import linear_model

LIMIT = 64  # bytes of request body


def service_for(model: Path, samples: Path | None = None, **serve) -> Service:
    params = ServeParams(model_name="digits", max_body_bytes=LIMIT, sample_every=1, **serve)
    return Service(settings_for(params, model, samples))


@pytest.fixture(scope="module")
def digits(digits_onnx) -> Service:
    return service_for(digits_onnx)


def refused(call, *args, **options) -> tuple[int, str]:
    with pytest.raises(RequestError) as caught:
        call(*args, **options)
    return caught.value.status, caught.value.message


def test_requests_name_the_served_model_and_optionally_its_version(digits):
    version = digits.current.model.version
    assert digits.served("digits", version) is digits.current
    assert digits.current.named is None and b"<html" in digits.current.page.lower()
    assert refused(digits.served, "iris") == (
        404,
        "model 'iris' not found; this service serves 'digits'",
    )
    assert refused(digits.served, "digits", "000000000000") == (
        404,
        f"version '000000000000' of 'digits' not found; serving {version}",
    )


def test_a_reloaded_model_is_served_with_what_derives_from_it(prepared_digits, tmp_path):
    model = tmp_path / "model.onnx"
    linear_model(prepared_digits, model)
    service = service_for(model)
    before = service.served("digits")
    shutil.copyfile(linear_model(prepared_digits, tmp_path / "new.onnx", weight_scale=0.5), model)
    assert service.holder.check()
    after = service.served("digits")
    assert after is not before and after.model.version != before.model.version
    info = "runwright_model_info"
    labels = {"model": "digits", "version": after.model.version}
    assert service.metrics.registry.get_sample_value(info, labels) == 1
    labels["version"] = before.model.version
    assert service.metrics.registry.get_sample_value(info, labels) == 0


def test_predictions_are_counted_and_sampled(digits_onnx, tmp_path):
    service = service_for(digits_onnx, tmp_path / "samples")
    model = service.served("digits").model
    result = service.predict(model, np.zeros((3, 8, 8, 1), dtype=np.float32))
    service.stop()
    assert result.shape == (3, 10)
    service.tick()  # what the reload thread does every second
    assert service.metrics.registry.get_sample_value("runwright_predicted_rows_total") == 3
    (samples,) = (tmp_path / "samples").glob("inputs-*.jsonl")
    assert len(samples.read_text().splitlines()) == 3  # every row: sample_every is 1


def read(service: Service, headers: dict[str, str], chunks: list[bytes], disconnect: bool = False):
    """read_body on a request with these headers whose body arrives in these chunks (the last
    replaced by a disconnect when asked)."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    if disconnect:
        messages[-1] = {"type": "http.disconnect"}

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    return asyncio.run(service.read_body(raw, receive))


JSON = {"content-type": "application/json; charset=utf-8"}


def test_a_body_in_several_chunks_is_read_whole(digits):
    assert read(digits, JSON, [b'{"instances"', b": [[1, ", b"2]]}"]) == b'{"instances": [[1, 2]]}'


def test_only_json_is_accepted(digits):
    status, message = refused(read, digits, {"content-type": "text/plain"}, [b"{}"])
    assert (status, message) == (415, "send the body as application/json (got 'text/plain')")
    assert refused(read, digits, {}, [b"{}"])[1].endswith("(got 'no type')")


def test_a_body_over_the_limit_is_413_whether_announced_or_not(digits):
    announced = JSON | {"content-length": str(LIMIT + 1)}
    assert refused(read, digits, announced, [b"x" * (LIMIT + 1)]) == (
        413,
        f"the body has {LIMIT + 1} bytes; the limit is {LIMIT}",
    )
    streamed = [b"[" + b"1," * 20, b"1," * 20]  # no Content-Length, more than LIMIT in all
    assert refused(read, digits, JSON, streamed) == (
        413,
        f"the body exceeds the limit of {LIMIT} bytes",
    )


def test_a_client_that_goes_away_mid_body_is_400(digits):
    status, message = refused(read, digits, JSON, [b'{"inst', b""], disconnect=True)
    assert (status, message) == (400, "the client disconnected before sending the whole body")


def test_header_values_are_found_among_the_raw_headers():
    headers = [(b"host", b"x"), (b"content-length", b"12"), (b"content-type", b"a/b")]
    assert header_values(headers) == (b"a/b", b"12")
    assert header_values([]) == (b"", None)
