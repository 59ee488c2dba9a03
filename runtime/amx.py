"""Intel AMX policy: keep XNNPACK off its AMX int8 kernels, which are slower for small CNNs.

On CPUs with AMX (Intel Sapphire Rapids and newer) XNNPACK picks its AMX int8 GEMM kernels
(16×64 tiles). For the tutorial CNN they are the slow path: the first 3×3 convolution has K = 9
and 32 output channels, so most of each tile is padding. Measured on a 2-core Xeon with AMX,
ai-edge-litert 2.3.0, 1 thread: int8 batch-1 p50 30.1 µs with AMX vs 15.3 µs without (float32
69 µs either way), batch-256 int8 38 k vs 79 k images/s. Ollama disabled AMX on Sapphire Rapids
for the same reason (ollama/ollama#9203).

Linux hands out AMX per process: a library must ask with ``arch_prctl(ARCH_REQ_XCOMP_PERM)``
before using it, and XNNPACK falls back to AVX-512 VNNI when that call fails. ``deny`` installs
a seccomp filter that makes exactly that call fail with EPERM, for every thread of this process
and its children. Side effect: seccomp needs ``no_new_privs``, so child processes can no longer
gain privileges through setuid programs (``sudo``). ``allow`` leaves the process alone. A
permission already granted cannot be taken back; the status says so.

Who decides: the library (``Classifier.load``) applies a policy only when asked, by ``amx=`` or
``$FMNIST_AMX``; unasked, on a CPU with AMX, it logs one warning and leaves the host process as it
is. The project's own commands (fmnist-predict, fmnist-bench, fmnist-doctor, the layer and overhead
benchmarks) default to ``deny``, where it was measured to help (:func:`command_policy`).
"""

from __future__ import annotations

import os
import struct
import sys
from typing import NamedTuple

from .cliutil import member, values
from .errors import FmnistError
from .formats import Choice
from .system import cpu_flags

ENV = "FMNIST_AMX"
SYS_ARCH_PRCTL, SYS_SECCOMP = 158, 317  # x86-64 syscall numbers
ARCH_GET_XCOMP_PERM, ARCH_REQ_XCOMP_PERM = 0x1022, 0x1023
XFEATURE_XTILEDATA = 18
PR_SET_NO_NEW_PRIVS, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 38, 1, 1
AUDIT_ARCH_X86_64 = 0xC000003E
# BPF: arch == x86-64 and nr == arch_prctl and args[0] == ARCH_REQ_XCOMP_PERM → EPERM, else allow.
# Offsets into struct seccomp_data: nr 0, arch 4, args[0] 16 (low 32 bits, little endian).
_FILTER = ((0x20, 0, 0, 4), (0x15, 0, 5, AUDIT_ARCH_X86_64), (0x20, 0, 0, 0),
           (0x15, 0, 3, SYS_ARCH_PRCTL), (0x20, 0, 0, 16), (0x15, 0, 1, ARCH_REQ_XCOMP_PERM),
           (0x06, 0, 0, 0x00050000 | 1), (0x06, 0, 0, 0x7FFF0000))


class Amx(Choice):
    """What to do about Intel AMX before an inference engine loads."""

    DENY = "deny"  # refuse AMX to this process: XNNPACK uses AVX-512 VNNI (faster here)
    ALLOW = "allow"  # leave the process alone: libraries may use AMX


class AmxStatus(NamedTuple):  # a record, not a dataclass: 0.4 ms less at import (runtime.formats)
    """The CPU's AMX support, the policy asked for, and what this process holds now."""

    cpu: bool  # the CPU advertises AMX-INT8
    policy: str
    permission: bool | None  # AMX tile permission held by the process (None: not Linux x86-64)
    note: str

    def as_dict(self) -> dict:
        """JSON-friendly form for reports."""
        return {"cpu_amx_int8": self.cpu, "policy": self.policy, "permission": self.permission,
                "note": self.note}


UNSET = "unset"
UNSET_NOTE = ("not set: engines may use AMX (amx='deny' or FMNIST_AMX=deny refuses it to this "
              "process)")
# Measured on a 2-core Xeon with AMX, tutorial CNN, ai-edge-litert 2.3.0, 1 thread (see above).
WARNING = ("this CPU has Intel AMX and no AMX policy is set: XNNPACK's AMX int8 kernels ran the "
           "tutorial CNN's int8 model about 2x slower at batch 1 (30 vs 15 us); pass "
           "Classifier.load(amx='deny') or set FMNIST_AMX=deny to refuse AMX to this process "
           "(a seccomp filter, inherited by child processes), or FMNIST_AMX=allow to keep it "
           "without this warning")
_state = {"policy": None, "note": UNSET_NOTE, "warned": False}


def policy_from(value: str | Amx | None = None, default: Amx | None = None) -> Amx | None:
    """``value``, else ``$FMNIST_AMX``, else ``default``; a one-line error for anything else."""
    raw = value if value is not None else os.environ.get(ENV) or None
    if raw is None:
        return default
    found = member(Amx, raw)
    if found is None:
        where = f"${ENV}" if value is None else "amx"
        raise FmnistError(f"{where}={raw!r}: expected one of {values(Amx)}")
    return found


def command_policy(value: str | Amx | None = None) -> Amx:
    """The project's commands: ``--amx``, else ``$FMNIST_AMX``, else ``deny``."""
    return policy_from(value, Amx.DENY)


def apply_policy(value: str | Amx | None = None) -> AmxStatus:
    """Apply the AMX policy once per process (later calls only report); returns the status.

    With no policy (no ``value``, no ``$FMNIST_AMX``) nothing is changed; on a CPU with AMX one
    warning is logged per process, and a later call may still apply a policy. Commands pass
    :func:`command_policy`'s answer.
    """
    policy = policy_from(value)
    if _state["policy"] is None:
        if policy is None:
            _warn_once()
        else:
            _state["policy"] = policy.value
            _state["note"] = _deny() if policy is Amx.DENY else "allowed: libraries may use AMX"
    return status()


def status() -> AmxStatus:
    """The AMX status of this process, without changing anything."""
    return AmxStatus(cpu_has_amx(), _state["policy"] or UNSET, _permission(), _state["note"])


def _warn_once() -> None:
    if cpu_has_amx() and not _state["warned"]:
        _state["warned"] = True
        import logging

        logging.getLogger(__name__).warning("fmnist-edge: %s", WARNING)


def cpu_has_amx() -> bool:
    """True when /proc/cpuinfo lists ``amx_int8`` (Linux x86-64 only)."""
    return _linux_x86_64() and "amx_int8" in cpu_flags()


def _linux_x86_64() -> bool:
    return sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "AMD64")


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _permission() -> bool | None:
    if not cpu_has_amx():  # nothing to grant: no libc handle, no syscall
        return None
    import ctypes

    mask = ctypes.c_uint64(0)
    if _libc().syscall(SYS_ARCH_PRCTL, ARCH_GET_XCOMP_PERM, ctypes.byref(mask)) != 0:
        return None
    return bool(mask.value & (1 << XFEATURE_XTILEDATA))


def _deny() -> str:
    if not cpu_has_amx():
        return "no AMX on this CPU: nothing to deny"
    if _permission():
        return "AMX was granted to this process before fmnist-edge loaded a model: cannot revoke"
    try:
        _install_filter()
    except OSError as exc:
        return f"could not deny AMX ({exc}); engines may use it"
    return "denied: arch_prctl(ARCH_REQ_XCOMP_PERM) fails with EPERM in this process"


def _install_filter() -> None:
    """seccomp(SET_MODE_FILTER, TSYNC): every thread, present and future, gets the filter."""
    import ctypes

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *op) for op in _FILTER))
    prog = SockFprog(len(_FILTER), ctypes.cast(code, ctypes.c_void_p))
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    result = libc.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
                          ctypes.byref(prog))
    if result != 0:  # -1 with errno, or the id of a thread that could not be synchronised
        raise OSError(ctypes.get_errno(), f"seccomp filter refused (result {result})")
