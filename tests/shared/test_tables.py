import pytest

from fmnist_edge.tables import markdown_table


def test_first_column_left_figures_right_by_default():
    assert markdown_table(["model", "µs"], [["int8", 12.5], ["float32", "20.1"]]) == (
        "| model | µs |\n|---|---:|\n| int8 | 12.5 |\n| float32 | 20.1 |")
    assert markdown_table(["a", "b"], [], "rl") == "| a | b |\n|---:|---|"


def test_a_row_or_alignment_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="2 cells, the header 3"):
        markdown_table(["a", "b", "c"], [[1, 2]])
    with pytest.raises(ValueError, match="does not give l or r"):
        markdown_table(["a", "b"], [], "lx")
