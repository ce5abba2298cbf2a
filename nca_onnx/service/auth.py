"""Bearer-token authentication: load the tokens, and check every call's metadata."""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path

import grpc

from nca_onnx.errors import ParameterError

__all__ = ["MIN_TOKEN_CHARS", "TokenInterceptor", "load_tokens"]

logger = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
# Load balancers probe health without credentials; everything else needs a token.
_OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _parse(text: str) -> list[str]:
    """One token per line (or comma-separated); blank lines and # comments are skipped."""
    tokens = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        tokens.extend(part.strip() for part in line.split(",") if part.strip())
    return tokens


def load_tokens(token_file: Path | None, token_env: str) -> frozenset[str]:
    """The accepted tokens: the file's and the environment variable's together.

    Raises:
        ParameterError: the file is unreadable or a token is shorter than MIN_TOKEN_CHARS.
    """
    tokens = []
    if token_file is not None:
        try:
            tokens += _parse(token_file.read_text())
        except OSError as error:
            raise ParameterError(f"token file '{token_file}' cannot be read "
                                 f"({error.strerror}); check the path and its permissions"
                                 ) from error
    tokens += _parse(os.environ.get(token_env, ""))
    short = [token for token in tokens if len(token) < MIN_TOKEN_CHARS]
    if short:
        raise ParameterError(f"a token has {len(short[0])} characters; use at least "
                             f"{MIN_TOKEN_CHARS}, e.g. from {_HINT}")
    return frozenset(tokens)


def _denied(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind as `handler` that only refuses the call."""

    def refuse(request_or_iterator, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses, with UNAUTHENTICATED, calls without `authorization: Bearer <token>`."""

    def __init__(self, tokens: frozenset[str]) -> None:
        self._tokens = [token.encode() for token in tokens]

    def _accepts(self, presented: str) -> bool:
        candidate = presented.encode()
        # Compare with every token so the time taken does not tell which one is close.
        matches = [hmac.compare_digest(candidate, token) for token in self._tokens]
        return any(matches)

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(_OPEN_PREFIXES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        value = metadata.get("authorization", "")
        if not isinstance(value, str) or not value:
            return _denied(handler, "no credentials: send the metadata "
                                    "'authorization: Bearer <token>' (remote: --token-file)")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not self._accepts(token.strip()):
            logger.warning("refused %s: token not accepted", handler_call_details.method)
            return _denied(handler, "the token is not accepted: check it against the "
                                    "server's token file or environment variable")
        return handler
