"""The canonical form of a document, its digest and the seal that carries it."""

from __future__ import annotations

import hashlib
import json

import pytest

from nca_onnx.errors import EvidenceError, VerificationError
from nca_onnx.evidence.digest import canonical_bytes, check_seal, digest, seal

DOCUMENT = {"schema": {"name": "x", "version": "1"}, "values": [1, 0.1, -2.5e-07],
            "text": "caf\u00e9", "nested": {"b": True, "a": None}}


def test_canonical_form_is_sorted_compact_ascii_json():
    assert canonical_bytes(DOCUMENT) == (
        b'{"nested":{"a":null,"b":true},"schema":{"name":"x","version":"1"},'
        b'"text":"caf\\u00e9","values":[1,0.1,-2.5e-07]}'
    )


def test_digest_is_sha256_of_the_canonical_form():
    assert digest(DOCUMENT) == hashlib.sha256(canonical_bytes(DOCUMENT)).hexdigest()


def test_digest_survives_writing_and_reading_with_indentation():
    sealed = seal(DOCUMENT)
    reread = json.loads(json.dumps(sealed, indent=1))

    assert check_seal(reread, "doc") == sealed["integrity"]["digest"]


def test_seal_copies_and_leaves_the_input_unchanged():
    before = json.dumps(DOCUMENT, sort_keys=True)
    sealed = seal(DOCUMENT)

    assert "integrity" not in DOCUMENT
    assert json.dumps(DOCUMENT, sort_keys=True) == before
    assert sealed["integrity"]["algorithm"] == "sha256"
    assert list(sealed)[-1] == "integrity"


def test_sealing_again_replaces_the_old_seal():
    sealed = seal(DOCUMENT)
    changed = {**sealed, "text": "other"}

    assert seal(changed)["integrity"]["digest"] != sealed["integrity"]["digest"]
    assert check_seal(seal(changed), "doc")


def test_a_changed_value_breaks_the_seal():
    sealed = seal(DOCUMENT)
    sealed["values"][1] = 0.10000001

    with pytest.raises(VerificationError, match="digest: 'doc' was changed"):
        check_seal(sealed, "doc")


def test_an_unsealed_document_cannot_be_checked():
    with pytest.raises(EvidenceError, match="carries no integrity digest"):
        check_seal(DOCUMENT, "doc")


def test_an_unknown_algorithm_is_refused():
    sealed = seal(DOCUMENT)
    sealed["integrity"]["algorithm"] = "md5"

    with pytest.raises(EvidenceError, match="'md5'"):
        check_seal(sealed, "doc")


def test_nan_has_no_canonical_form():
    with pytest.raises(EvidenceError, match="cannot carry"):
        digest({"value": float("nan")})
