"""The service's edge: requests are parsed and NcaErrors become gRPC status codes, here only.

Handlers are built from the service descriptors rather than the generated
`add_*Servicer_to_server`, so that a request whose bytes do not parse is answered
with INVALID_ARGUMENT (gRPC's own deserialiser would answer INTERNAL).
"""

from __future__ import annotations

import functools
import logging
from typing import Callable, Iterator

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from nca_onnx.errors import (
    AccessError,
    CapacityError,
    DataError,
    MissingExtraError,
    ModelError,
    NcaError,
    NotFoundError,
    ParameterError,
    RuntimeProviderError,
    StateError,
    VerificationError,
)

__all__ = ["service_handler", "status_for"]

logger = logging.getLogger(__name__)

# Most specific first: the first class the error is an instance of decides.
_STATUS_BY_ERROR: tuple[tuple[type[NcaError], grpc.StatusCode], ...] = (
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (AccessError, grpc.StatusCode.PERMISSION_DENIED),
    (CapacityError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StateError, grpc.StatusCode.FAILED_PRECONDITION),
    (RuntimeProviderError, grpc.StatusCode.FAILED_PRECONDITION),
    (MissingExtraError, grpc.StatusCode.FAILED_PRECONDITION),
    (VerificationError, grpc.StatusCode.FAILED_PRECONDITION),
    (ParameterError, grpc.StatusCode.INVALID_ARGUMENT),
    (DataError, grpc.StatusCode.INVALID_ARGUMENT),
    (ModelError, grpc.StatusCode.INVALID_ARGUMENT),
    (NcaError, grpc.StatusCode.INVALID_ARGUMENT),
)
_INTERNAL_MESSAGE = "internal error; the server log has the details"


class _Malformed:
    """Stands for a request whose bytes did not parse, so the handler can refuse it."""

    def __init__(self, type_name: str, error: Exception) -> None:
        self.message = (f"the request is not a valid {type_name} message ({error}); "
                        "serialise it from protos/nca/v1/nca.proto")


def status_for(error: BaseException) -> grpc.StatusCode:
    """The gRPC status code an error maps to; INTERNAL for anything not an NcaError."""
    for kind, code in _STATUS_BY_ERROR:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


def _lenient(message_class) -> Callable[[bytes], object]:
    def parse(data: bytes):
        try:
            return message_class.FromString(data)
        except (DecodeError, RuntimeError, ValueError) as error:
            return _Malformed(message_class.DESCRIPTOR.full_name, error)

    return parse


def _refuse(context: grpc.ServicerContext, error: BaseException, method: str) -> None:
    code = status_for(error)
    if code == grpc.StatusCode.INTERNAL:
        logger.error("%s failed", method, exc_info=error)
        context.abort(code, _INTERNAL_MESSAGE)
    logger.debug("%s refused with %s: %s", method, code.name, error)
    context.abort(code, str(error))


def _checked(requests: Iterator) -> Iterator:
    for request in requests:
        if isinstance(request, _Malformed):
            raise ParameterError(request.message)
        yield request


def _unary_request(behaviour, name: str):
    @functools.wraps(behaviour)
    def call(request, context):
        try:
            if isinstance(request, _Malformed):
                raise ParameterError(request.message)
            return behaviour(request, context)
        except Exception as error:  # every failure leaves through _refuse, mapped once
            _refuse(context, error, name)

    return call


def _stream_request(behaviour, name: str):
    @functools.wraps(behaviour)
    def call(requests, context):
        try:
            return behaviour(_checked(requests), context)
        except grpc.RpcError:
            raise  # reading the stream failed (client gone, message too large): gRPC's own
        except Exception as error:  # mapped once, as above
            _refuse(context, error, name)

    return call


def _stream_response(behaviour, name: str):
    @functools.wraps(behaviour)
    def call(request, context):
        try:
            if isinstance(request, _Malformed):
                raise ParameterError(request.message)
            yield from behaviour(request, context)
        except Exception as error:  # mapped once, as above
            _refuse(context, error, name)

    return call


def service_handler(service: ServiceDescriptor, servicer: object) -> grpc.GenericRpcHandler:
    """A gRPC handler for every method of `service`, calling the servicer's same-named method.

    The servicer raises NcaError subclasses and never calls `context.abort` itself.
    Client-streaming methods receive an iterator of parsed messages.
    """
    handlers = {}
    for method in service.methods:
        behaviour = getattr(servicer, method.name)
        name = f"{service.full_name}/{method.name}"
        parse = _lenient(message_factory.GetMessageClass(method.input_type))
        serialise = message_factory.GetMessageClass(method.output_type).SerializeToString
        if method.client_streaming and method.server_streaming:
            raise NotImplementedError(f"{name}: bidirectional streams are not used in nca.v1")
        if method.client_streaming:
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(
                _stream_request(behaviour, name), parse, serialise)
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _stream_response(behaviour, name), parse, serialise)
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary_request(behaviour, name), parse, serialise)
    return grpc.method_handlers_generic_handler(service.full_name, handlers)
