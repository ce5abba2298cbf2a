"""The exception tree of nca-onnx: every error a user can cause derives from NcaError."""

__all__ = [
    "NcaError",
    "ModelError",
    "DataError",
    "NonFiniteGradientError",
    "ParameterError",
    "RuntimeProviderError",
    "UnsupportedOperatorError",
    "VerificationError",
    "EvidenceError",
    "NotFoundError",
    "AccessError",
    "CapacityError",
    "StateError",
    "MissingExtraError",
]


class NcaError(Exception):
    """Base of all errors nca-onnx raises on bad input or a failed check.

    The message is one line that says what is wrong, with which input, and what
    to do next; the CLI prints it as is and the service returns it as the status
    detail.
    """


class ModelError(NcaError):
    """The ONNX model cannot be read, checked or analysed."""


class DataError(NcaError):
    """Images or arrays cannot be read, or none of them is usable."""


class NonFiniteGradientError(DataError):
    """The loss gradient of some images is NaN or infinite, so FGSM cannot take a step."""


class ParameterError(NcaError):
    """A parameter is out of range or contradicts another one."""


class RuntimeProviderError(NcaError):
    """The requested onnxruntime execution provider is not available."""


class UnsupportedOperatorError(ModelError):
    """The graph holds an operator a transformation has no rule for."""


class VerificationError(NcaError):
    """A recorded result does not match its re-computation (a failed check, exit 1)."""


class EvidenceError(NcaError):
    """A report or manifest cannot be read, or does not match its published schema."""


class NotFoundError(NcaError):
    """A job, model or data set named in a request does not exist (the service)."""


class AccessError(NcaError):
    """A request names something the caller may not use, such as a path outside the data
    roots (the service)."""


class CapacityError(NcaError):
    """A size or queue limit is reached: send less, or retry when jobs have finished."""


class StateError(NcaError):
    """The request does not fit the current state, e.g. the report of an unfinished job."""


class MissingExtraError(NcaError):
    """An optional dependency is not installed; the message names the extra to install."""
