"""Check that the model and the images on disk are the ones a report was written for."""

from __future__ import annotations

from pathlib import Path

from nca_onnx.evidence.findings import Finding
from nca_onnx.graph.load import file_sha256

__all__ = ["check_image_files", "check_model_file", "input_key"]


def input_key(image_id: str, data_path: Path) -> str:
    """How an input is matched on disk: its id, or for an array file only its '#row' part.

    An array file may have been renamed since the analysis; its rows keep their order.
    """
    return image_id if data_path.is_dir() else "#" + image_id.rpartition("#")[2]


def check_model_file(report: dict, model_path: Path) -> Finding:
    """Compare the SHA-256 of the model file with the report's `model.sha256`."""
    recorded = report["model"]["sha256"]
    if not model_path.is_file():
        return Finding("model", str(model_path), False,
                       "the file does not exist; pass the analysed model with --model")
    actual = file_sha256(model_path)
    if actual != recorded:
        return Finding("model", str(model_path), False,
                       f"sha256 {actual[:16]}... differs from the recorded {recorded[:16]}...")
    return Finding("model", str(model_path), True, f"sha256 {actual[:16]}... matches")


def _folder_hashes(report: dict, data_path: Path) -> dict[str, str | None]:
    """Image id (its path relative to the data folder) -> sha256 of its bytes, None if gone."""
    hashes: dict[str, str | None] = {}
    for image in report["images"]:
        path = data_path / image["id"]
        hashes[image["id"]] = file_sha256(path) if path.is_file() else None
    return hashes


def _array_hashes(report: dict, data_path: Path, dataset_loader) -> dict[str, str | None]:
    records = {input_key(record.id, data_path): record.sha256
               for record in dataset_loader().records}
    return {image["id"]: records.get(input_key(image["id"], data_path))
            for image in report["images"]}


def check_image_files(report: dict, data_path: Path, dataset_loader) -> list[Finding]:
    """One finding per image that is missing or changed, else one finding for them all.

    Images in a folder are found by their id (the path relative to the folder) and
    hashed as files; inputs of an .npy/.npz are hashed as the dataset loader does,
    through `dataset_loader()` (called only for array files).
    """
    if not data_path.exists():
        return [Finding("image", str(data_path), False,
                        "the data path does not exist; pass the analysed images with --data")]
    hashes = (_folder_hashes(report, data_path) if data_path.is_dir()
              else _array_hashes(report, data_path, dataset_loader))
    failures = []
    for image in report["images"]:
        actual = hashes[image["id"]]
        if actual is None:
            failures.append(Finding("image", image["id"], False,
                                    f"missing from '{data_path}'"))
        elif actual != image["sha256"]:
            failures.append(Finding("image", image["id"], False,
                                    f"sha256 {actual[:16]}... differs from the recorded "
                                    f"{image['sha256'][:16]}..."))
    if failures:
        return failures
    return [Finding("image", str(data_path), True,
                    f"all {len(report['images'])} recorded images match their sha256")]
