import gzip

import numpy as np
import pytest

from fmnist_edge.runtime import dataset
from fmnist_edge.runtime.dataset import FILES, load_fashion_mnist, read_idx
from fmnist_edge.runtime.errors import DatasetError
from tests.idx_fixtures import idx_bytes, write_dataset, write_idx


@pytest.mark.parametrize("gz", [True, False])
def test_reads_gzipped_and_plain_files(tmp_path, gz):
    arrays = write_dataset(tmp_path, gz=gz)
    data = load_fashion_mnist(tmp_path, expected_counts=None)
    assert data.x_train.shape == (40, 28, 28) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (20, 28, 28)
    np.testing.assert_array_equal(data.x_train, arrays[("train", "images")])
    np.testing.assert_array_equal(data.y_test, arrays[("test", "labels")])
    assert data.source == tmp_path
    assert len(data.sha256) == 4 and all(len(h) == 64 for h in data.sha256.values())


def test_real_counts_are_enforced_by_default(tmp_path):
    write_dataset(tmp_path)
    with pytest.raises(DatasetError, match="train has 40 images, expected 60000"):
        load_fashion_mnist(tmp_path)


def test_truncated_payload(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(np.zeros((5, 28, 28), np.uint8))[:-10])
    with pytest.raises(DatasetError, match="truncated: header declares 3920 bytes, file has 3910"):
        read_idx(path, "images")


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "x.gz"
    noise = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    path.write_bytes(gzip.compress(idx_bytes(noise))[:1000])
    with pytest.raises(DatasetError, match="corrupt or truncated gzip"):
        read_idx(path, "images")


def test_wrong_magic(tmp_path):
    # a labels file where images are expected: 1 dimension instead of 3
    path = write_idx(tmp_path / "x", np.zeros(10, np.uint8), gz=False)
    with pytest.raises(DatasetError, match="not an IDX images file \\(magic 00000801"):
        read_idx(path, "images")
    path.write_bytes(b"PK\x03\x04" + b"\0" * 20)
    with pytest.raises(DatasetError, match="not an IDX labels file"):
        read_idx(path, "labels")


def test_too_short_and_wrong_size(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(b"\0\0")
    with pytest.raises(DatasetError, match="too short"):
        read_idx(path, "labels")
    path = write_idx(tmp_path / "big", np.zeros((2, 32, 32), np.uint8), gz=False)
    with pytest.raises(DatasetError, match="32×32, expected 28×28"):
        read_idx(path, "images")


def test_trailing_bytes(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"\0")
    with pytest.raises(DatasetError, match="trailing bytes"):
        read_idx(path, "labels")


def test_missing_file_and_mismatched_counts(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / (FILES[("test", "labels")] + ".gz")).unlink()
    with pytest.raises(DatasetError, match="missing t10k-labels-idx1-ubyte"):
        load_fashion_mnist(tmp_path, expected_counts=None)
    write_idx(tmp_path / FILES[("test", "labels")], np.zeros(7, np.uint8))
    with pytest.raises(DatasetError, match="test has 20 images but 7 labels"):
        load_fashion_mnist(tmp_path, expected_counts=None)


def test_labels_out_of_range(tmp_path):
    write_dataset(tmp_path)
    write_idx(tmp_path / FILES[("train", "labels")], np.full(40, 10, np.uint8))
    with pytest.raises(DatasetError, match="labels go up to 10"):
        load_fashion_mnist(tmp_path, expected_counts=None)


def test_explicit_dir_that_is_missing_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(DatasetError, match=r"does not exist; install the Debian package"):
        dataset.find_data_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no Fashion-MNIST IDX files"):
        dataset.find_data_dir(tmp_path / "empty")


def test_lookup_order(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder in (a, b, c):
        write_dataset(folder)
    monkeypatch.setenv(dataset.ENV_VAR, str(b))
    monkeypatch.setattr(dataset, "DEBIAN_DIR", c)
    assert dataset.find_data_dir(a) == a
    assert dataset.find_data_dir() == b
    monkeypatch.delenv(dataset.ENV_VAR)
    assert dataset.find_data_dir() == c
    monkeypatch.setattr(dataset, "DEBIAN_DIR", tmp_path / "none")
    monkeypatch.setattr(dataset, "KERAS_CACHE_DIR", a)
    assert dataset.find_data_dir() == a


def test_nothing_found_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(dataset.ENV_VAR, raising=False)
    monkeypatch.setattr(dataset, "DEBIAN_DIR", tmp_path / "x")
    monkeypatch.setattr(dataset, "KERAS_CACHE_DIR", tmp_path / "y")
    with pytest.raises(DatasetError, match="not found; install the Debian package") as info:
        dataset.find_data_dir()
    assert "\n" not in str(info.value)


def test_a_folder_with_the_test_split_alone_serves_a_benchmark(tmp_path):
    arrays = write_dataset(tmp_path)
    for kind in ("images", "labels"):
        (tmp_path / f"{FILES[('train', kind)]}.gz").unlink()
    data = load_fashion_mnist(tmp_path, expected_counts=None, splits=("test",))
    np.testing.assert_array_equal(data.x_test, arrays[("test", "images")])
    assert data.x_train.shape == (0, 28, 28) and len(data.sha256) == 2
    with pytest.raises(DatasetError, match="holds no Fashion-MNIST IDX files"):
        load_fashion_mnist(tmp_path, expected_counts=None)  # a training run needs both splits
