"""Python code generated from protos/nca/v1/nca.proto; do not edit, regenerate it.

`python -m nca_onnx.service.codegen` rewrites nca_pb2.py, nca_pb2.pyi and
nca_pb2_grpc.py; tests/service/test_codegen.py fails when they are stale.
"""
