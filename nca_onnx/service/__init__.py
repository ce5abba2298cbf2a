"""The analysis service: the nca.v1 gRPC contract (protos/nca/v1/nca.proto) served by
`nca-onnx serve` and used by `nca-onnx remote`; docs/service.md describes it.

Heavy modules (grpc, the core) load on first use, so importing this package is cheap.
"""

from __future__ import annotations

import importlib

__all__ = ["NcaClient", "ServerConfig", "load_config", "serve", "start_server"]

_HOMES = {"NcaClient": "client", "ServerConfig": "settings", "load_config": "settings",
          "serve": "server", "start_server": "server"}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'nca_onnx.service' has no attribute '{name}'")
    return getattr(importlib.import_module(f"nca_onnx.service.{_HOMES[name]}"), name)
