import pytest

keras = pytest.importorskip("keras")


def tiny_model(input_shape=(28, 28, 1)):
    """A 2-filter CNN (~3.4 k parameters): exports in seconds, exercises conv, pool and dense."""
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run folder holding a tiny model fitted for one epoch on synthetic data."""
    import numpy as np

    keras.utils.set_random_seed(0)
    model = tiny_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((256, 28, 28, 1), np.float32), rng.integers(0, 10, 256), epochs=1, verbose=0)
    run = tmp_path_factory.mktemp("tiny") / "run"
    run.mkdir()
    model.save(run / "model.keras")
    return run
