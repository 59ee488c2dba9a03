import subprocess
import sys


def test_native_stderr_is_captured_and_restored():
    code = (
        "import os\n"
        "from fmnist_edge.runtime.quiet import native_stderr_captured\n"
        "with native_stderr_captured() as c:\n"
        "    os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "os.write(2, b'after\\n')\n"
        "print(repr(c.text))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr == "after\n"
    assert "XNNPACK delegate" in proc.stdout
