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


def test_machine_summary_names_the_simd_level(cpuinfo):
    # two VMs both called "AMD EPYC" (Zen 4 with AVX-512 VNNI, Zen 3 with AVX2) must read apart
    cpuinfo(X86)
    assert system.machine_summary().startswith("Intel(R) Xeon(R) Processor (AMX), ")
    cpuinfo("model name\t: AMD EPYC\nflags\t\t: fpu avx avx2 fma\n")
    assert system.machine_summary().startswith("AMD EPYC (AVX2), ")
    cpuinfo(PI5)
    assert system.simd_level() == "NEON dot product"
    assert system.simd_level(["avx2", "avx512f", "avx512_vnni"]) == "AVX-512 VNNI"
    assert system.cpu_label("AMD EPYC", []) == "AMD EPYC"  # an old report without features
    assert system.cpu_label(None, ["avx2"]) is None


def test_no_cpuinfo_and_missing_packages(cpuinfo, monkeypatch):
    monkeypatch.setattr(system, "CPUINFO", "/nonexistent/cpuinfo")
    system.cpuinfo.cache_clear()
    assert system.cpuinfo() == () and system.cpu_model() is None and system.cpu_flags() == frozenset()
    assert system.installed_version("numpy") and system.installed_version("no-such-dist-x") is None
