"""The AMX policy: deny makes the kernel refuse AMX to the process and its children; allow does not.

Each case runs in a fresh interpreter, because the filter cannot be removed once installed.
"""

import os
import subprocess
import sys

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


def _python(code: str, policy: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != amx.ENV}
    if policy is not None:
        env[amx.ENV] = policy
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\n")


def test_policy_from_value_env_and_default(monkeypatch):
    monkeypatch.delenv(amx.ENV, raising=False)
    assert amx.policy_from() is amx.Amx.DENY
    monkeypatch.setenv(amx.ENV, "allow")
    assert amx.policy_from() is amx.Amx.ALLOW
    assert amx.policy_from("deny") is amx.Amx.DENY  # an explicit value wins over the environment
    monkeypatch.setenv(amx.ENV, "off")
    with pytest.raises(FmnistError, match=r"\$FMNIST_AMX='off': expected one of deny, allow"):
        amx.policy_from()
    with pytest.raises(FmnistError, match="amx='maybe'"):
        amx.policy_from("maybe")


@needs_amx
def test_default_denies_amx_to_the_process_and_its_children():
    code = ("from fmnist_edge.runtime.classifier import Classifier\n"
            f"clf = Classifier.load({str(BUNDLED / 'doctor-tiny.tflite')!r})\n"
            "print(clf.describe()['amx'])\n" + REQUEST +
            f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {REQUEST!r}])\n")
    out = _python(code, None)
    assert out[0].startswith("denied: arch_prctl(ARCH_REQ_XCOMP_PERM) fails with EPERM")
    assert out[1:3] == ["errno 1", "errno 1"]  # EPERM here and in a child process


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
