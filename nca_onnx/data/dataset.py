"""Read the images or arrays to analyse, with labels and hashes for the evidence."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from nca_onnx.data.preprocess import Preprocessing
from nca_onnx.errors import DataError, ParameterError

__all__ = ["IMAGE_SUFFIXES", "Dataset", "ImageRecord", "load_dataset"]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
ARRAY_SUFFIXES = {".npy", ".npz"}


@dataclass(frozen=True)
class ImageRecord:
    """One input: where it came from, its bytes' SHA-256 and its ground-truth label."""

    id: str
    path: str
    sha256: str
    label: int


@dataclass(frozen=True)
class Dataset:
    """Inputs in the model's layout, [N, ...] float32, and one record per input."""

    records: tuple[ImageRecord, ...]
    inputs: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        return np.array([record.label for record in self.records], dtype=np.int64)

    @property
    def digest(self) -> str:
        """SHA-256 of the inputs' SHA-256 digests joined by newlines, in order."""
        text = "\n".join(record.sha256 for record in self.records)
        return _sha256(text.encode("ascii"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decode(path: Path, preprocessing: Preprocessing) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return preprocessing.apply(image)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(
            f"image '{path}' does not decode ({error.__class__.__name__}); "
            "remove it or replace it with a valid JPEG or PNG"
        ) from error


def _labelled_files(root: Path, classes: list[int]) -> list[tuple[Path, int]]:
    """Images of a folder: class subfolders named by index, or a flat folder of one class."""
    subfolders = {int(p.name): p for p in root.iterdir() if p.is_dir() and p.name.isdigit()}
    if subfolders:
        missing = [label for label in classes if label not in subfolders]
        if missing:
            raise DataError(
                f"'{root}' has class folders {sorted(subfolders)} but none for class "
                f"{missing[0]}; add a folder '{root / str(missing[0])}' with its images"
            )
        return [(path, label) for label in classes
                for path in sorted(subfolders[label].iterdir())
                if path.suffix.lower() in IMAGE_SUFFIXES]
    if len(classes) != 1:
        raise DataError(
            f"'{root}' has no class subfolders, so its images cannot be split between "
            f"classes {classes}; put each class's images in a subfolder named by its index"
        )
    return [(path, classes[0]) for path in sorted(root.iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES]


def _from_images(root: Path, classes: list[int], preprocessing: Preprocessing,
                 layout: str) -> Dataset:
    files = _labelled_files(root, classes)
    if not files:
        raise DataError(
            f"'{root}' holds no .jpg or .png images for class(es) {classes}; "
            "point --data at a folder of images or an .npy/.npz file"
        )
    records, arrays = [], []
    for path, label in files:
        arrays.append(_decode(path, preprocessing))
        records.append(ImageRecord(str(path.relative_to(root)), str(path),
                                   _sha256(path.read_bytes()), label))
    inputs = np.stack(arrays)
    if layout == "NCHW":
        inputs = inputs.transpose(0, 3, 1, 2)
    return Dataset(tuple(records), np.ascontiguousarray(inputs, dtype=np.float32))


def _read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            key = "inputs" if "inputs" in keys else keys[0]
            labels = archive["labels"] if "labels" in keys else None
            return archive[key], labels
    except (ValueError, OSError, IndexError) as error:
        raise DataError(f"'{path}' is not a readable numpy file: {error}") from error


def _from_arrays(path: Path, classes: list[int]) -> Dataset:
    inputs, labels = _read_arrays(path)
    if labels is None:
        if len(classes) != 1:
            raise DataError(
                f"'{path}' has no 'labels' array, so its inputs cannot be split between "
                f"classes {classes}; save labels=... in the .npz or analyse one class"
            )
        labels = np.full(len(inputs), classes[0])
    if len(labels) != len(inputs):
        raise DataError(f"'{path}' has {len(inputs)} inputs but {len(labels)} labels")
    rows = [row for row, label in enumerate(labels) if int(label) in classes]
    if not rows:
        raise DataError(f"'{path}' holds no inputs labelled with class(es) {classes}")
    chosen = np.ascontiguousarray(inputs[rows], dtype=np.float32)
    records = tuple(ImageRecord(f"{path.name}#{row}", str(path), _sha256(item.tobytes()),
                                int(labels[row]))
                    for row, item in zip(rows, chosen))
    return Dataset(records, chosen)


def _check_shape(dataset: Dataset, input_shape: tuple, source: Path) -> None:
    expected = tuple(input_shape[1:])
    actual = dataset.inputs.shape[1:]
    fits = len(actual) == len(expected) and all(
        not isinstance(e, int) or e == a for e, a in zip(expected, actual))
    if not fits:
        raise DataError(
            f"inputs from '{source}' have shape {list(actual)} per item but the model expects "
            f"{list(expected)}; check --layout, --size or how the arrays were saved"
        )


def load_dataset(path: str | Path, classes: list[int], preprocessing: Preprocessing,
                 layout: str, input_shape: tuple) -> Dataset:
    """Read a folder of images, or an .npy/.npz of preprocessed inputs.

    Folders: images directly inside belong to the single analysed class; with
    several classes, each class's images sit in a subfolder named by its index.
    Arrays: `.npy` holds inputs of one class; `.npz` holds `inputs` and, for
    several classes, `labels`. Arrays are used as they are (no preprocessing).

    Raises:
        DataError: missing path, no images, an undecodable image, or a shape that
            does not match the model input.
    """
    path = Path(path)
    if not classes:
        raise ParameterError("no class to analyse; pass --class with a class index")
    if path.is_dir():
        dataset = _from_images(path, classes, preprocessing, layout)
    elif path.is_file() and path.suffix in ARRAY_SUFFIXES:
        dataset = _from_arrays(path, classes)
    elif path.exists():
        raise DataError(f"'{path}' is neither a folder of images nor an .npy/.npz file")
    else:
        raise DataError(f"data path '{path}' does not exist")
    _check_shape(dataset, input_shape, path)
    logger.info("read %d inputs from %s", len(dataset.records), path)
    return dataset
