"""Run one job: check its inputs, run the core analysis with units in the database, and
store the same report and tables `nca-onnx analyze` writes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nca_onnx.errors import ParameterError
from nca_onnx.service._proto import nca_pb2
from nca_onnx.service.blobs import BlobStore
from nca_onnx.service.convert import check_label, config_from_parameters
from nca_onnx.service.data_roots import resolve_server_path
from nca_onnx.service.database import Database
from nca_onnx.service.settings import ServerConfig
from nca_onnx.service.unit_store import SqliteUnitStore

__all__ = ["JobOutcome", "PreparedJob", "UnitProgress", "caller_message", "prepare",
           "run_prepared"]

logger = logging.getLogger(__name__)

OUTPUT_FILES = {
    nca_pb2.REPORT_FILE_JSON: "report.json",
    nca_pb2.REPORT_FILE_NEURONS_CSV: "neurons.csv",
    nca_pb2.REPORT_FILE_LAYERS_CSV: "layers.csv",
    nca_pb2.REPORT_FILE_STABILITY_CSV: "stability.csv",
}
# (unit, neurons done, neurons total, whether the unit came from the database)
UnitProgress = Callable[[object, int, int, bool], None]


@dataclass(frozen=True)
class PreparedJob:
    """A request checked against the server: its configuration and report labels."""

    config: object
    model_label: str
    data_label: str


@dataclass(frozen=True)
class JobOutcome:
    """What a finished job leaves: output digests by file name, and the cross-check."""

    outputs: dict[str, str]
    crosscheck_passed: bool
    units_reused: int


def _data_path(source: nca_pb2.DataSource, blobs: BlobStore,
               settings: ServerConfig) -> tuple[Path, str]:
    kind = source.WhichOneof("source")
    if kind == "dataset_sha256":
        return blobs.dataset_input(source.dataset_sha256), f"sha256:{source.dataset_sha256}"
    if kind == "server_path":
        where = source.server_path
        path = resolve_server_path(settings.data_roots, where.root, where.path)
        return path, f"{where.root}:{where.path}" if where.root else where.path
    raise ParameterError("the request names no data: set data.dataset_sha256 (after "
                         "UploadDataset) or data.server_path")


def prepare(request: nca_pb2.StartAnalysisRequest, blobs: BlobStore,
            settings: ServerConfig) -> PreparedJob:
    """Check a request the way the job will use it; cheap (no model is loaded).

    Raises:
        ParameterError, NotFoundError, AccessError: what the request names is unusable.
        RuntimeProviderError: the requested execution provider is not installed here.
    """
    from nca_onnx.engine.session import resolve_providers

    model = blobs.require_model(request.model_sha256)
    data, default_data_label = _data_path(request.data, blobs, settings)
    config = config_from_parameters(request.parameters, model, data)
    if config.memory_budget_bytes > settings.max_memory_budget_bytes:
        raise ParameterError(f"memory_budget_bytes {config.memory_budget_bytes} exceeds this "
                             f"server's limit of {settings.max_memory_budget_bytes}; ask for less")
    resolve_providers(config.provider)
    model_label = check_label(request.model_label, "model_label") or \
        f"sha256:{request.model_sha256}"
    data_label = check_label(request.data_label, "data_label") or default_data_label
    return PreparedJob(config, model_label, data_label)


def caller_message(error: Exception, job: PreparedJob) -> str:
    """The error's text with the state folder's paths replaced by the caller's labels."""
    text = str(error)
    for path, label in ((job.config.model, job.model_label), (job.config.data, job.data_label)):
        text = text.replace(str(path), label)
    return text


def _relabel(report: dict, job: PreparedJob) -> dict:
    """Name the model and data as the caller does, not by their place in the state folder."""
    data = Path(job.config.data)
    report["model"]["path"] = job.model_label
    report["parameters"]["model"] = job.model_label
    report["parameters"]["data"] = job.data_label
    for image in report["images"]:
        path = Path(image["path"])
        if path == data:
            image["path"] = job.data_label
        elif path.is_relative_to(data):
            image["path"] = str(Path(job.data_label) / path.relative_to(data))
    return report


def _write_outputs(result, job: PreparedJob, blobs: BlobStore) -> dict[str, str]:
    """The files `nca-onnx analyze` writes (report.outputs.write_outputs), as blobs."""
    from nca_onnx.evidence import seal, with_standards
    from nca_onnx.report.evidence import build_report
    from nca_onnx.report.outputs import write_outputs

    # Relabelled before sealing, so that the report's digest covers the names it shows.
    report = seal(with_standards(_relabel(build_report(result), job)))
    with blobs.scratch() as folder:
        write_outputs(result, report, folder)
        return {name: blobs.put_output(folder / name) for name in OUTPUT_FILES.values()
                if (folder / name).is_file()}


def run_prepared(job_id: str, attempt: int, job: PreparedJob, database: Database,
                 blobs: BlobStore, progress: UnitProgress) -> JobOutcome:
    """Run the analysis, resuming from the job's finished units, and store its outputs.

    Cost: the whole analysis. `progress` is called after every unit and may raise to
    stop the job; finished units stay in the database either way.

    Raises:
        NcaError: bad model, data or parameters found while running.
    """
    from nca_onnx.analysis.run import run_analysis

    stores: list[SqliteUnitStore] = []

    def open_store(fingerprint: str) -> SqliteUnitStore:
        store = SqliteUnitStore(database, job_id, fingerprint, attempt)
        if store.finished_before:
            logger.info("job %s resumes with %d finished units", job_id, store.finished_before)
        stores.append(store)
        return store

    def after_unit(unit, done: int, total: int) -> None:
        progress(unit, done, total, stores[-1].last_was_reused if stores else False)

    result = run_analysis(job.config, progress=after_unit, store_factory=open_store)
    outputs = _write_outputs(result, job, blobs)
    reused = stores[-1].reused if stores else 0
    return JobOutcome(outputs, bool(result.crosscheck.passed), reused)
