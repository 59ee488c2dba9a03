"""One /proc/cpuinfo parser and one version lookup for the AMX policy, fmnist-doctor and reports."""

import pytest

from fmnist_edge.runtime import system
from fmnist_edge.runtime.doctor import cpu_features

X86 = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx2 avx512_vnni amx_int8\n\n"
PI5 = ("processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp\nCPU part\t: 0xd0b\n\n"
       "Model\t\t: Raspberry Pi 5 Model B Rev 1.0\n")


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    def use(text):
        (tmp_path / "cpuinfo").write_text(text)
        monkeypatch.setattr(system, "CPUINFO", str(tmp_path / "cpuinfo"))
        system.cpuinfo.cache_clear()
    yield use
    system.cpuinfo.cache_clear()


def test_x86_and_arm_cpuinfo(cpuinfo):
    cpuinfo(X86)
    assert system.cpu_model() == "Intel(R) Xeon(R) Processor"
    assert {"avx2", "amx_int8"} <= system.cpu_flags() and "avx512_vnni" in cpu_features()
    cpuinfo(PI5)
    assert system.cpu_model() == "Raspberry Pi 5 Model B Rev 1.0"
    assert cpu_features() == ["asimd", "asimddp"]


def test_no_cpuinfo_and_missing_packages(cpuinfo, monkeypatch):
    monkeypatch.setattr(system, "CPUINFO", "/nonexistent/cpuinfo")
    system.cpuinfo.cache_clear()
    assert system.cpuinfo() == () and system.cpu_model() is None and system.cpu_flags() == frozenset()
    assert system.installed_version("numpy") and system.installed_version("no-such-dist-x") is None
