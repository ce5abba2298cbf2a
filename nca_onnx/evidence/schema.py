"""Find the published JSON Schema of an evidence document and validate documents against it."""

from __future__ import annotations

import functools
import json
from importlib import resources

from nca_onnx.errors import EvidenceError

__all__ = ["SCHEMA_FILES", "load_schema", "schema_of", "schema_problems", "validate_document"]

# Document name (its `schema.name`) -> file name pattern in nca_onnx/evidence/schemas/.
SCHEMA_FILES = {
    "nca-onnx/report": "report-{version}.schema.json",
    "nca-onnx/protection-manifest": "protection-manifest-{version}.schema.json",
}
_MAX_LISTED_ERRORS = 3


@functools.cache
def load_schema(name: str, version: str) -> dict:
    """The JSON Schema of document type `name` at `version`, read from the package data.

    Raises:
        EvidenceError: no schema of that name and version ships with this version.
    """
    pattern = SCHEMA_FILES.get(name)
    if pattern is None:
        raise EvidenceError(
            f"'{name}' is not a document type nca-onnx knows; expected one of "
            f"{', '.join(SCHEMA_FILES)}"
        )
    resource = resources.files("nca_onnx.evidence").joinpath("schemas",
                                                              pattern.format(version=version))
    if not resource.is_file():
        raise EvidenceError(
            f"{name} schema version {version} is unknown to nca-onnx; read the document with "
            "the nca-onnx version that wrote it (its 'tool' section names it)"
        )
    return json.loads(resource.read_text(encoding="utf-8"))


def _location(error) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "(top level)"


def schema_of(document: object, source: str) -> dict:
    """The schema a document names in its `schema` section.

    Raises:
        EvidenceError: no `schema` section, or a name or version this version does not know.
    """
    header = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(header, dict) or not {"name", "version"} <= header.keys():
        raise EvidenceError(
            f"'{source}' has no 'schema' section with name and version; it is not an "
            "nca-onnx report or manifest"
        )
    return load_schema(str(header["name"]), str(header["version"]))


def schema_problems(document: dict, schema: dict) -> list[str]:
    """Each place where `document` breaks `schema`, as 'at PATH: message', in path order."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(document),
                    key=lambda e: [str(part) for part in e.absolute_path])
    return [f"at {_location(e)}: {e.message[:160]}" for e in errors]


def validate_document(document: object, source: str) -> None:
    """Check a report or manifest against the schema its `schema` section names.

    Cost: a full pass over the document (about a second for 100k neurons).

    Raises:
        EvidenceError: the document names no known schema or does not conform;
            the message lists the first problems with their JSON paths.
    """
    problems = schema_problems(document, schema_of(document, source))
    if problems:
        more = f" (and {len(problems) - _MAX_LISTED_ERRORS} more)" \
            if len(problems) > _MAX_LISTED_ERRORS else ""
        header = document["schema"]
        raise EvidenceError(
            f"'{source}' does not match schema {header['name']} {header['version']}: "
            f"{'; '.join(problems[:_MAX_LISTED_ERRORS])}{more}"
        )
