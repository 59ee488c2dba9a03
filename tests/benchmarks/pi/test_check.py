"""The Raspberry Pi check: its parts on small inputs, then (slow) the emulated Pi itself."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fmnist_edge.benchmarks.pi import check as pi_check
from fmnist_edge.benchmarks.pi import report as pi_report
from fmnist_edge.benchmarks.pi import rootfs as pi_rootfs
from fmnist_edge.benchmarks.pi import sources as pi_sources
from fmnist_edge.benchmarks.pi import wheels as pi_wheels
from fmnist_edge.benchmarks.pi.guest import PI4, PI5, _why, cpuinfo
from fmnist_edge.benchmarks.pi.systems import Arch
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.formats import Backend


def test_apt_sources_come_from_the_host_files(tmp_path):
    etc = tmp_path / "etc"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list").write_text("# nothing but a comment\n")
    (etc / "sources.list.d/debian.sources").write_text("Types: deb\nURIs: http://mirror.invalid/debian\n"
                                                       "Suites: bookworm\nComponents: main\n")
    (etc / "sources.list.d/extra.list").write_text("deb http://mirror.invalid/extra bookworm main\n")
    (etc / "sources.list.d/old.list.disabled").write_text("deb http://mirror.invalid/old bookworm main\n")
    found = pi_rootfs.host_source_files((etc / "sources.list", etc / "sources.list.d"))
    assert [p.name for p in found] == ["debian.sources", "extra.list"]
    conf = pi_rootfs.apt_config(tmp_path / "apt", found).read_text()
    assert 'APT::Architecture "arm64";' in conf and "mirror.invalid" not in conf
    derived = (tmp_path / "apt/sources.list.d/debian-bookworm-arm64.sources").read_text()
    assert derived.count("Types: deb") == 2 and "URIs: http://mirror.invalid/extra" in derived
    with pytest.raises(FmnistError, match="no apt sources on this host"):
        pi_rootfs.apt_config(tmp_path / "apt2", [])


DEBIAN_LIST = """\
# the classic one-line format (Debian 11/12 installs)
deb http://mirror.invalid/debian bookworm main contrib
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.invalid/debian bookworm-updates main
deb-src http://mirror.invalid/debian bookworm main
deb http://security.invalid/debian-security bookworm-security main
deb [arch=amd64] https://vendor.invalid/node nodistro main
"""
DEBIAN_SOURCES = """\
Types: deb
# http://snapshot.invalid/archive/debian/20250520T000000Z
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://vendor.invalid/node_20.x
Suites: nodistro
Components: main
Architectures: amd64
"""
UBUNTU_LIST = "deb http://archive.invalid/ubuntu/ noble main restricted\n" \
              "deb http://archive.invalid/ubuntu/ noble-updates main restricted universe\n"
UBUNTU_SOURCES = """\
Types: deb
URIs: http://archive.invalid/ubuntu/
Suites: noble noble-updates noble-backports
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
"""


def _derive(tmp_path, name, text, arch="arm64", release=None):
    (tmp_path / name).write_text(text)
    return pi_sources.guest_sources([tmp_path / name], arch, release)


@pytest.mark.parametrize("name, text, suites, signed", [
    ("sources.list", DEBIAN_LIST, ["bookworm", "bookworm-updates", "bookworm-security"], [1]),
    ("debian.sources", DEBIAN_SOURCES, ["bookworm bookworm-updates", "bookworm-security"], [0, 1]),
])
def test_debian_sources_become_arm64_debian_sources(tmp_path, name, text, suites, signed):
    stanzas = _derive(tmp_path, name, text).strip().split("\n\n")
    assert [s.splitlines()[2] for s in stanzas] == [f"Suites: {s}" for s in suites]
    assert all(s.startswith("Types: deb\nURIs: http") and "Architectures: arm64" in s for s in stanzas)
    assert not any("vendor.invalid" in s or "amd64" in s or "deb-src" in s for s in stanzas)
    key = "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    assert [i for i, s in enumerate(stanzas) if key in s] == signed


def test_a_guest_of_another_release_and_architecture_gets_its_suites(tmp_path):
    """A bookworm host's mirror serves the trixie armhf guest: each codename is replaced, the
    security suite too, and the mirror and keyring stay."""
    stanzas = _derive(tmp_path, "debian.sources", DEBIAN_SOURCES, "armhf", "trixie").strip().split("\n\n")
    assert [s.splitlines()[2] for s in stanzas] == ["Suites: trixie trixie-updates", "Suites: trixie-security"]
    assert all("Architectures: armhf" in s and "URIs: http://mirror.invalid/debian" in s for s in stanzas)
    assert pi_sources.at_release("stable/updates", "trixie") == "trixie/updates"


@pytest.mark.parametrize("name, text", [("sources.list", UBUNTU_LIST), ("ubuntu.sources", UBUNTU_SOURCES)])
def test_ubuntu_sources_are_refused_with_what_to_do(tmp_path, name, text):
    with pytest.raises(FmnistError, match=r"Ubuntu's \(noble.*ports archive.*debian:bookworm container"):
        _derive(tmp_path, name, text)


def test_only_third_party_sources_are_refused(tmp_path):
    with pytest.raises(FmnistError, match="no Debian apt sources on this host"):
        _derive(tmp_path, "vendor.list", "deb https://vendor.invalid/node nodistro main\n")


def test_every_manylinux_tag_up_to_the_guest_glibc():
    tags = pi_wheels.manylinux_platforms("2.36")
    assert tags[0] == "manylinux2014_aarch64" and tags[1] == "manylinux_2_17_aarch64"
    assert tags[-1] == "manylinux_2_36_aarch64" and len(tags) == 21
    with pytest.raises(FmnistError, match="glibc 2.12"):
        pi_wheels.manylinux_platforms("2.12")
    assert pi_wheels.manylinux_platforms("2.36", "armv7l")[-1] == "manylinux_2_36_armv7l"


def test_the_matrix_covers_every_release_architecture_and_the_numpy_engine():
    """Four systems, each on its two Pis (make pi-matrix); the default cells (make test) still
    hold each release, each architecture and every engine a system brings."""
    from fmnist_edge.benchmarks.pi.systems import SYSTEMS

    assert [s.name for s in SYSTEMS] == ["bookworm-arm64", "trixie-arm64", "bookworm-armhf", "trixie-armhf"]
    assert len(pi_check.FULL) == 8 and len(pi_check.DEFAULT) == 4
    default = {system for system, _ in pi_check.DEFAULT}
    assert {s.release for s in default} == {"bookworm", "trixie"} and {s.arch for s in default} == set(Arch)
    engines = {b for s in SYSTEMS for env in s.envs for _, _, b in env.models}
    assert engines == {Backend.LITERT, Backend.ONNXRUNTIME, Backend.TFLITE_RUNTIME, Backend.NUMPY}
    for system in SYSTEMS:  # the numpy engine everywhere; no engine where no wheel exists
        found = {b for env in system.envs for _, _, b in env.models}
        assert Backend.NUMPY in found
        assert (Backend.LITERT in found) == (system.arch is Arch.ARM64)
        assert (Backend.TFLITE_RUNTIME in found) == (system.release == "bookworm")
    assert [c.qemu_cpu for c in {cpu for s in SYSTEMS if s.arch is Arch.ARMHF for cpu in s.cpus}] != []
    assert pi_check.cells_of("full", ("trixie-armhf",), ("max",))[0][1].bits == 32


def test_32_bit_cpuinfo_is_an_armv7_kernels():
    from fmnist_edge.benchmarks.pi.guest import PI3_32

    text = cpuinfo(PI3_32)
    assert "CPU architecture: 7" in text and "(v7l)" in text and "neon" in text and "asimd" not in text


def test_the_links_a_packages_postinst_would_make(tmp_path):
    """merged /usr (trixie) and BLAS through update-alternatives, made by hand in an unpacked root."""
    root = tmp_path / "root"
    (root / "usr/lib/arm-linux-gnueabihf/blas").mkdir(parents=True)
    (root / "usr/lib/arm-linux-gnueabihf/blas/libblas.so.3").write_text("elf")
    (root / "usr/sbin").mkdir()
    pi_rootfs.merge_usr(root)
    pi_rootfs.alternatives(root)
    assert (root / "sbin").is_symlink() and str((root / "sbin").readlink()) == "usr/sbin"
    assert not (root / "bin").exists()  # no usr/bin here: nothing to link
    assert (root / "usr/lib/arm-linux-gnueabihf/libblas.so.3").read_text() == "elf"
    assert not (root / "usr/lib/arm-linux-gnueabihf/libblas.so.3").readlink().is_absolute()


def test_pi_cpuinfo_tells_pi4_from_pi5():
    pi4, pi5 = cpuinfo(PI4), cpuinfo(PI5)
    assert pi4.count("processor\t:") == 4 and "0xd08" in pi4 and "asimddp" not in pi4
    assert "0xd0b" in pi5 and "asimddp" in pi5 and "Raspberry Pi 5" in pi5


def test_foreign_wheels_and_signals_are_named(tmp_path):
    for name in ("numpy-2.4.6-cp311-cp311-manylinux_2_27_aarch64.whl", "pip-26.3-py3-none-any.whl",
                 "numpy-2.4.6-cp311-cp311-manylinux_2_17_x86_64.whl"):
        (tmp_path / name).touch()
    assert pi_wheels.foreign_wheels(tmp_path) == ["numpy-2.4.6-cp311-cp311-manylinux_2_17_x86_64.whl"]
    killed = subprocess.CompletedProcess([], -4, "", "")
    assert _why(killed).startswith("killed by SIGILL (an instruction this CPU lacks")
    failed = subprocess.CompletedProcess([], 1, "", "Traceback…\nERROR: No matching distribution\n\n")
    assert _why(failed) == "ERROR: No matching distribution"


def _record(mismatches, images=1000, backend="litert"):
    return {"format": "tflite", "quantization": "int8", "backend": backend, "cpu": "cortex-a72",
            "system": "bookworm-arm64", "run": "seed-cnn", "mismatches": mismatches, "images": images}


def test_a_guest_benchmark_must_say_emulated_and_match_x86_accuracy():
    bench = {"cpu": "cortex-a76", "system": "trixie-arm64", "emulated": False,
             "models": [{"model": "model_int8.tflite", "backend": "litert", "accuracy": 0.88,
                         "x86_accuracy": 0.886},
                        {"model": "model_int8.onnx", "backend": "onnxruntime", "accuracy": 0.885,
                         "x86_accuracy": 0.885},
                        # one image of 500 (0.2 points): inside 0.5 % for an engine, never for numpy
                        {"model": "model_mixed.tflite", "backend": "tflite-runtime", "accuracy": 0.926,
                         "x86_accuracy": 0.928},
                        {"model": "model_float32.tflite", "backend": "numpy", "accuracy": 0.926,
                         "x86_accuracy": 0.928}]}
    found = pi_report.failures({"max_mismatch_pct": 0.5, "records": [], "predict": [],
                                "bench": [bench]})
    assert found == ["fmnist-bench (trixie-arm64 cortex-a76): the report does not say it was emulated",
                     "fmnist-bench (trixie-arm64 cortex-a76): model_int8.tflite on litert accuracy "
                     "0.8800, x86 0.886",
                     "fmnist-bench (trixie-arm64 cortex-a76): model_float32.tflite on numpy accuracy "
                     "0.9260, x86 0.928"]


def test_a_guest_server_must_answer_like_x86_and_exit_0():
    serve = {"cpu": "cortex-a72", "system": "bookworm-arm64", "files": 4, "mismatches": 1, "healthz": 200,
             "bad_input_status": 400, "exit_code": -15, "metrics_counted": True}
    found = pi_report.failures({"max_mismatch_pct": 0.5, "records": [], "predict": [],
                                "serve": [serve]})
    assert found == ["fmnist-serve (bookworm-arm64 cortex-a72): 1 of 4 labels differ from x86; "
                     "/healthz 200, a non-image 400",
                     "fmnist-serve (bookworm-arm64 cortex-a72): exit -15 after SIGTERM; /metrics "
                     "counted the requests: True"]


def test_failures_count_mismatches_against_the_threshold():
    report = {"max_mismatch_pct": 0.5, "records": [_record(5), _record(6), _record(1, backend="numpy")],
              "predict": [{"environment": "main", "cpu": "cortex-a76", "system": "trixie-arm64",
                           "mismatches": 1, "files": 4}]}
    found = pi_report.failures(report)
    assert len(found) == 3
    assert "6 of 1000 predictions differ from x86 (0.60 % > 0.5 %)" in found[0]
    # the numpy engine runs the same code here and there: one difference is a failure
    assert "on numpy (bookworm-arm64 cortex-a72): 1 of 1000 predictions differ from this machine's" in found[1]
    assert "fmnist-predict (main, trixie-arm64 cortex-a76): 1 of 4 labels differ" in found[2]


@pytest.mark.parametrize("args, fragment", [
    (["/nonexistent/export"], "no manifest.json"),
    (["--images", "0"], "--images"),
    (["--cpu", "cortex-a53"], "--cpu"),
    (["--system", "buster-arm64"], "--system"),
    (["--system", "trixie-armhf", "--cpu", "cortex-a72"], "no cell of the default matrix"),
])
def test_bad_input_is_one_line_exit_2(args, fragment, capsys, tmp_path):
    try:
        code = pi_check.main(args + ["--cache", str(tmp_path)])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pi-check: error:") and fragment in err, err


def test_missing_wheelhouse_is_one_line_exit_2(export_dir, tmp_path, capsys):
    assert pi_check.main([str(export_dir), "--wheelhouse", str(tmp_path / "none"),
                          "--cache", str(tmp_path / "cache")]) == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_a_32_bit_pi_with_no_engine_matches_x86(tutorial_export, tmp_path, pi_cache):
    """32-bit trixie on the Pi 3's cell (make pi-check runs its Pi 4 one, with the device benchmark,
    and merges that into the fleet report): NumPy and Pillow from Debian in a venv with system
    site packages, no engine wheel exists, so everything runs on the numpy engine."""
    out = tmp_path / "reports"
    assert pi_check.main([str(tutorial_export.out_dir), "--matrix", "full", "--system", "trixie-armhf",
                          "--cpu", "cortex-a7", "--images", "200", "--no-bench", "--out", str(out),
                          "--cache", str(pi_cache)]) == 0
    report = json.loads((out / "pi.json").read_text())
    assert pi_report.failures(report) == [] and "Result: passed" in (out / "pi.md").read_text()
    assert {(r["system"], r["cpu"], r["backend"]) for r in report["records"]} == \
        {("trixie-armhf", "cortex-a7", "numpy")}
    assert all(r["images"] == 200 and r["mismatches"] == 0 for r in report["records"])
    assert all(r["max_abs_prob_diff"] == 0 for r in report["records"] if r["quantization"] == "int8")
    facts = report["systems"]["trixie-armhf"]
    assert facts["python"] == "3.13" and facts["debian_versions"]["numpy"].startswith("2.")
    assert "numpy" not in facts["installs"]["core"]["versions"]  # Debian's, not a wheel
    (doctor,) = report["doctor"]
    assert doctor["engines"] == ["numpy"] and "armv7l" in doctor["text"]
    assert "no TFLite or ONNX engine has a 32-bit ARM wheel for Python 3.13" in doctor["text"]
    (predicted,) = report["predict"]
    assert predicted["files"] == 5 and predicted["mismatches"] == 0  # 4 PNGs and a phone JPEG
    assert report["bench"] == [] and "emulated-trixie-armhf-cortex-a7" not in str(list(out.rglob("*")))


@pytest.mark.slow
def test_a_wheel_for_the_wrong_platform_fails_clearly(tutorial_export, tmp_path, capsys, pi_cache):
    rootfs = pi_rootfs.build_rootfs(pi_cache, shutil.which("qemu-aarch64-static"))  # bookworm arm64
    house = tmp_path / "wheels"
    pi_wheels.download(house, ["numpy>=1.26", "Pillow>=10", "ai-edge-litert>=2.0",
                               "onnxruntime>=1.20", "starlette>=0.40", "uvicorn>=0.30",
                               "prometheus-client>=0.20", "python-multipart>=0.0.9", "pip"],
                       rootfs.python_version, rootfs.glibc)
    for wheel in house.glob("numpy-*.whl"):
        wheel.unlink()  # the aarch64 NumPy goes; an x86-64 one takes its place
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", "-d", str(house), f"numpy=={np.__version__}"], check=True)
    code = pi_check.main([str(tutorial_export.out_dir), "--system", "bookworm-arm64", "--images", "10",
                          "--wheelhouse", str(house), "--out", str(tmp_path / "out"),
                          "--cache", str(pi_cache)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert "the Pi's pip refused fmnist-edge[litert,onnx,serve]" in err and "numpy" in err
    assert "not for aarch64: numpy-" in err and "x86_64" in err


def test_a_second_check_waits_for_the_one_using_the_cache(tmp_path, capsys):
    import fcntl
    import threading

    entered = threading.Event()

    def second():
        with pi_check._cache_lock(tmp_path):
            entered.set()

    with open(tmp_path / ".lock", "w") as first:  # a check in progress holds the cache
        fcntl.flock(first, fcntl.LOCK_EX)
        thread = threading.Thread(target=second)
        thread.start()
        assert not entered.wait(0.5)  # the second waits ...
    thread.join(10)
    assert entered.is_set()  # ... and runs once the first is done
    assert "waiting for another Pi check using" in capsys.readouterr().err


def test_the_newest_python_and_pip_are_picked_as_versions_not_strings(tmp_path):
    final = tmp_path / "rootfs"
    (final / "root/usr/bin").mkdir(parents=True)
    for name in ("python3.9", "python3.11", "python3.11-config", "python3"):
        (final / "root/usr/bin" / name).touch()
    (final / pi_rootfs.STAMP).write_text(json.dumps({"debs": ["libc6_2.36-9_arm64.deb"]}))
    found = pi_rootfs._load(final)
    assert found.python.name == "python3.11" and found.python_version == "3.11"
    house = tmp_path / "wheels"
    house.mkdir()
    for name in ("pip-9.0.3-py2.py3-none-any.whl", "pip-24.0-py3-none-any.whl",
                 "pip-10.0.1-py2.py3-none-any.whl"):
        (house / name).touch()
    assert pi_wheels.pip_wheel(house).name == "pip-24.0-py3-none-any.whl"
