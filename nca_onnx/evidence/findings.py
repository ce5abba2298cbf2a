"""What a verification found: one finding per check, and the outcome of them all."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "VerificationOutcome"]


@dataclass(frozen=True)
class Finding:
    """One check: its kind (digest, schema, model, image, ...), subject and result.

    `deviation` is the largest |recorded - recomputed| where numbers were compared.
    """

    check: str
    subject: str
    passed: bool
    detail: str
    deviation: float | None = None


@dataclass(frozen=True)
class VerificationOutcome:
    """All findings of `verify_report`, in the order the checks ran."""

    findings: tuple[Finding, ...]
    tolerance: float

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if not finding.passed)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def largest_deviation(self) -> float | None:
        """The largest numeric deviation found, None when nothing was recomputed."""
        deviations = [f.deviation for f in self.findings if f.deviation is not None]
        return max(deviations, default=None)
