"""Export failures that are not the user's input: converter errors and failed self-checks."""

from __future__ import annotations

from fmnist_edge.runtime.errors import FmnistError


class ExportError(FmnistError):
    """A converter or quantizer failed (exit 1: the input was fine, the tool chain was not)."""

    exit_code = 1


class CheckFailed(FmnistError):
    """An exported model lost more accuracy than ``--max-drop`` allows (exit 1)."""

    exit_code = 1
