"""Server settings: defaults, the TOML file and command-line overrides, checked once."""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from nca_onnx.errors import ParameterError

__all__ = ["ServerConfig", "load_config"]

DEFAULT_PORT = 50051
DEFAULT_TOKEN_ENV = "NCA_ONNX_TOKENS"
MIN_MESSAGE_BYTES = 2**20  # uploads arrive in chunks of 512 KiB (client.CHUNK_BYTES)
# Which TOML table holds each field; the file is checked against this so a typo fails.
_SECTIONS = {
    "server": ("host", "port", "state_dir", "workers", "max_queued_jobs", "rpc_threads",
               "shutdown_grace_s"),
    "auth": ("token_file", "token_env", "insecure_no_auth"),
    "tls": ("tls_cert", "tls_key"),
    "limits": ("max_message_bytes", "max_model_bytes", "max_dataset_bytes",
               "max_extracted_bytes", "max_archive_members", "max_memory_budget_bytes"),
}
_TLS_KEYS = {"cert": "tls_cert", "key": "tls_key"}
_PATH_FIELDS = {"state_dir", "token_file", "tls_cert", "tls_key"}


@dataclass(frozen=True)
class ServerConfig:
    """Everything `nca-onnx serve` can be told; the defaults are safe for one machine.

    Sizes are in bytes. `data_roots` maps a root name to a folder that clients may
    name data sets in; nothing outside these folders is readable through the service.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    state_dir: Path = Path("nca-state")
    workers: int = 1
    max_queued_jobs: int = 16
    rpc_threads: int = 32
    shutdown_grace_s: float = 5.0
    token_file: Path | None = None
    token_env: str = DEFAULT_TOKEN_ENV
    insecure_no_auth: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_message_bytes: int = 4 * 2**20
    max_model_bytes: int = 1 * 2**30
    max_dataset_bytes: int = 2 * 2**30
    max_extracted_bytes: int = 4 * 2**30
    max_archive_members: int = 100_000
    max_memory_budget_bytes: int = 4 * 2**30
    data_roots: dict[str, Path] = field(default_factory=dict)

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def uses_tls(self) -> bool:
        return self.tls_cert is not None

    def validate(self) -> None:
        """Raises ParameterError naming the first setting that cannot work."""
        checks = [
            (0 <= self.port <= 65535, f"port must lie in 0..65535, got {self.port}"),
            (self.workers >= 1, f"workers must be at least 1, got {self.workers}"),
            (self.max_queued_jobs >= 1,
             f"max_queued_jobs must be at least 1, got {self.max_queued_jobs}"),
            (self.rpc_threads >= 4, f"rpc_threads must be at least 4, got {self.rpc_threads}"),
            (self.shutdown_grace_s >= 0,
             f"shutdown_grace_s must be at least 0, got {self.shutdown_grace_s}"),
            (self.max_message_bytes >= MIN_MESSAGE_BYTES,
             f"max_message_bytes must be at least {MIN_MESSAGE_BYTES}, "
             f"got {self.max_message_bytes}"),
            (min(self.max_model_bytes, self.max_dataset_bytes, self.max_extracted_bytes,
                 self.max_archive_members, self.max_memory_budget_bytes) >= 1,
             "every limit in [limits] must be at least 1"),
            ((self.tls_cert is None) == (self.tls_key is None),
             "TLS needs both a certificate and its key: set both --tls-cert and --tls-key "
             "(or [tls] cert and key), or neither"),
            (not self.insecure_no_auth or self.is_loopback,
             f"--insecure-no-auth is for local use only, but the server would listen on "
             f"'{self.host}'; listen on 127.0.0.1 or configure tokens"),
        ]
        for passed, message in checks:
            if not passed:
                raise ParameterError(message)
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ParameterError(f"TLS file '{path}' does not exist; check the path")
        for name, root in self.data_roots.items():
            if not name or "/" in name or name != name.strip():
                raise ParameterError(f"data root name '{name}' must be a plain word")
            if not root.is_dir():
                raise ParameterError(f"data root '{name}' = '{root}' is not a folder; "
                                     "create it or fix [data_roots]")


def _from_toml(path: Path) -> dict:
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError as error:
        raise ParameterError(f"config file '{path}' does not exist") from error
    except tomllib.TOMLDecodeError as error:
        raise ParameterError(f"config file '{path}' is not valid TOML: {error}") from error

    base = path.parent
    values: dict = {}
    for section, table in document.items():
        if section == "data_roots":
            values["data_roots"] = {name: base / str(folder) for name, folder in table.items()}
            continue
        if section not in _SECTIONS or not isinstance(table, dict):
            raise ParameterError(f"config file '{path}': unknown table [{section}]; "
                                 f"use {', '.join([*_SECTIONS, 'data_roots'])}")
        for key, value in table.items():
            name = _TLS_KEYS.get(key, key) if section == "tls" else key
            if name not in _SECTIONS[section]:
                raise ParameterError(f"config file '{path}': unknown key '{key}' in "
                                     f"[{section}]")
            if name in _PATH_FIELDS:
                if not isinstance(value, str):
                    raise ParameterError(f"config file '{path}': [{section}] {key} must be "
                                         f"a path in quotes, got {value!r}")
                value = base / value
            values[name] = value
    return values


def _check_types(values: dict) -> None:
    kinds = {f.name: f.type for f in fields(ServerConfig)}
    for name, value in values.items():
        expected = kinds[name]
        number = (int,) if expected == "int" else (int, float)
        if expected in ("int", "float") and (isinstance(value, bool)
                                             or not isinstance(value, number)):
            raise ParameterError(f"setting '{name}' must be a number, got {value!r}")
        if expected == "bool" and not isinstance(value, bool):
            raise ParameterError(f"setting '{name}' must be true or false, got {value!r}")
        if expected == "str" and not isinstance(value, str):
            raise ParameterError(f"setting '{name}' must be a string, got {value!r}")


def load_config(path: Path | None = None, **overrides) -> ServerConfig:
    """Defaults, then the TOML file (paths relative to it), then non-None overrides.

    Raises:
        ParameterError: unreadable file, unknown key, wrong type or an unusable setting.
    """
    values = _from_toml(path) if path is not None else {}
    values.update({key: value for key, value in overrides.items() if value is not None})
    _check_types({k: v for k, v in values.items() if k != "data_roots"})
    config = replace(ServerConfig(), **values)
    config.validate()
    return config
