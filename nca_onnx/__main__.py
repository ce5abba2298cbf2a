"""`python -m nca_onnx` runs the command-line interface."""

from nca_onnx.cli.main import app

app(prog_name="nca-onnx")
