import os
import stat

import pytest

from fmnist_edge.runtime import atomic


def test_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.json"
    atomic.write_json(target, {"x": 1})
    atomic.write_json(target, {"x": 2})
    assert target.read_text().strip().endswith("}") and '"x": 2' in target.read_text()
    assert os.listdir(tmp_path) == ["a.json"]
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode == 0o666 & ~_umask()


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("converter crashed")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.bin"]


def test_publish_dir_swaps_whole_folders(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "old.txt").write_text("old")
    staging = atomic.make_staging_dir(final)
    (staging / "new.txt").write_text("new")
    atomic.publish_dir(staging, final)
    assert sorted(os.listdir(final)) == ["new.txt"]
    assert sorted(os.listdir(tmp_path)) == ["run"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
