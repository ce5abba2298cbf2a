"""Read a report or manifest from disk: parse, check its seal, check its schema."""

from __future__ import annotations

import json
from pathlib import Path

from nca_onnx.errors import EvidenceError

__all__ = ["read_document", "read_sealed_document"]


def read_document(path: Path, what: str = "report") -> dict:
    """The parsed JSON object in `path`, unchecked.

    Raises:
        EvidenceError: the file is missing, is not JSON, or holds no JSON object.
    """
    if not path.is_file():
        raise EvidenceError(f"{what} '{path}' does not exist; pass the path of a {what} file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EvidenceError(
            f"{what} '{path}' is not valid JSON ({error}); it is truncated or not a {what}"
        ) from error
    if not isinstance(document, dict):
        raise EvidenceError(f"{what} '{path}' holds a JSON {type(document).__name__}, "
                            "not an object; it is not an nca-onnx document")
    return document


def read_sealed_document(path: Path, what: str = "report") -> dict:
    """Read, check the digest, then check the schema: a document safe to act on.

    The digest is checked first so that a changed file is reported as changed
    rather than as malformed.

    Raises:
        EvidenceError: unreadable, unsealed, or not matching its schema.
        VerificationError: the digest does not match the content.
    """
    from nca_onnx.evidence.digest import check_seal
    from nca_onnx.evidence.schema import validate_document

    document = read_document(path, what)
    check_seal(document, str(path))
    validate_document(document, str(path))
    return document
