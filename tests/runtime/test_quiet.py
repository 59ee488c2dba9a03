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


def test_threads_capturing_at_once_leave_stderr_where_it_was():
    # two threads swapping fd 2 unserialized can restore each other's temporary file for good
    code = (
        "import os, threading, time\n"
        "from fmnist_edge.runtime.quiet import native_stderr_captured\n"
        "def work():\n"
        "    for _ in range(300):\n"
        "        with native_stderr_captured():\n"
        "            time.sleep(0.0005)\n"
        "threads = [threading.Thread(target=work) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "os.write(2, b'still here\\n')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr == "still here\n"
