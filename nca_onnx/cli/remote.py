"""`nca-onnx remote`: run an analysis on an nca-onnx server and fetch its report."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from nca_onnx.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    fail_cleanly,
    parse_bytes,
    parse_floats,
    parse_size,
)
from nca_onnx.errors import ParameterError, VerificationError

__all__ = ["remote_app"]

remote_app = typer.Typer(help="Run analyses on an nca-onnx server (nca-onnx serve).",
                         no_args_is_help=True)

EXIT_SERVER_UNAVAILABLE = 3
RECONNECT_ATTEMPTS = 30
RECONNECT_WAIT_S = 2.0

Server = Annotated[str, typer.Option(
    "--server", envvar="NCA_ONNX_SERVER", help="host:port of the server.")]
TokenFile = Annotated[Optional[Path], typer.Option(
    "--token-file", envvar="NCA_ONNX_TOKEN_FILE",
    help="File holding the bearer token (or set NCA_ONNX_TOKEN).")]
Tls = Annotated[bool, typer.Option("--tls", help="Use TLS with the system's CA roots.")]
TlsCa = Annotated[Optional[Path], typer.Option(
    "--tls-ca", help="Use TLS, trusting this PEM CA certificate (self-signed servers).")]
TlsServerName = Annotated[Optional[str], typer.Option(
    "--tls-server-name", help="Name to check in the server's certificate.")]
DEFAULT_SERVER = "127.0.0.1:50051"


def _connect(server: str, token_file: Path | None, tls: bool, tls_ca: Path | None,
             tls_server_name: str | None):
    from nca_onnx.service.client import NcaClient

    token = os.environ.get("NCA_ONNX_TOKEN")
    if token_file is not None:
        try:
            lines = [line.split("#", 1)[0].strip() for line in token_file.read_text().splitlines()]
            token = next(line for line in lines if line)
        except (OSError, StopIteration) as error:
            raise ParameterError(f"--token-file '{token_file}' holds no readable token; put "
                                 "the token on a line of its own") from error
    return NcaClient(server, token, tls=tls, tls_ca=tls_ca, server_name=tls_server_name)


def _rpc_errors(command: Callable) -> Callable:
    """A refused or failed call prints its status and text, and exits 2 (3: unreachable)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        import grpc

        try:
            return command(*args, **kwargs)
        except grpc.RpcError as error:
            code = error.code()
            typer.secho(f"error: {code.name}: {error.details()}", err=True, fg="red")
            if code == grpc.StatusCode.UNAVAILABLE:
                typer.secho(f"check that `nca-onnx serve` runs at {kwargs.get('server')}, and "
                            "pass --tls or --tls-ca if it uses TLS", err=True, fg="red")
                raise typer.Exit(EXIT_SERVER_UNAVAILABLE) from None
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def _parameters(classes, tau, min_confidence, max_images, layers, fault, provider, seed,
                memory_budget, preset, size, mean, std, channel_order, resize, layout, output,
                crosscheck):
    from nca_onnx.service._proto import nca_pb2

    parameters = nca_pb2.AnalysisParameters(classes=classes, layers=layers or [])
    optional = {"tau": tau, "min_confidence": min_confidence, "max_images": max_images,
                "fault": fault, "provider": provider, "seed": seed,
                "memory_budget_bytes": parse_bytes(memory_budget) if memory_budget else None,
                "preset": preset, "channel_order": channel_order, "resize": resize,
                "layout": layout, "output": output, "crosscheck_neurons": crosscheck}
    for name, value in optional.items():
        if value is not None:
            setattr(parameters, name, value)
    if size is not None:
        height, width = parse_size(size)
        parameters.size.height, parameters.size.width = height, width
    parameters.mean.extend(parse_floats(mean, "--mean") or ())
    parameters.std.extend(parse_floats(std, "--std") or ())
    return parameters


def _watch_until_done(client, job_id: str, quiet: bool):
    """The job's final message, with a progress bar; reconnects while the server restarts."""
    import grpc
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from nca_onnx.service._proto import nca_pb2

    terminal = {nca_pb2.JOB_STATE_SUCCEEDED, nca_pb2.JOB_STATE_FAILED,
                nca_pb2.JOB_STATE_CANCELLED}
    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("neurons  ETA {task.fields[eta]}"))
    with Progress(*columns, console=Console(stderr=True, quiet=quiet)) as bar:
        task = bar.add_task("queued", total=None, eta="-")
        for _ in range(RECONNECT_ATTEMPTS):
            try:
                for job in client.watch(job_id):
                    state = nca_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
                    eta = f"{job.eta_s:.0f} s" if job.HasField("eta_s") else "-"
                    bar.update(task, completed=job.neurons_done,
                               total=job.neurons_total or None, eta=eta,
                               description=(job.layer or state)[:28])
                    if job.state in terminal:
                        return job
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
            bar.update(task, description="reconnecting")
            time.sleep(RECONNECT_WAIT_S)
    return client.get(job_id)


def _finish(client, job, out: Path, quiet: bool) -> None:
    from nca_onnx.service._proto import nca_pb2

    if job.state == nca_pb2.JOB_STATE_FAILED:
        typer.secho(f"error: job {job.id} failed: {job.error.code}: {job.error.message}",
                    err=True, fg="red")
        raise typer.Exit(EXIT_BAD_INPUT)
    if job.state != nca_pb2.JOB_STATE_SUCCEEDED:
        typer.secho(f"job {job.id} is {nca_pb2.JobState.Name(job.state)}; no report",
                    err=True, fg="yellow")
        raise typer.Exit(1)
    written = client.download_all(job.id, out)
    if not quiet:
        typer.echo(f"job {job.id} succeeded: {len(written)} files in {out}")
    if not job.crosscheck_passed:
        raise VerificationError("the engine differs from the reference path; report.json "
                                "records which neurons; rerun with --provider cpu to compare")


@remote_app.command("analyze")
@fail_cleanly
@_rpc_errors
def analyze(
    model: Annotated[Path, typer.Argument(help="ONNX classifier to analyse (uploaded).")],
    classes: Annotated[list[int], typer.Option("--class", "-c", help="Ground-truth class "
                                               "index; repeatable.")],
    data: Annotated[Optional[Path], typer.Option(
        help="Local folder of images, .tar/.zip of one, or .npy/.npz (uploaded).")] = None,
    server_data: Annotated[Optional[str], typer.Option(
        help="A data set on the server instead: [ROOT:]PATH inside a data root.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for report.json and the tables.")]
    = Path("results"),
    server: Server = DEFAULT_SERVER,
    token_file: TokenFile = None,
    tls: Tls = False,
    tls_ca: TlsCa = None,
    tls_server_name: TlsServerName = None,
    detach: Annotated[bool, typer.Option(
        "--detach", help="Print the job id and return; fetch later with `remote report`.")]
    = False,
    tau: Annotated[Optional[float], typer.Option(help="Criticality threshold.")] = None,
    min_confidence: Annotated[Optional[float], typer.Option(
        help="Keep images predicted correctly above this confidence.")] = None,
    max_images: Annotated[Optional[int], typer.Option(help="Images per class.")] = None,
    layers: Annotated[Optional[list[str]], typer.Option(
        "--layers", "-l", help="Glob on ONNX node names; repeatable.")] = None,
    fault: Annotated[Optional[str], typer.Option(help="zero-weights or dead-output.")] = None,
    provider: Annotated[Optional[str], typer.Option(help="Server-side provider.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Cross-check sample seed.")] = None,
    memory_budget: Annotated[Optional[str], typer.Option(help="e.g. 512MiB.")] = None,
    preset: Annotated[Optional[str], typer.Option(help="Preprocessing preset.")] = None,
    size: Annotated[Optional[str], typer.Option(help="HEIGHTxWIDTH.")] = None,
    mean: Annotated[Optional[str], typer.Option(help="Per-channel mean on 0..255.")] = None,
    std: Annotated[Optional[str], typer.Option(help="Per-channel std on 0..255.")] = None,
    channel_order: Annotated[Optional[str], typer.Option(help="RGB or BGR.")] = None,
    resize: Annotated[Optional[str], typer.Option(help="crop or stretch.")] = None,
    layout: Annotated[Optional[str], typer.Option(help="Force NCHW or NHWC.")] = None,
    output: Annotated[Optional[str], typer.Option(help="Class-score output name.")] = None,
    crosscheck: Annotated[Optional[int], typer.Option(
        help="Neurons recomputed by the reference path.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Upload the model and data, run `analyze` on the server, and download the report.

    Unset options take the same defaults as `nca-onnx analyze`. The report names the
    model and data by the paths given here.
    """
    from nca_onnx.service._proto import nca_pb2

    if (data is None) == (server_data is None):
        raise ParameterError("pass exactly one of --data (a local path, uploaded) and "
                             "--server-data (a data set on the server)")
    request = nca_pb2.StartAnalysisRequest(
        model_label=str(model),
        parameters=_parameters(classes, tau, min_confidence, max_images, layers, fault,
                               provider, seed, memory_budget, preset, size, mean, std,
                               channel_order, resize, layout, output, crosscheck))
    with _connect(server, token_file, tls, tls_ca, tls_server_name) as client:
        request.model_sha256 = client.upload_model(model).sha256
        if data is not None:
            request.data.dataset_sha256 = client.upload_dataset(data).sha256
            request.data_label = str(data)
        else:
            root, sep, path = server_data.partition(":")
            request.data.server_path.root, request.data.server_path.path = \
                (root, path) if sep else ("", root)
        job = client.start(request)
        typer.echo(f"job {job.id} queued on {server}", err=True)
        if detach:
            typer.echo(job.id)
            return
        try:
            job = _watch_until_done(client, job.id, quiet)
        except KeyboardInterrupt:
            typer.secho(f"job {job.id} keeps running on the server: `nca-onnx remote status "
                        f"{job.id}`, `remote report {job.id}` or `remote cancel {job.id}`",
                        err=True, fg="yellow")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        _finish(client, job, out, quiet)


def _describe(job) -> str:
    from nca_onnx.service._proto import nca_pb2

    state = nca_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    line = f"{job.id}  {state:<9}  {job.neurons_done}/{job.neurons_total} neurons"
    if job.HasField("eta_s"):
        line += f"  ETA {job.eta_s:.0f} s"
    if job.error.code:
        line += f"  {job.error.code}: {job.error.message}"
    return f"{line}  {job.request.model_label or job.request.model_sha256[:12]}"


@remote_app.command("status")
@fail_cleanly
@_rpc_errors
def status(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    server: Server = DEFAULT_SERVER, token_file: TokenFile = None, tls: Tls = False,
    tls_ca: TlsCa = None, tls_server_name: TlsServerName = None,
    as_json: Annotated[bool, typer.Option("--json", help="The Job message as JSON.")] = False,
) -> None:
    """Show one job: state, progress, time left or error."""
    from google.protobuf import json_format

    with _connect(server, token_file, tls, tls_ca, tls_server_name) as client:
        job = client.get(job_id)
    typer.echo(json_format.MessageToJson(job) if as_json else _describe(job))


@remote_app.command("list")
@fail_cleanly
@_rpc_errors
def list_jobs(
    server: Server = DEFAULT_SERVER, token_file: TokenFile = None, tls: Tls = False,
    tls_ca: TlsCa = None, tls_server_name: TlsServerName = None,
    limit: Annotated[int, typer.Option(help="Newest jobs to show.")] = 20,
) -> None:
    """List the newest jobs."""
    with _connect(server, token_file, tls, tls_ca, tls_server_name) as client:
        jobs = client.list(page_size=limit).jobs
    for job in jobs:
        typer.echo(_describe(job))


@remote_app.command("cancel")
@fail_cleanly
@_rpc_errors
def cancel(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    server: Server = DEFAULT_SERVER, token_file: TokenFile = None, tls: Tls = False,
    tls_ca: TlsCa = None, tls_server_name: TlsServerName = None,
) -> None:
    """Cancel a queued job, or a running one after its current work unit."""
    with _connect(server, token_file, tls, tls_ca, tls_server_name) as client:
        typer.echo(_describe(client.cancel(job_id)))


@remote_app.command("report")
@fail_cleanly
@_rpc_errors
def report(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    out: Annotated[Path, typer.Option(help="Folder for the outputs.")] = Path("results"),
    server: Server = DEFAULT_SERVER, token_file: TokenFile = None, tls: Tls = False,
    tls_ca: TlsCa = None, tls_server_name: TlsServerName = None,
) -> None:
    """Download report.json, neurons.csv and layers.csv of a finished job."""
    with _connect(server, token_file, tls, tls_ca, tls_server_name) as client:
        _finish(client, client.get(job_id), out, quiet=False)
