"""Tests of nca_onnx.service: unit tests per module and a real server process."""
