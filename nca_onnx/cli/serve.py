"""`nca-onnx serve`: run the analysis service (gRPC) from a TOML file and flags."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from nca_onnx.cli.common import fail_cleanly

__all__ = ["serve"]


def _data_roots(values: list[str] | None) -> dict[str, Path] | None:
    if not values:
        return None
    roots = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep or not name or not folder:
            raise typer.BadParameter(f"'{value}' is not NAME=FOLDER, e.g. demo=/srv/nca/data",
                                     param_hint="--data-root")
        roots[name] = Path(folder)
    return roots


def _show_job_events() -> None:
    """One INFO line per job event unless the user asked for errors only."""
    root = logging.getLogger().getEffectiveLevel()
    if root < logging.ERROR:
        logging.getLogger("nca_onnx.service").setLevel(min(root, logging.INFO))


@fail_cleanly
def serve(
    config: Annotated[Optional[Path], typer.Option(
        help="TOML settings file (see server/nca-onnx.example.toml); flags override it.")]
    = None,
    host: Annotated[Optional[str], typer.Option(
        help="Address to listen on. Default 127.0.0.1 (this machine only).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on. Default 50051.")]
    = None,
    state_dir: Annotated[Optional[Path], typer.Option(
        help="Folder for the job database, models, data sets and reports.")] = None,
    data_root: Annotated[Optional[list[str]], typer.Option(
        help="NAME=FOLDER that clients may name data sets in; repeatable.")] = None,
    token_file: Annotated[Optional[Path], typer.Option(
        help="File with the accepted bearer tokens, one per line.")] = None,
    token_env: Annotated[Optional[str], typer.Option(
        help="Environment variable with tokens. Default NCA_ONNX_TOKENS.")] = None,
    insecure_no_auth: Annotated[bool, typer.Option(
        "--insecure-no-auth", help="Accept calls without a token (loopback only).")] = False,
    tls_cert: Annotated[Optional[Path], typer.Option(help="PEM certificate chain.")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="PEM private key.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="Analyses run at the same time. Default 1.")] = None,
    max_queued_jobs: Annotated[Optional[int], typer.Option(
        help="Jobs that may wait; more are refused (RESOURCE_EXHAUSTED). Default 16.")]
    = None,
) -> None:
    """Serve analyses over gRPC: uploads, jobs that survive restarts, streamed progress."""
    from nca_onnx.service.server import serve as run
    from nca_onnx.service.settings import load_config

    settings = load_config(
        config, host=host, port=port, state_dir=state_dir, data_roots=_data_roots(data_root),
        token_file=token_file, token_env=token_env, insecure_no_auth=insecure_no_auth or None,
        tls_cert=tls_cert, tls_key=tls_key, workers=workers, max_queued_jobs=max_queued_jobs)
    _show_job_events()
    run(settings)
