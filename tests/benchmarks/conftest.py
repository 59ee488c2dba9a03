from tests.runtime.conftest import export_dir  # noqa: F401  (the tiny-model export fixture)
