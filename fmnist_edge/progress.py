"""``--progress`` of fmnist-train and fmnist-export: one vocabulary for both.

``auto`` is a live bar on a terminal and one line per step elsewhere (a CI log); a step is an
epoch for training and a model for the export. The earlier spellings still parse: ``epoch``
(fmnist-train) is ``lines``, ``on``/``off`` (fmnist-export) are ``bar``/``none``.
"""

from __future__ import annotations

import sys

from fmnist_edge.runtime.formats import Choice


class Progress(Choice):
    """How a long command shows its progress on stderr."""

    AUTO = "auto"
    BAR = "bar"
    LINES = "lines"
    NONE = "none"

    @classmethod
    def _missing_(cls, value):
        return {"epoch": cls.LINES, "on": cls.BAR, "off": cls.NONE}.get(value)

    @classmethod
    def of(cls, value: "Progress | str | bool | None") -> "Progress":
        """A Progress from the library's older ``bool | None`` too (None auto, True bar, False none)."""
        if value is None or isinstance(value, bool):
            return {None: cls.AUTO, True: cls.BAR, False: cls.NONE}[value]
        return cls(value)

    def resolved(self, stream=None) -> "Progress":
        """AUTO made concrete: BAR on a terminal, else LINES."""
        if self is not Progress.AUTO:
            return self
        return Progress.BAR if (stream or sys.stderr).isatty() else Progress.LINES

    def keras_verbose(self) -> int:
        """Keras ``fit(verbose=)``: 1 a live bar, 2 one line per epoch, 0 nothing."""
        return {Progress.BAR: 1, Progress.LINES: 2, Progress.NONE: 0}[self.resolved(sys.stdout)]


class Steps:
    """Iterate ``items`` with a tqdm bar, one stderr line per :meth:`note`, or silently."""

    def __init__(self, items, progress: "Progress | str | bool | None", desc: str, unit: str) -> None:
        self.mode, self.desc, self.items = Progress.of(progress).resolved(), desc, list(items)
        self._bar = None
        if self.mode is Progress.BAR:
            from tqdm import tqdm

            self._bar = tqdm(self.items, desc=desc, unit=unit)

    def __iter__(self):
        return iter(self._bar if self._bar is not None else self.items)

    def note(self, text: str) -> None:
        """What the current step is doing."""
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        elif self.mode is Progress.LINES:
            print(f"{self.desc}: {text}", file=sys.stderr, flush=True)
