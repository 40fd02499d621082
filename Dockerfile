# The serving image: `python -m ml.serve` with onnxruntime, Pillow and the web stack pinned in
# requirements/serve.txt; no TensorFlow, Keras, pandas or MLflow. The model is not baked in:
# mount it and pass --model (the docker and kserve deploy targets do).
#
# Two ways to build:
#   make wheelhouse && docker build -t runwright-serve .
#       installs only from build/wheelhouse, wheels downloaded on the host: for builders whose
#       `docker build` cannot reach a package index (no network, a TLS-intercepting proxy);
#   docker build --build-arg PIP_NO_INDEX=0 -t runwright-serve .
#       installs from the package index pip is configured for; build/wheelhouse may be empty.
# Either way every wheel is checked against the hashes in requirements/serve.txt.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG PIP_NO_INDEX=1
ENV PIP_NO_INDEX=${PIP_NO_INDEX} \
    PIP_FIND_LINKS=/wheelhouse \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/serve.txt /tmp/serve.txt
COPY build/wheelhouse /wheelhouse
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /tmp/serve.txt

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY ml/__init__.py ml/errors.py ml/dotted.py ml/datasets.py ml/config.py ml/model_reference.py \
    ml/options.py ml/
COPY ml/data/__init__.py ml/data/images.py ml/data/
COPY ml/serve ml/serve
# Byte-compiled once here: workers start faster, and nothing is written at run time.
RUN python3 -m compileall -q ml \
    && useradd --system --uid 10001 --no-create-home runwright
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python3", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8080/v2/health/ready', timeout=2)"]
ENTRYPOINT ["python3", "-m", "ml.serve"]
CMD ["--model", "/models/model.onnx", "--host", "0.0.0.0", "--port", "8080"]
