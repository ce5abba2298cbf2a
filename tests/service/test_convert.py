"""Requests become the same AnalysisConfig the command line builds; rows become Jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nca_onnx.analysis.config import AnalysisConfig
from nca_onnx.errors import ParameterError
from nca_onnx.service._proto import nca_pb2
from nca_onnx.service.convert import (
    config_from_parameters,
    job_message,
    request_from_json,
    request_to_json,
)
from nca_onnx.service.database import JobRow

MODEL, DATA = Path("m.onnx"), Path("images")


def test_unset_fields_take_the_command_line_defaults():
    config = config_from_parameters(nca_pb2.AnalysisParameters(classes=[3]), MODEL, DATA)

    assert config == AnalysisConfig(model=MODEL, data=DATA, classes=(3,))


def test_set_fields_reach_the_config():
    parameters = nca_pb2.AnalysisParameters(
        classes=[1, 2], tau=0.0, min_confidence=0.5, max_images=4, layers=["a*", "b"],
        fault="dead-output", provider="cpu", seed=9, memory_budget_bytes=2**21,
        crosscheck_neurons=2, preset="unit", size=nca_pb2.ImageSize(height=48, width=192),
        mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0], channel_order="BGR", resize="stretch")

    config = config_from_parameters(parameters, MODEL, DATA)

    assert (config.classes, config.layers, config.size) == ((1, 2), ("a*", "b"), (48, 192))
    assert (config.fault, config.seed, config.max_images) == ("dead-output", 9, 4)
    assert (config.mean, config.std, config.resize) == ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0),
                                                        "stretch")


def test_zero_is_a_value_not_an_unset_field():
    config = config_from_parameters(nca_pb2.AnalysisParameters(classes=[0], min_confidence=0.0),
                                    MODEL, DATA)

    assert config.min_confidence == 0.0


def test_out_of_range_values_are_refused_with_the_option_name():
    with pytest.raises(ParameterError, match="--tau must lie in"):
        config_from_parameters(nca_pb2.AnalysisParameters(classes=[0], tau=3.0), MODEL, DATA)


def test_request_round_trips_through_json():
    request = nca_pb2.StartAnalysisRequest(
        model_sha256="a" * 64, parameters=nca_pb2.AnalysisParameters(classes=[5], tau=0.0))
    request.data.server_path.path = "x"

    assert request_from_json(request_to_json(request)) == request


def test_job_message_carries_progress_error_and_eta_only_while_running():
    request = nca_pb2.StartAnalysisRequest(model_sha256="b" * 64)
    row = JobRow(seq=1, id="abc", state="failed", request=request_to_json(request),
                 created=10.5, started=11.0, finished=12.0, attempt=2, cancel_requested=False,
                 layer="L", neurons_done=64, neurons_total=128, error_code="INVALID_ARGUMENT",
                 error_message="fix it", crosscheck_passed=None, outputs={})

    job = job_message(row, eta_s=5.0)

    assert (job.state, job.attempt, job.neurons_done) == (nca_pb2.JOB_STATE_FAILED, 2, 64)
    assert (job.error.code, job.error.message) == ("INVALID_ARGUMENT", "fix it")
    assert not job.HasField("eta_s") and not job.HasField("crosscheck_passed")
    assert job.created.ToNanoseconds() == 10_500_000_000
