"""Every NcaError maps to one gRPC status code at the edge."""

from __future__ import annotations

import grpc
import pytest

from nca_onnx import errors
from nca_onnx.service.edge import status_for


@pytest.mark.parametrize(("error", "code"), [
    (errors.ParameterError("x"), grpc.StatusCode.INVALID_ARGUMENT),
    (errors.DataError("x"), grpc.StatusCode.INVALID_ARGUMENT),
    (errors.ModelError("x"), grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UnsupportedOperatorError("x"), grpc.StatusCode.INVALID_ARGUMENT),
    (errors.RuntimeProviderError("x"), grpc.StatusCode.FAILED_PRECONDITION),
    (errors.StateError("x"), grpc.StatusCode.FAILED_PRECONDITION),
    (errors.MissingExtraError("x"), grpc.StatusCode.FAILED_PRECONDITION),
    (errors.NotFoundError("x"), grpc.StatusCode.NOT_FOUND),
    (errors.AccessError("x"), grpc.StatusCode.PERMISSION_DENIED),
    (errors.CapacityError("x"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ValueError("a bug"), grpc.StatusCode.INTERNAL),
])
def test_maps_each_error_to_its_status(error, code):
    assert status_for(error) == code


def test_every_error_class_of_the_tree_has_a_status_other_than_internal():
    tree = [getattr(errors, name) for name in errors.__all__]

    assert all(status_for(kind("x")) != grpc.StatusCode.INTERNAL for kind in tree)
