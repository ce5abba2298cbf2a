"""Entry point for deployments that start a script rather than the `nca-onnx` command.

    python server/serve.py --config /etc/nca-onnx/server.toml

is the same as `nca-onnx serve --config ...`; every flag of `nca-onnx serve --help` works.
"""

from __future__ import annotations

import sys

from nca_onnx.cli.main import app

if __name__ == "__main__":
    app(["serve", *sys.argv[1:]], prog_name="nca-onnx")
