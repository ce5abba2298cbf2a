"""Non-targeted iterative FGSM on a gradient model (METHOD.md, "Adversarial set")."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort

from nca_onnx.errors import DataError, ModelError, NonFiniteGradientError, ParameterError
from nca_onnx.grad import INPUT_GRAD_OUTPUT, LABEL_INPUT, LOSS_OUTPUT, PROBABILITIES_OUTPUT

__all__ = ["FgsmResult", "NonFiniteGradientError", "run_fgsm"]

logger = logging.getLogger(__name__)

_DEFAULT_PROVIDERS = ("CPUExecutionProvider",)
_LISTED_IMAGES_MAX = 10


@dataclass(frozen=True, eq=False)
class FgsmResult:
    """Adversarial inputs and, per image, how the attack went.

    All per-image arrays have length N and follow the order of the inputs.
    """

    adversarial: np.ndarray  #: the perturbed inputs, shape and dtype of the inputs
    steps_taken: np.ndarray  #: int64, updates applied to each image (0 if already flipped)
    flipped: np.ndarray  #: bool, some other class ended above target_confidence
    final_class: np.ndarray  #: int64, argmax class at the adversarial input
    final_confidence: np.ndarray  #: float64, confidence of final_class
    true_class_confidence: np.ndarray  #: float64, confidence of the label at the end
    linf_distance: np.ndarray  #: float64, max |adversarial - input| per image
    eps: float
    steps: int
    target_confidence: float

    @property
    def flipped_count(self) -> int:
        return int(self.flipped.sum())


def _open_session(source: ort.InferenceSession | onnx.ModelProto,
                  providers: Sequence[str]) -> ort.InferenceSession:
    if isinstance(source, ort.InferenceSession):
        return source
    if isinstance(source, onnx.ModelProto):
        return ort.InferenceSession(source.SerializeToString(), providers=list(providers))
    raise ParameterError(
        f"expected an onnxruntime.InferenceSession or an onnx.ModelProto of a gradient model, "
        f"got {type(source).__name__}; build one with nca_onnx.grad.build_gradient_model"
    )


def _class_count(session: ort.InferenceSession) -> int | None:
    for value in session.get_outputs():
        if value.name == PROBABILITIES_OUTPUT and len(value.shape) == 2:
            return value.shape[1] if isinstance(value.shape[1], int) else None
    return None


def _image_input(session: ort.InferenceSession) -> tuple[str, np.dtype]:
    names = [value.name for value in session.get_inputs()]
    inputs = [value for value in session.get_inputs() if value.name != LABEL_INPUT]
    outputs = {value.name for value in session.get_outputs()}
    required = {LOSS_OUTPUT, PROBABILITIES_OUTPUT, INPUT_GRAD_OUTPUT}
    if LABEL_INPUT not in names or len(inputs) != 1 or not required <= outputs:
        raise ParameterError(
            "the session is not a gradient model (inputs: image and 'label'; outputs: "
            f"{', '.join(sorted(required))}); build it with "
            "nca_onnx.grad.build_gradient_model"
        )
    dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32
    return inputs[0].name, np.dtype(dtype)


def _check_arguments(inputs: np.ndarray, labels: np.ndarray, eps: float, steps: int,
                     target_confidence: float, clip_low: np.ndarray,
                     clip_high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate the arguments; return the clip bounds broadcast to the input shape."""
    if inputs.ndim < 1 or inputs.shape[0] == 0:
        raise DataError(f"no images to attack: inputs have shape {inputs.shape}")
    if labels.shape != (inputs.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(
            f"labels must be integers of shape ({inputs.shape[0]},), one per image; got "
            f"{labels.dtype} of shape {labels.shape}"
        )
    if not (np.isfinite(eps) and eps > 0):
        raise ParameterError(f"eps must be a positive number, got {eps}")
    if steps < 0 or int(steps) != steps:
        raise ParameterError(f"steps must be a non-negative integer, got {steps}")
    if not 0.0 <= target_confidence < 1.0:
        raise ParameterError(f"target_confidence must lie in [0, 1), got {target_confidence}")
    if not np.all(np.isfinite(inputs)):
        bad = np.flatnonzero(~np.isfinite(inputs.reshape(len(inputs), -1)).all(axis=1))
        raise DataError(f"inputs of images {bad[:_LISTED_IMAGES_MAX].tolist()} hold NaN or "
                        "infinite values; check the preprocessing")
    try:
        low = np.broadcast_to(np.asarray(clip_low, dtype=np.float64), inputs.shape)
        high = np.broadcast_to(np.asarray(clip_high, dtype=np.float64), inputs.shape)
    except ValueError as error:
        raise ParameterError(
            f"clip_low {np.shape(clip_low)} and clip_high {np.shape(clip_high)} must broadcast "
            f"to the inputs {inputs.shape}, e.g. per channel [1, C, 1, 1]"
        ) from error
    if np.any(low > high):
        raise ParameterError("clip_low exceeds clip_high somewhere; swap or fix the bounds")
    return low, high


def _other_class_confidence(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    others = probabilities.astype(np.float64, copy=True)
    others[np.arange(len(labels)), labels] = -np.inf
    return others.max(axis=1)


def _attack_batch(
    session: ort.InferenceSession, input_name: str, x: np.ndarray, labels: np.ndarray,
    low: np.ndarray, high: np.ndarray, eps: float, steps: int, target_confidence: float,
    first_index: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Attack one batch in place in `x`; return steps taken and final probabilities."""
    steps_taken = np.zeros(len(x), dtype=np.int64)
    final_probabilities: np.ndarray | None = None
    active = np.arange(len(x))
    for step in range(steps + 1):
        try:
            _, probabilities, grad = session.run(
                [LOSS_OUTPUT, PROBABILITIES_OUTPUT, INPUT_GRAD_OUTPUT],
                {input_name: x[active], LABEL_INPUT: labels[active].astype(np.int64)})
        except Exception as error:  # onnxruntime raises its own unexported types
            raise ModelError(
                f"the gradient model failed on images {first_index} to "
                f"{first_index + len(x) - 1} at FGSM step {step}: {error}; check the input "
                "shape and that every label is a class of the model"
            ) from error
        if final_probabilities is None:
            classes = probabilities.shape[1]
            if labels.min() < 0 or labels.max() >= classes:
                raise ParameterError(f"labels must lie in [0, {classes}) for this model, got "
                                     f"{labels.min()} to {labels.max()}")
            final_probabilities = np.empty((len(x), classes), dtype=np.float64)
        final_probabilities[active] = probabilities
        # Check before each step: a flipped image is no longer updated.
        flipped = _other_class_confidence(probabilities, labels[active]) > target_confidence
        if step == steps:
            break
        keep = ~flipped
        active, grad = active[keep], grad[keep]
        if len(active) == 0:
            break
        finite = np.isfinite(grad.reshape(len(active), -1)).all(axis=1)
        if not finite.all():
            bad = (first_index + active[~finite])[:_LISTED_IMAGES_MAX].tolist()
            raise NonFiniteGradientError(
                f"the loss gradient is NaN or infinite for images {bad} at FGSM step {step}; "
                "check that the inputs are preprocessed as the model expects and that its "
                "output is finite on them"
            )
        moved = x[active] + eps * np.sign(grad)
        x[active] = np.clip(moved, low[active], high[active])
        steps_taken[active] += 1
    return steps_taken, final_probabilities


def run_fgsm(
    gradient_session_or_model: ort.InferenceSession | onnx.ModelProto,
    inputs: np.ndarray,
    labels: np.ndarray,
    eps: float,
    steps: int = 20,
    target_confidence: float = 0.5,
    *,
    clip_low: np.ndarray | float,
    clip_high: np.ndarray | float,
    providers: Sequence[str] = _DEFAULT_PROVIDERS,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> FgsmResult:
    """Perturb images by non-targeted iterative FGSM until another class takes over.

    Repeats x <- clip(x + eps * sign(d loss / d x), clip_low, clip_high) with the
    cross-entropy loss of the true class (METHOD.md, "Adversarial set"). Before each step
    an image whose highest other-class confidence exceeds `target_confidence` counts as
    flipped and is no longer updated; at most `steps` steps are taken, and images that
    did not flip are kept and reported as such. The inputs are copied, not modified.
    Cost: up to steps + 1 runs of the gradient model per image, in batches of
    `batch_size`, each costing 3.3 to 3.9 forward passes on the CPU.

    Args:
        gradient_session_or_model: a model from `nca_onnx.grad.build_gradient_model`, or a
            session of one (then `providers` is not used).
        inputs: preprocessed images [N, ...] in the model's input layout.
        labels: true class of each image, integers [N].
        eps: step size in input units.
        steps: most steps per image.
        target_confidence: confidence another class must exceed to count as flipped.
        clip_low, clip_high: valid input range, broadcast to the inputs (e.g. [1, C, 1, 1]).
        providers: onnxruntime execution providers for a model given as ModelProto.
        batch_size: images per run of the gradient model.
        progress: called after each batch with (images done, images in all).

    Returns:
        FgsmResult with the adversarial inputs and per-image outcome.

    Raises:
        ParameterError: a parameter is out of range, labels do not match the inputs or the
            model, the clip bounds do not broadcast, or the session is not a gradient model.
        DataError: there are no inputs or they hold NaN or infinite values.
        ModelError: onnxruntime failed to run the gradient model.
        NonFiniteGradientError: the gradient of some images is NaN or infinite.
    """
    inputs = np.asarray(inputs)
    labels = np.asarray(labels)
    low, high = _check_arguments(inputs, labels, eps, steps, target_confidence, clip_low,
                                 clip_high)
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
    session = _open_session(gradient_session_or_model, providers)
    input_name, dtype = _image_input(session)
    classes = _class_count(session)
    if classes is not None and (labels.min() < 0 or labels.max() >= classes):
        raise ParameterError(f"labels must lie in [0, {classes}) for this model, got "
                             f"{labels.min()} to {labels.max()}")

    adversarial = inputs.astype(dtype, copy=True)
    steps_taken = np.zeros(len(inputs), dtype=np.int64)
    probabilities: list[np.ndarray] = []
    for start in range(0, len(inputs), batch_size):
        part = slice(start, start + batch_size)
        taken, final = _attack_batch(session, input_name, adversarial[part], labels[part],
                                     low[part], high[part], float(eps), int(steps),
                                     float(target_confidence), start)
        steps_taken[part] = taken
        probabilities.append(final)
        if progress is not None:
            progress(min(start + batch_size, len(inputs)), len(inputs))

    final_probabilities = np.concatenate(probabilities)
    rows = np.arange(len(inputs))
    final_class = final_probabilities.argmax(axis=1).astype(np.int64)
    flipped = _other_class_confidence(final_probabilities, labels) > target_confidence
    distance = np.abs(adversarial.astype(np.float64) - inputs.astype(np.float64))
    result = FgsmResult(
        adversarial=adversarial,
        steps_taken=steps_taken,
        flipped=flipped,
        final_class=final_class,
        final_confidence=final_probabilities[rows, final_class],
        true_class_confidence=final_probabilities[rows, labels],
        linf_distance=distance.reshape(len(inputs), -1).max(axis=1),
        eps=float(eps),
        steps=int(steps),
        target_confidence=float(target_confidence),
    )
    logger.info("FGSM: %d of %d images flipped within %d steps (eps %g)", result.flipped_count,
                len(inputs), steps, eps)
    return result
