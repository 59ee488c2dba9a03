import pytest

pytest.importorskip("tensorflow")

from fmnist_edge.benchmarks import layers  # noqa: E402


def test_each_part_is_converted_and_timed(tiny_run, capsys):
    rows = layers.measure(tiny_run, rounds=1, calls=20)
    assert [r["part"].split()[0] for r in rows] == ["Conv2D", "MaxPooling2D", "dense"]
    assert all(r["float32_us"] > 0 and r["int8_us"] > 0 for r in rows)
