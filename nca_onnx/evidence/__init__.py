"""Evidence around a report: canonical digest, published schemas, standards mapping,
verification by re-computation and the protection manifest.

Only the light modules are imported here; `verification`, `manifest` and `filters`
load onnx and numpy and are imported from their own modules.
"""

from nca_onnx.evidence.digest import CANONICAL_FORM, canonical_bytes, check_seal, digest, seal
from nca_onnx.evidence.documents import read_document, read_sealed_document
from nca_onnx.evidence.schema import validate_document
from nca_onnx.evidence.standards import standards_section, with_standards

__all__ = [
    "CANONICAL_FORM",
    "canonical_bytes",
    "check_seal",
    "digest",
    "read_document",
    "read_sealed_document",
    "seal",
    "standards_section",
    "validate_document",
    "with_standards",
]
