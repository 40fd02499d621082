"""The inference service (`ml serve`): onnxruntime behind Starlette/uvicorn, speaking the Open
Inference Protocol v2 and KServe v1. It imports onnxruntime, numpy and its web stack only, and
learns names, shapes, labels and the feature encoding from the ONNX file's metadata."""
