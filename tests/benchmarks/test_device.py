"""The device record: read from the system, None where the system does not have a field."""

from fmnist_edge.benchmarks import device
from fmnist_edge.benchmarks.report import device_lines
from fmnist_edge.runtime import system

PI5_CPUINFO = (("processor", "0"), ("BogoMIPS", "108.00"),
               ("Features", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                "asimdrdm lrcpc dcpop asimddp"),
               ("CPU implementer", "0x41"), ("CPU part", "0xd0b"), ("processor", "1"),
               ("CPU implementer", "0x41"), ("CPU part", "0xd0b"), ("Model", "Raspberry Pi 5 Model B Rev 1.0"))


def test_a_pi5_cpuinfo_gives_its_core_and_kernel_features(monkeypatch, tmp_path):
    monkeypatch.setattr(system, "cpuinfo", lambda: PI5_CPUINFO)
    monkeypatch.setattr(device, "CPUFREQ", tmp_path)
    (tmp_path / "scaling_cur_freq").write_text("2400000\n")
    (tmp_path / "cpuinfo_max_freq").write_text("2400000\n")
    (tmp_path / "scaling_governor").write_text("ondemand\n")
    monkeypatch.setenv(device.EMULATED_ENV, "qemu-aarch64 -cpu cortex-a76")
    record = device.device_record("pi5-desk", {"seed-cnn": "ab" * 32}, device.soc_state(),
                                  device.soc_state())
    assert record["arm"] == {"implementer": "0x41", "part": "0xd0b", "core": "Cortex-A76"}
    assert {"asimddp", "fphp", "asimdhp"} <= set(record["cpu_features"])
    assert "i8mm" not in record["cpu_features"]  # a Pi 5 has no int8 matrix multiply
    assert record["cpu"] == "Raspberry Pi 5 Model B Rev 1.0"
    assert (record["governor"], record["max_frequency_mhz"]) == ("ondemand", 2400)
    assert record["before"]["frequency_mhz"] == 2400
    assert record["name"] == "pi5-desk" and record["emulated"] == "qemu-aarch64 -cpu cortex-a76"
    lines = device_lines({"device": record})
    assert lines[0].startswith("- Device: pi5-desk") and "Cortex-A76" in lines[0]
    assert "emulated (qemu-aarch64 -cpu cortex-a76)" in lines[0]
    assert "seed-cnn abababababab" in lines[2]


def test_an_x86_machine_has_no_arm_core_and_is_not_emulated(monkeypatch, tmp_path):
    monkeypatch.setattr(system, "cpuinfo", lambda: (("model name", "AMD EPYC"),
                                                    ("flags", "sse4_2 avx2 avx512f avx512_vnni"),))
    monkeypatch.setattr(device, "CPUFREQ", tmp_path / "none")
    monkeypatch.setattr(device, "THERMAL", tmp_path / "none")
    monkeypatch.setattr(device.shutil, "which", lambda name: None)  # no vcgencmd
    monkeypatch.delenv(device.EMULATED_ENV, raising=False)
    record = device.device_record(None, {}, device.soc_state(), device.soc_state())
    assert record["arm"] is None and record["emulated"] is False
    assert "avx512_vnni" in record["cpu_features"] and record["name"]
    assert record["before"] == {"temperature_c": None, "throttled": None, "frequency_mhz": None}
    assert "not readable" in device_lines({"device": record})[1]


def test_the_thermal_zone_gives_the_temperature_without_vcgencmd(monkeypatch, tmp_path):
    (tmp_path / "temp").write_text("48312\n")
    monkeypatch.setattr(device, "THERMAL", tmp_path / "temp")
    monkeypatch.setattr(device.shutil, "which", lambda name: None)
    assert device.soc_state()["temperature_c"] == 48.312
