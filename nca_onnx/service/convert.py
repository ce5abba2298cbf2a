"""Translate between the nca.v1 messages and the core's AnalysisConfig and the job rows."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from nca_onnx.errors import ParameterError
from nca_onnx.service._proto import nca_pb2
from nca_onnx.service.database import JobRow

__all__ = ["STATE_NAMES", "check_label", "config_from_parameters", "job_message",
           "request_from_json", "request_to_json", "unmirrored_fields"]

MAX_LABEL_CHARS = 1024
# AnalysisConfig fields the request carries elsewhere (model, data) or never (extra).
_NOT_PARAMETERS = {"model", "data"}
STATE_NAMES = {
    "queued": nca_pb2.JOB_STATE_QUEUED,
    "running": nca_pb2.JOB_STATE_RUNNING,
    "succeeded": nca_pb2.JOB_STATE_SUCCEEDED,
    "failed": nca_pb2.JOB_STATE_FAILED,
    "cancelled": nca_pb2.JOB_STATE_CANCELLED,
}


def unmirrored_fields() -> tuple[set[str], set[str]]:
    """(AnalysisConfig fields missing from AnalysisParameters, and the reverse)."""
    from nca_onnx.analysis.config import AnalysisConfig

    config_names = {f.name for f in fields(AnalysisConfig)} - _NOT_PARAMETERS
    message_names = set(nca_pb2.AnalysisParameters.DESCRIPTOR.fields_by_name)
    return config_names - message_names, message_names - config_names


def _set_values(parameters: nca_pb2.AnalysisParameters) -> dict:
    """The fields the caller set; unset ones keep AnalysisConfig's defaults."""
    values = {}
    for descriptor in parameters.DESCRIPTOR.fields:
        name = descriptor.name
        value = getattr(parameters, name)
        if descriptor.is_repeated:
            if len(value):
                values[name] = tuple(value)
        elif parameters.HasField(name):
            if descriptor.message_type is not None:
                value = tuple(getattr(value, part.name) for part in value.DESCRIPTOR.fields)
            values[name] = value
    return values


def config_from_parameters(parameters: nca_pb2.AnalysisParameters, model: Path, data: Path):
    """An AnalysisConfig with the request's parameters, validated.

    Raises:
        ParameterError: a value out of range (AnalysisConfig.validate).
    """
    from nca_onnx.analysis.config import AnalysisConfig

    values = _set_values(parameters)
    # A repeated field left empty is unset, but a field without a default (classes)
    # must still be passed, empty, so that validate() can name it.
    required = {f.name for f in fields(AnalysisConfig)
                if f.default is MISSING and f.default_factory is MISSING} - _NOT_PARAMETERS
    config = AnalysisConfig(model=model, data=data,
                            **{name: () for name in required - values.keys()}, **values)
    config.validate()
    return config


def check_label(label: str, field: str) -> str:
    """A report label: printable and at most MAX_LABEL_CHARS long."""
    if len(label) > MAX_LABEL_CHARS or not label.isprintable():
        raise ParameterError(f"{field} must be printable text of at most {MAX_LABEL_CHARS} "
                             "characters")
    return label


def request_to_json(request: nca_pb2.StartAnalysisRequest) -> str:
    return json_format.MessageToJson(request, indent=None, sort_keys=True)


def request_from_json(text: str) -> nca_pb2.StartAnalysisRequest:
    return json_format.Parse(text, nca_pb2.StartAnalysisRequest())


def _timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def job_message(row: JobRow, eta_s: float | None = None) -> nca_pb2.Job:
    """The Job message for a stored job and, while it runs, its estimated time left."""
    job = nca_pb2.Job(id=row.id, state=STATE_NAMES[row.state],
                      request=request_from_json(row.request), layer=row.layer,
                      neurons_done=row.neurons_done, neurons_total=row.neurons_total,
                      attempt=row.attempt)
    for name, seconds in (("created", row.created), ("started", row.started),
                          ("finished", row.finished)):
        stamp = _timestamp(seconds)
        if stamp is not None:
            getattr(job, name).CopyFrom(stamp)
    if eta_s is not None and row.state == "running":
        job.eta_s = eta_s
    if row.error_code:
        job.error.code = row.error_code
        job.error.message = row.error_message or ""
    if row.crosscheck_passed is not None:
        job.crosscheck_passed = row.crosscheck_passed
    return job
