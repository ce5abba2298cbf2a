"""Server settings: safe defaults, a TOML file, flags on top, and clear refusals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from nca_onnx.errors import ParameterError
from nca_onnx.service.settings import ServerConfig, load_config


def test_defaults_listen_on_loopback_only():
    config = load_config()

    assert config.host == "127.0.0.1" and config.is_loopback
    assert not config.insecure_no_auth and not config.uses_tls


def test_reads_the_toml_file_with_paths_relative_to_it(tmp_path):
    (tmp_path / "data").mkdir()
    path = tmp_path / "server.toml"
    path.write_text('[server]\nport = 6000\nworkers = 3\nstate_dir = "state"\n'
                    '[auth]\ntoken_file = "tokens"\n[limits]\nmax_model_bytes = 1_000_000\n'
                    '[data_roots]\nmain = "data"\n')

    config = load_config(path)

    assert (config.port, config.workers, config.max_model_bytes) == (6000, 3, 1_000_000)
    assert config.state_dir == tmp_path / "state"
    assert config.token_file == tmp_path / "tokens"
    assert config.data_roots == {"main": tmp_path / "data"}


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text("[server]\nport = 6000\n")

    assert load_config(path, port=7000, host=None).port == 7000


@pytest.mark.parametrize(("text", "match"), [
    ("[server]\nprot = 1\n", "unknown key 'prot'"),
    ("[sever]\nport = 1\n", "unknown table"),
    ("[server]\nport = 'x'\n", "must be a number"),
    ("[server]\nworkers = 0\n", "workers must be at least 1"),
    ("[server]\nport = \n", "not valid TOML"),
    ("[tls]\ncert = 'missing.pem'\n", "both a certificate and its key"),
])
def test_refuses_settings_that_cannot_work(tmp_path, text, match):
    path = tmp_path / "server.toml"
    path.write_text(text)

    with pytest.raises(ParameterError, match=match):
        load_config(path)


def test_no_auth_is_refused_off_loopback():
    with pytest.raises(ParameterError, match="for local use only"):
        load_config(host="0.0.0.0", insecure_no_auth=True)


def test_a_data_root_must_be_a_folder(tmp_path):
    with pytest.raises(ParameterError, match="is not a folder"):
        load_config(data_roots={"main": tmp_path / "missing"})


def test_the_example_config_states_the_defaults():
    example = Path(__file__).resolve().parents[2] / "server" / "nca-onnx.example.toml"

    config = load_config(example)

    assert config == replace(ServerConfig(), state_dir=example.parent / "nca-state")


def test_loopback_detection():
    assert ServerConfig(host="::1").is_loopback
    assert ServerConfig(host="localhost").is_loopback
    assert not ServerConfig(host="0.0.0.0").is_loopback
    assert not ServerConfig(host="example.org").is_loopback
