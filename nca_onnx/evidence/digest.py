"""The canonical form of an evidence document and the SHA-256 digest that seals it."""

from __future__ import annotations

import hashlib
import json

from nca_onnx.errors import EvidenceError, VerificationError

__all__ = ["CANONICAL_FORM", "INTEGRITY_KEY", "canonical_bytes", "check_seal", "digest", "seal"]

INTEGRITY_KEY = "integrity"
CANONICAL_FORM = (
    "the document without its 'integrity' key, as UTF-8 JSON with keys sorted, no whitespace "
    "(separators ',' and ':'), non-ASCII characters escaped as \\uXXXX, and numbers as "
    "Python's json module writes them (shortest round-trip repr of a float)"
)


def canonical_bytes(document: dict) -> bytes:
    """The bytes the digest is taken over (see CANONICAL_FORM); the input is not changed.

    Raises:
        EvidenceError: the document holds NaN or an infinity, which JSON cannot carry.
    """
    body = {key: value for key, value in document.items() if key != INTEGRITY_KEY}
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=False)
    except ValueError as error:
        raise EvidenceError(
            f"the document holds a value JSON cannot carry ({error}); this is a bug in the "
            "tool that wrote it, please report it with the command you ran"
        ) from error
    return text.encode("utf-8")


def digest(document: dict) -> str:
    """SHA-256 (hex) of the canonical form of `document`."""
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def seal(document: dict) -> dict:
    """A copy of `document` with its `integrity` section: algorithm, canonical form, digest.

    Call it last: any key added after sealing breaks the digest. The input is not
    changed; an existing `integrity` section is replaced.
    """
    sealed = {key: value for key, value in document.items() if key != INTEGRITY_KEY}
    sealed[INTEGRITY_KEY] = {
        "algorithm": "sha256",
        "canonical_form": CANONICAL_FORM,
        "digest": digest(sealed),
    }
    return sealed


def check_seal(document: dict, source: str) -> str:
    """The recorded digest, after checking that it matches the document.

    Raises:
        EvidenceError: the document carries no integrity section (it cannot be checked).
        VerificationError: the recomputed digest differs from the recorded one.
    """
    integrity = document.get(INTEGRITY_KEY)
    if not isinstance(integrity, dict) or not isinstance(integrity.get("digest"), str):
        raise EvidenceError(
            f"'{source}' carries no integrity digest, so it cannot be verified; "
            "write it again with this version of nca-onnx"
        )
    if integrity.get("algorithm") != "sha256":
        raise EvidenceError(
            f"'{source}' is sealed with '{integrity.get('algorithm')}', which this version "
            "does not know; verify it with the nca-onnx version that wrote it"
        )
    recorded = integrity["digest"]
    actual = digest(document)
    if actual != recorded:
        raise VerificationError(
            f"digest: '{source}' was changed after it was written (recorded sha256 "
            f"{recorded[:16]}..., content hashes to {actual[:16]}...); use the original file"
        )
    return recorded
