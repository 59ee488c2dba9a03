"""The AMX policy: deny makes the kernel refuse AMX to the process and its children; allow does not.

Each case runs in a fresh interpreter, because the filter cannot be removed once installed.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from fmnist_edge.runtime import amx
from fmnist_edge.runtime.errors import FmnistError

from .conftest import BUNDLED

needs_amx = pytest.mark.skipif(not amx.cpu_has_amx(), reason="this CPU has no AMX")

# asks the kernel for AMX the way XNNPACK and ONNX Runtime do, and prints the errno (0 = granted)
REQUEST = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
result = libc.syscall(158, 0x1023, 18)
print("errno", 0 if result == 0 else ctypes.get_errno())
"""


def _run(code: str, policy: str | None) -> subprocess.CompletedProcess:
    # unbuffered, so the lines of a child process the code starts come after the code's own
    env = {**{k: v for k, v in os.environ.items() if k != amx.ENV}, "PYTHONUNBUFFERED": "1"}
    if policy is not None:
        env[amx.ENV] = policy
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def _python(code: str, policy: str | None) -> list[str]:
    proc = _run(code, policy)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\n")


def test_policy_from_value_env_and_default(monkeypatch):
    monkeypatch.delenv(amx.ENV, raising=False)
    assert amx.policy_from() is None  # the library's default: no policy
    assert amx.command_policy(None) is amx.Amx.DENY  # the project's commands' default
    monkeypatch.setenv(amx.ENV, "allow")
    assert amx.policy_from() is amx.Amx.ALLOW and amx.command_policy(None) is amx.Amx.ALLOW
    assert amx.policy_from("deny") is amx.Amx.DENY  # an explicit value wins over the environment
    monkeypatch.setenv(amx.ENV, "off")
    with pytest.raises(FmnistError, match=r"\$FMNIST_AMX='off': expected one of deny, allow"):
        amx.policy_from()
    with pytest.raises(FmnistError, match="amx='maybe'"):
        amx.policy_from("maybe")


LOAD_TWICE = ("from fmnist_edge.runtime.classifier import Classifier\n"
              f"for _ in range(2): clf = Classifier.load({str(BUNDLED / 'doctor-tiny.tflite')!r})\n"
              "print(clf.describe()['amx'])\n")


@needs_amx
def test_the_library_leaves_the_process_alone_and_warns_once():
    proc = _run(LOAD_TWICE + REQUEST, None)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.split("\n")
    assert out[0].startswith("not set: engines may use AMX")
    assert out[1] == "errno 0"  # no seccomp filter: AMX is still granted on request
    warnings = [line for line in proc.stderr.splitlines() if "AMX" in line]
    assert len(warnings) == 1 and "FMNIST_AMX=deny" in warnings[0] and "amx='deny'" in warnings[0]


def test_no_warning_without_amx_or_with_a_policy():
    for policy in ("allow", "deny"):
        proc = _run(LOAD_TWICE, policy)
        assert proc.returncode == 0 and proc.stderr == "", (policy, proc.stderr)
    if not amx.cpu_has_amx():
        proc = _run(LOAD_TWICE, None)
        assert proc.returncode == 0 and proc.stderr == ""


@needs_amx
def test_the_library_denies_when_asked_by_the_environment():
    out = _python(LOAD_TWICE + REQUEST, "deny")
    assert out[0].startswith("denied: arch_prctl(ARCH_REQ_XCOMP_PERM) fails with EPERM")
    assert out[1] == "errno 1"


@needs_amx
def test_fmnist_predict_denies_amx_to_the_process_and_its_children(tmp_path):
    image = tmp_path / "a.npy"
    np.save(image, np.zeros((28, 28), np.uint8))
    code = ("from fmnist_edge.runtime import predict_cli\n"
            f"rc = predict_cli.main([{str(BUNDLED / 'doctor-tiny.tflite')!r}, {str(image)!r}])\n"
            "from fmnist_edge.runtime import amx\nprint(rc, amx.status().note)\n" + REQUEST +
            f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {REQUEST!r}])\n")
    out = _python(code, None)
    assert out[1].startswith("0 denied: arch_prctl(ARCH_REQ_XCOMP_PERM) fails with EPERM")
    assert out[2:4] == ["errno 1", "errno 1"]  # EPERM here and in a child process


@needs_amx
def test_allow_leaves_amx_available():
    code = ("from fmnist_edge.runtime import amx\nprint(amx.apply_policy().note)\n" + REQUEST +
            "print(amx.status().permission)\n")
    assert _python(code, "allow")[:3] == ["allowed: libraries may use AMX", "errno 0", "True"]


@needs_amx
def test_permission_granted_earlier_is_reported_not_hidden():
    code = REQUEST + "from fmnist_edge.runtime import amx\ns = amx.apply_policy('deny')\n" \
        "print(s.permission, s.note)\n"
    out = _python(code, None)
    assert out[0] == "errno 0"
    assert out[1].startswith("True AMX was granted to this process before fmnist-edge")


def test_bad_policy_from_the_environment_is_one_line_exit_2():
    code = ("import sys\nfrom fmnist_edge.runtime import predict_cli\n"
            f"sys.exit(predict_cli.main([{str(BUNDLED / 'doctor-tiny.tflite')!r}, 'x.npy']))\n")
    env = {**os.environ, amx.ENV: "sometimes"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("fmnist-predict: error: $FMNIST_AMX='sometimes': "
                                   "expected one of deny, allow")
