import io

import pytest

from fmnist_edge.progress import Progress, Steps


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_one_vocabulary_and_the_old_spellings_still_parse():
    assert [p.value for p in Progress] == ["auto", "bar", "lines", "none"]
    assert Progress("epoch") is Progress.LINES  # fmnist-train's earlier word
    assert (Progress("on"), Progress("off")) == (Progress.BAR, Progress.NONE)  # fmnist-export's
    assert [Progress.of(v) for v in (None, True, False)] == [Progress.AUTO, Progress.BAR, Progress.NONE]
    with pytest.raises(ValueError):
        Progress("loud")


def test_auto_is_a_bar_on_a_terminal_and_lines_elsewhere():
    assert Progress.AUTO.resolved(Terminal()) is Progress.BAR
    assert Progress.AUTO.resolved(io.StringIO()) is Progress.LINES
    assert Progress.NONE.resolved(Terminal()) is Progress.NONE


def test_lines_print_one_line_per_note_and_none_prints_nothing(capsys):
    steps = Steps(["a", "b"], Progress.LINES, "export", "model")
    for item in steps:
        steps.note(f"{item}: converting")
    silent = Steps(["c"], Progress.NONE, "export", "model")
    for item in silent:
        silent.note("never shown")
    assert capsys.readouterr().err == "export: a: converting\nexport: b: converting\n"
