"""Load an ONNX classifier, normalise its graph and find its image input and score output."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from nca_onnx.errors import ModelError, ParameterError

__all__ = ["BATCH_DIM", "LoadedModel", "file_sha256", "initializer_array", "load_model"]

logger = logging.getLogger(__name__)

BATCH_DIM = "nca_batch"
MIN_OPSET = 11
_CHUNK_BYTES = 1 << 20
# Ops that pass a probability vector through unchanged, so a Softmax before them
# still makes the model output a probability.
_PASS_THROUGH_OPS = {"Identity", "Flatten", "Reshape", "Squeeze"}


@dataclass(frozen=True)
class LoadedModel:
    """A checked, normalised model and what the analysis needs to know about it.

    `proto` is a private copy: Constant nodes became initializers, every node has a
    unique name, the batch dimension is symbolic and shapes are inferred.
    """

    path: Path
    sha256: str
    proto: onnx.ModelProto
    opset: int
    producer: str
    input_name: str
    input_shape: tuple[int | str, ...]
    layout: str
    output_name: str
    num_classes: int
    output_is_probability: bool

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the image input; 0 where the model leaves it free."""
        dims = self.input_shape[1:]
        h, w = (dims[0], dims[1]) if self.layout == "NHWC" else (dims[1], dims[2])
        return (h if isinstance(h, int) else 0, w if isinstance(w, int) else 0)

    @property
    def channels(self) -> int:
        dims = self.input_shape[1:]
        c = dims[2] if self.layout == "NHWC" else dims[0]
        return c if isinstance(c, int) else 3

    def check_classes(self, classes: tuple[int, ...] | list[int]) -> None:
        """Raises ParameterError when a class index is not one of the model's classes."""
        for label in classes:
            if not 0 <= label < self.num_classes:
                raise ParameterError(
                    f"class {label} is out of range: model '{self.path}' has "
                    f"{self.num_classes} classes (0 to {self.num_classes - 1})"
                )

    def describe(self) -> dict:
        """The model section of the evidence report."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "opset": self.opset,
            "ir_version": self.proto.ir_version,
            "producer": self.producer,
            "input": {
                "name": self.input_name,
                "shape": list(self.input_shape),
                "layout": self.layout,
            },
            "output": {
                "name": self.output_name,
                "shape": [BATCH_DIM, self.num_classes],
                "num_classes": self.num_classes,
            },
            "confidence_source": (
                "model-softmax" if self.output_is_probability else "softmax-applied"
            ),
        }


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _read_proto(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise ModelError(f"model file '{path}' does not exist; pass the path of an .onnx file")

    try:
        proto = onnx.load(str(path), load_external_data=True)
    except Exception as error:
        if isinstance(error, FileNotFoundError) or "should be stored in" in str(error):
            raise ModelError(
                f"model '{path}' keeps weights in an external data file that is missing "
                f"({error}); keep the data files next to the model"
            ) from error
        raise ModelError(
            f"'{path}' is not a readable ONNX model ({type(error).__name__}); "
            "check that the file is complete and was exported as ONNX"
        ) from error

    if not proto.graph.node:
        raise ModelError(
            f"'{path}' holds no graph nodes; it is not an ONNX model or it is truncated"
        )
    return proto


def _default_opset(proto: onnx.ModelProto) -> int:
    for entry in proto.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    raise ModelError("the model imports no default-domain opset; re-export it with opset >= 11")


def _constants_to_initializers(graph: onnx.GraphProto) -> None:
    """Turn Constant nodes into initializers so that weights are found in one place."""
    kept = []
    for node in graph.node:
        if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
            kept.append(node)
            continue
        attribute = node.attribute[0]
        if attribute.name != "value":
            kept.append(node)
            continue
        tensor = onnx.TensorProto()
        tensor.CopyFrom(attribute.t)
        tensor.name = node.output[0]
        graph.initializer.append(tensor)
    del graph.node[:]
    graph.node.extend(kept)


def _name_nodes(graph: onnx.GraphProto) -> None:
    """Give every node a unique name: the report identifies layers by node name."""
    seen: set[str] = set()
    for position, node in enumerate(graph.node):
        name = node.name or f"{node.op_type}_{position}"
        while name in seen:
            name = f"{name}_{position}"
        node.name = name
        seen.add(name)


def _graph_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    initializer_names = {tensor.name for tensor in graph.initializer}
    return [value for value in graph.input if value.name not in initializer_names]


def _dims(value: onnx.ValueInfoProto) -> tuple[int | str, ...]:
    dims = value.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims)


def _detect_layout(shape: tuple[int | str, ...], forced: str | None, path: Path) -> str:
    if len(shape) != 4:
        raise ModelError(
            f"model '{path}' has an input of rank {len(shape)}; "
            "nca-onnx analyses image classifiers with a 4-D input (NCHW or NHWC)"
        )
    channels_first = shape[1] in (1, 3, 4)
    channels_last = shape[3] in (1, 3, 4)
    if forced is not None:
        layout = forced.upper()
        if layout not in ("NCHW", "NHWC"):
            raise ModelError(f"layout '{forced}' is not known; use NCHW or NHWC")
        fits = channels_first if layout == "NCHW" else channels_last
        if not fits and (channels_first or channels_last):
            raise ModelError(
                f"layout {layout} does not match the model input shape {list(shape)}; "
                "drop --layout to detect it, or pass the other layout"
            )
        return layout
    if channels_first and not channels_last:
        return "NCHW"
    if channels_last and not channels_first:
        return "NHWC"
    if channels_first:
        return "NCHW"
    raise ModelError(
        f"cannot tell the layout of input shape {list(shape)}; pass --layout NCHW or NHWC"
    )


def _produced_by_softmax(graph: onnx.GraphProto, output: str) -> bool:
    producers = {name: node for node in graph.node for name in node.output}
    node = producers.get(output)
    while node is not None and node.op_type in _PASS_THROUGH_OPS:
        node = producers.get(node.input[0])
    return node is not None and node.op_type == "Softmax"


def _make_batch_symbolic(graph: onnx.GraphProto, input_name: str, output_name: str) -> None:
    """Let any batch size through: the engine folds K neurons into the batch."""
    for value in list(graph.input) + list(graph.output):
        if value.name in (input_name, output_name):
            dims = value.type.tensor_type.shape.dim
            if dims:
                dims[0].Clear()
                dims[0].dim_param = BATCH_DIM
    # Stored intermediate shapes may pin the old batch size; shape inference redoes them.
    del graph.value_info[:]


def _select_output(graph: onnx.GraphProto, requested: str | None, path: Path) -> str:
    names = [value.name for value in graph.output]
    if requested is not None:
        if requested not in names:
            raise ModelError(
                f"model '{path}' has no output '{requested}'; its outputs are {names}"
            )
        return requested
    for value in graph.output:
        if len(_dims(value)) == 2:
            return value.name
    raise ModelError(
        f"model '{path}' has no 2-D class-score output (outputs: {names}); "
        "pass --output with the name of the [batch, classes] output"
    )


def _infer_shapes(proto: onnx.ModelProto, path: Path) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception as error:
        raise ModelError(f"shape inference failed on '{path}': {error}") from error


def load_model(
    path: str | Path, layout: str | None = None, output: str | None = None
) -> LoadedModel:
    """Read, check and normalise an ONNX classifier.

    Reads the file (and its external data) once; the caller's file is not changed.

    Args:
        path: the .onnx file.
        layout: force "NCHW" or "NHWC"; None detects it from the input shape.
        output: name of the class-score output; None takes the first 2-D output.

    Raises:
        ModelError: the file is missing, not ONNX, truncated, fails the checker,
            has an opset below 11, or has no image input or 2-D score output.
    """
    path = Path(path)
    proto = _read_proto(path)
    sha256 = file_sha256(path)

    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as error:
        first_line = str(error).strip().splitlines()[0]
        raise ModelError(f"model '{path}' fails the ONNX checker: {first_line}") from error

    opset = _default_opset(proto)
    if opset < MIN_OPSET:
        raise ModelError(
            f"model '{path}' uses opset {opset}; nca-onnx needs opset >= {MIN_OPSET}: "
            "convert it with onnx.version_converter or re-export"
        )

    graph = proto.graph
    inputs = _graph_inputs(graph)
    if len(inputs) != 1:
        raise ModelError(
            f"model '{path}' has {len(inputs)} inputs ({[v.name for v in inputs]}); "
            "nca-onnx analyses classifiers with one image input"
        )
    input_value = inputs[0]
    input_shape = _dims(input_value)
    detected = _detect_layout(input_shape, layout, path)
    output_name = _select_output(graph, output, path)

    _constants_to_initializers(graph)
    _name_nodes(graph)
    _make_batch_symbolic(graph, input_value.name, output_name)
    proto = _infer_shapes(proto, path)

    output_value = next(v for v in proto.graph.output if v.name == output_name)
    num_classes = _dims(output_value)[1]
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ModelError(
            f"output '{output_name}' of '{path}' has {num_classes} classes; "
            "a classifier needs a fixed number of at least 2"
        )

    logger.info("loaded %s: opset %d, input %s %s, %d classes", path, opset,
                input_value.name, detected, num_classes)
    return LoadedModel(
        path=path,
        sha256=sha256,
        proto=proto,
        opset=opset,
        producer=f"{proto.producer_name} {proto.producer_version}".strip(),
        input_name=input_value.name,
        input_shape=(BATCH_DIM, *input_shape[1:]),
        layout=detected,
        output_name=output_name,
        num_classes=num_classes,
        output_is_probability=_produced_by_softmax(proto.graph, output_name),
    )


def initializer_array(proto: onnx.ModelProto, name: str) -> np.ndarray:
    """The value of one initializer as a numpy array (a copy)."""
    for tensor in proto.graph.initializer:
        if tensor.name == name:
            return numpy_helper.to_array(tensor).copy()
    raise KeyError(name)
