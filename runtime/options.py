"""``ModelOptions``: which model of a folder, on which engine, loaded how — declared once.

``Classifier.load`` takes them, and fmnist-predict, fmnist-serve and fmnist-bench declare their
command-line form with :func:`add_model_options` and read it back with :func:`model_options`, so
an option's name, type, default and help text are written here and nowhere else.

    Classifier.load("artifacts/seed-cnn/export", ModelOptions(format="onnx", threads=1))
    Classifier.load("artifacts/seed-cnn/export", threads=1)   # the same, field by field
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields, replace

from . import cliutil
from .amx import Amx, command_policy
from .choose import Choose
from .errors import FmnistError
from .formats import Backend, Choice, Format, Quantization
from .images import DEFAULT_MAX_PIXELS, DecodeLimits, Invert

DEFAULT_MAX_DROP = 0.5  # points of test accuracy: the export's own default budget


@dataclass(frozen=True)
class ModelOptions:
    """How ``Classifier.load`` finds and opens a model; strings are accepted for every choice."""

    backend: Backend = Backend.AUTO  # auto: by file type, the first engine that imports
    format: Format | None = None  # in a folder: None = TFLite if it can run here, else ONNX
    quantization: Quantization | None = None  # in a folder: None = int8
    threads: int | None = None  # engine threads; None = the engine's own choice
    choose: Choose | None = None  # "fastest": time the in-budget variants here, load the fastest
    max_drop: float = DEFAULT_MAX_DROP  # with choose: the largest recorded drop, in points
    amx: Amx | None = None  # deny/allow; None = $FMNIST_AMX, else leave the process alone
    verify: bool = True  # refuse a file whose sha256 differs from the manifest's

    def __post_init__(self) -> None:
        for name, kind in (("backend", Backend), ("format", Format), ("quantization", Quantization),
                           ("choose", Choose), ("amx", Amx)):
            object.__setattr__(self, name, _choice(name, kind, getattr(self, name)))
        if self.threads is not None and (isinstance(self.threads, bool) or
                                         not isinstance(self.threads, int) or self.threads < 1):
            raise FmnistError(f"threads must be a whole number >= 1, got {self.threads!r}")
        drop = self.max_drop
        if isinstance(drop, bool) or not isinstance(drop, (int, float)) or not drop >= 0:
            raise FmnistError(f"max_drop must be a number of points >= 0, got {drop!r}")
        object.__setattr__(self, "max_drop", float(drop))

    def for_command(self) -> "ModelOptions":
        """The project's commands refuse AMX unless told otherwise (see runtime.amx)."""
        return replace(self, amx=command_policy(self.amx))


def _choice(name: str, kind: type[Choice], value):
    if value is None and name != "backend":
        return None
    found = cliutil.member(kind, value)
    if found is None:
        raise FmnistError(f"unknown {name} {value!r} (choose from {cliutil.values(kind)})")
    return found


# dest → (flags, argparse keywords); "invert" and "max_pixels" are how images are read, shared
# by the same commands (see decode_limits)
_ARGUMENTS = {
    "backend": ("--backend", dict(**cliutil.choice(Backend), default=Backend.AUTO,
                help="inference engine; auto = by file type, the first that imports (default: auto)")),
    "format": ("--format", dict(**cliutil.choice(Format), default=None,
               help="with an export folder: which format to load (default: TFLite if it can run here)")),
    "quantization": ("--quantization", dict(**cliutil.choice(Quantization), default=Quantization.INT8,
                     help="with an export folder: which variant to load (default: int8)")),
    "threads": ("--threads", dict(type=cliutil.positive_int, default=None, metavar="N",
                help="inference threads (default: the engine's own choice)")),
    "choose": ("--choose", dict(**cliutil.choice(Choose), default=None,
               help="with an export folder: time every variant whose recorded accuracy drop is "
               "within --max-drop on this machine and load the fastest (cached; overrides "
               "--format/--quantization)")),
    "max_drop": ("--max-drop", dict(type=cliutil.non_negative_float, default=DEFAULT_MAX_DROP,
                 metavar="POINTS",
                 help="with --choose: the largest accuracy drop a variant may have (default: %(default)s)")),
    "invert": ("--invert", dict(**cliutil.choice(Invert), default=Invert.AUTO,
               help="negate images: auto = when the border is light (a dark garment on a light "
               "surface), yes, or no (default: auto)")),
    "max_pixels": ("--max-pixels", dict(type=cliutil.pixel_count, default=DEFAULT_MAX_PIXELS,
                   metavar="N", help="refuse an image whose decode would hold more than N pixels of "
                   "4 bytes, judged from its header before decoding (a WebP pixel counts 4, a "
                   "JPEG's at the 1/2–1/8 scale it is decoded at); e.g. 16M or 4000000 "
                   f"(default: {DEFAULT_MAX_PIXELS // 1_000_000}M, at most 64 MB a decode)")),
    "amx": ("--amx", dict(**cliutil.choice(Amx), default=None,
            help="Intel AMX: deny (XNNPACK's AMX int8 kernels are slower for this model) or allow "
            "(default: $FMNIST_AMX, else deny)")),
    "no_verify": ("--no-verify", dict(action="store_true",
                  help="load the model even if its sha256 does not match the export manifest")),
}
ALL = tuple(_ARGUMENTS)


def add_model_options(p: argparse.ArgumentParser, only: tuple[str, ...] = ALL,
                      helps: dict[str, str] | None = None) -> None:
    """Add the model options named in ``only`` (all ten by default) to ``p``.

    ``helps`` replaces an option's help text where a command gives it another meaning
    (fmnist-serve's ``--threads`` sizes its worker pool).
    """
    for dest in only:
        flag, keywords = _ARGUMENTS[dest]
        if helps and dest in helps:
            keywords = {**keywords, "help": helps[dest]}
        p.add_argument(flag, dest=dest, **keywords)


def model_options(args: argparse.Namespace) -> ModelOptions:
    """The ``ModelOptions`` of parsed arguments (the fields a command did not declare keep defaults)."""
    given = {f.name: getattr(args, f.name) for f in fields(ModelOptions) if hasattr(args, f.name)}
    if hasattr(args, "no_verify"):
        given["verify"] = not args.no_verify
    return ModelOptions(**given)


def decode_limits(args: argparse.Namespace) -> DecodeLimits:
    """The ``DecodeLimits`` of parsed arguments (``--max-pixels``)."""
    return DecodeLimits(max_pixels=getattr(args, "max_pixels", DEFAULT_MAX_PIXELS))
