"""Server-side data sets are read only from inside the configured roots."""

from __future__ import annotations

import pytest

from nca_onnx.errors import AccessError, NotFoundError, ParameterError
from nca_onnx.service.data_roots import resolve_server_path


@pytest.fixture
def roots(tmp_path):
    root = tmp_path / "root"
    (root / "photos" / "967").mkdir(parents=True)
    (root / "photos" / "967" / "a.jpg").write_bytes(b"x")
    outside = tmp_path / "outside"
    (outside / "967").mkdir(parents=True)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "inner").mkdir()
    (root / "inner" / "link.jpg").symlink_to(outside / "967")
    (root / "alias").symlink_to(root / "photos", target_is_directory=True)
    return {"main": root}


def test_resolves_a_relative_path_inside_the_root(roots):
    assert resolve_server_path(roots, "main", "photos") == (roots["main"] / "photos").resolve()


def test_the_root_name_may_be_left_out_when_there_is_one(roots):
    assert resolve_server_path(roots, "", "photos").name == "photos"


def test_a_link_that_stays_inside_the_root_is_fine(roots):
    assert resolve_server_path(roots, "main", "alias").name == "photos"


def test_an_absolute_path_inside_the_root_is_fine(roots):
    inside = str(roots["main"] / "photos")

    assert resolve_server_path(roots, "main", inside).name == "photos"


@pytest.mark.parametrize(("path", "match"), [
    ("../outside", "contains '..'"),
    ("photos/../../outside", "contains '..'"),
    ("/etc", "outside data root"),
    ("escape", "outside data root"),
    ("inner", "links outside data root"),
])
def test_refuses_paths_that_leave_the_root(roots, path, match):
    with pytest.raises(AccessError, match=match):
        resolve_server_path(roots, "main", path)


def test_missing_paths_and_roots_are_not_found(roots):
    with pytest.raises(NotFoundError, match="does not exist"):
        resolve_server_path(roots, "main", "nothing")
    with pytest.raises(NotFoundError, match="'other' is not configured"):
        resolve_server_path(roots, "other", "photos")


def test_without_roots_nothing_server_side_is_readable():
    with pytest.raises(AccessError, match="upload the data set instead"):
        resolve_server_path({}, "", "photos")


def test_several_roots_need_a_name(roots, tmp_path):
    with pytest.raises(ParameterError, match="name one"):
        resolve_server_path({**roots, "b": tmp_path}, "", "photos")
