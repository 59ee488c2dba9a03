from fmnist_edge.runtime import doctor
from fmnist_edge.runtime.formats import Backend


def test_report_lists_platform_features_and_working_backends(capsys):
    assert doctor.main([]) == 0
    out = capsys.readouterr().out
    for name in ("platform", "machine", "python", "numpy", "libc", "cpu features"):
        assert name in out
    assert "litert" in out and "ok: doctor-tiny.tflite" in out
    assert "onnxruntime" in out and "ok: doctor-tiny.onnx" in out


def test_no_working_backend_exits_1_and_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "availability", lambda backend: f"{backend.value} missing")
    assert doctor.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'fmnist-edge[litert]'" in err


def test_32bit_arm_is_told_plainly(monkeypatch, capsys):
    monkeypatch.setattr(doctor.platform, "machine", lambda: "armv7l")
    monkeypatch.setattr(doctor, "availability",
                        lambda backend: None if backend is Backend.NUMPY else f"{backend.value} missing")
    assert doctor.is_32bit_arm()
    assert doctor.main([]) == 0  # the numpy engine runs the bundled TFLite model
    out = capsys.readouterr().out
    assert out.count("32-bit ARM userland") == 1 and "ok: doctor-tiny.tflite, none (numpy)" in out
    assert "faster engine" in out
    assert "pip install 'fmnist-edge[tflite-runtime]'" in doctor.faster_engine((3, 11))
    assert doctor.faster_engine((3, 13)).startswith("none: no TFLite or ONNX engine")


def test_given_model_of_the_other_format_is_skipped(capsys):
    result = doctor.smoke_test(Backend.ONNXRUNTIME, doctor.BUNDLED / "doctor-tiny.tflite")
    assert result.startswith("skipped")
