"""Uploaded archives unpack inside their folder, within limits, or not at all."""

from __future__ import annotations

import io
import tarfile
import zipfile

import numpy as np
import pytest

from nca_onnx.errors import CapacityError, DataError
from nca_onnx.service.archive import check_array_file, extract_tar, extract_zip

LIMIT_BYTES = 1_000_000


def _tar(path, members):
    """members: (name, bytes) for files, (name, None) for folders, (name, '->target') links."""
    with tarfile.open(path, "w") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content.removeprefix("->")
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return path


def test_unpacks_regular_files_and_folders(tmp_path):
    archive = _tar(tmp_path / "a.tar", [("967", None), ("967/a.jpg", b"x" * 10),
                                        ("./872/b.png", b"y")])
    target = tmp_path / "out"

    files = extract_tar(archive, target, LIMIT_BYTES, 100)

    assert files == 2
    assert (target / "967" / "a.jpg").read_bytes() == b"x" * 10
    assert (target / "872" / "b.png").read_bytes() == b"y"


@pytest.mark.parametrize(("name", "match"), [
    ("../evil.jpg", "climbs out"),
    ("967/../../evil.jpg", "climbs out"),
    ("/etc/evil.jpg", "absolute path"),
    ("967\\evil.jpg", "not allowed"),
])
def test_refuses_names_that_leave_the_folder(tmp_path, name, match):
    archive = _tar(tmp_path / "a.tar", [(name, b"x")])

    with pytest.raises(DataError, match=match):
        extract_tar(archive, tmp_path / "out", LIMIT_BYTES, 100)
    assert not (tmp_path / "evil.jpg").exists()


def test_refuses_links(tmp_path):
    archive = _tar(tmp_path / "a.tar", [("967/link.jpg", "->/etc/passwd")])

    with pytest.raises(DataError, match="link or a special file"):
        extract_tar(archive, tmp_path / "out", LIMIT_BYTES, 100)


def test_refuses_a_name_given_twice(tmp_path):
    archive = _tar(tmp_path / "a.tar", [("a.jpg", b"1"), ("a.jpg", b"2")])

    with pytest.raises(DataError, match="appears twice"):
        extract_tar(archive, tmp_path / "out", LIMIT_BYTES, 100)


def test_stops_at_the_byte_and_member_limits(tmp_path):
    big = _tar(tmp_path / "big.tar", [("a.jpg", b"x" * 2000)])
    many = _tar(tmp_path / "many.tar", [(f"{i}.jpg", b"x") for i in range(11)])

    with pytest.raises(CapacityError, match="max_extracted_bytes"):
        extract_tar(big, tmp_path / "out1", 1000, 100)
    with pytest.raises(CapacityError, match="max_archive_members"):
        extract_tar(many, tmp_path / "out2", LIMIT_BYTES, 10)


def test_zip_bomb_stops_at_the_limit(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.jpg", b"\0" * 5_000_000)

    assert path.stat().st_size < 50_000
    with pytest.raises(CapacityError, match="max_extracted_bytes"):
        extract_zip(path, tmp_path / "out", LIMIT_BYTES, 100)


def test_zip_refuses_traversal_and_links(tmp_path):
    traversal = tmp_path / "t.zip"
    with zipfile.ZipFile(traversal, "w") as archive:
        archive.writestr("../evil.jpg", b"x")
    link = tmp_path / "l.zip"
    with zipfile.ZipFile(link, "w") as archive:
        info = zipfile.ZipInfo("967/link.jpg")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")

    with pytest.raises(DataError, match="climbs out"):
        extract_zip(traversal, tmp_path / "out1", LIMIT_BYTES, 100)
    with pytest.raises(DataError, match="link"):
        extract_zip(link, tmp_path / "out2", LIMIT_BYTES, 100)


def test_garbage_is_not_an_archive(tmp_path):
    path = tmp_path / "x.tar"
    path.write_bytes(b"this is not a tar file at all" * 40)

    with pytest.raises(DataError, match="not a readable tar"):
        extract_tar(path, tmp_path / "out", LIMIT_BYTES, 100)
    with pytest.raises(DataError, match="not a readable zip"):
        extract_zip(path, tmp_path / "out", LIMIT_BYTES, 100)


def test_array_files_must_load_without_pickles(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, inputs=np.zeros((2, 3), np.float32), labels=np.array([0, 1]))
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)

    check_array_file(good, LIMIT_BYTES)
    with pytest.raises(DataError, match="without pickled objects"):
        check_array_file(pickled, LIMIT_BYTES)
    with pytest.raises(CapacityError, match="max_extracted_bytes"):
        check_array_file(good, 10)
