import pytest

from fmnist_edge.readme import check_block, replace_block
from fmnist_edge.runtime.errors import FmnistError


def test_replace_block_rewrites_only_between_the_markers(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("intro\n<!-- runs:begin -->\nold\n<!-- runs:end -->\noutro\n")
    replace_block(page, "runs", "| new |")
    assert page.read_text() == "intro\n<!-- runs:begin -->\n| new |\n<!-- runs:end -->\noutro\n"
    check_block(page, "runs")


def test_a_missing_block_or_file_is_one_line(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("no markers\n")
    with pytest.raises(FmnistError, match="no <!-- bench:begin --> … <!-- bench:end --> block"):
        check_block(page, "bench")
    with pytest.raises(FmnistError, match="cannot read"):
        replace_block(tmp_path / "missing.md", "bench", "x")
    assert page.read_text() == "no markers\n"
