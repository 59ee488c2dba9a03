import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fmnist_edge.runtime.errors import FmnistError  # noqa: E402
from fmnist_edge.train.config import Activation, ModelKind, Optimizer, TrainConfig  # noqa: E402
from fmnist_edge.train.models import build_model, count_macs  # noqa: E402


def _layers(model):
    return [(type(layer).__name__, layer.output.shape[1:]) for layer in model.layers]


def test_tutorial_cnn_is_exact():
    model = build_model(TrainConfig())
    assert _layers(model) == [
        ("InputLayer", (28, 28, 1)),
        ("Conv2D", (26, 26, 32)),
        ("MaxPooling2D", (13, 13, 32)),
        ("Flatten", (5408,)),
        ("Dense", (100,)),
        ("Dense", (10,)),
    ]
    assert model.count_params() == 542_230
    assert count_macs(model) == 736_488  # 194,688 conv + 540,800 + 1,000 dense
    conv, dense1, out = model.layers[1], model.layers[4], model.layers[5]
    assert conv.activation.__name__ == "relu" and dense1.activation.__name__ == "relu"
    assert type(conv.kernel_initializer).__name__ == "HeUniform"
    assert out.activation.__name__ == "softmax"
    assert type(model.optimizer).__name__ == "Adam"
    assert model.loss == "categorical_crossentropy"


def test_ann_layers_follow_dense_units():
    model = build_model(TrainConfig(model=ModelKind.ANN, dense_units=(64, 32, 16)))
    assert [t for t, _ in _layers(model)] == ["InputLayer", "Flatten", "Dense", "Dense", "Dense", "Dense"]
    assert model.count_params() == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    default = build_model(TrainConfig(model=ModelKind.ANN))
    assert [layer.units for layer in default.layers[2:]] == [256, 128, 10]


def test_hyperparameters_reach_the_layers():
    config = TrainConfig(filters=8, kernel_size=5, pool_size=3, activation=Activation.TANH,
                         dense_units=(20,), optimizer=Optimizer.SGD, learning_rate=0.05, momentum=0.9)
    model = build_model(config)
    conv = model.layers[1]
    assert conv.filters == 8 and conv.kernel_size == (5, 5)
    assert model.layers[2].pool_size == (3, 3)
    assert conv.activation.__name__ == "tanh"
    assert model.layers[4].units == 20
    assert type(model.optimizer).__name__ == "SGD"
    assert float(model.optimizer.momentum) == pytest.approx(0.9)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)


def test_same_seed_same_initial_weights():
    def weights(seed):
        keras.utils.set_random_seed(seed)
        return build_model(TrainConfig()).layers[1].get_weights()[0]

    np.testing.assert_array_equal(weights(3), weights(3))
    assert not np.array_equal(weights(3), weights(4))


def test_edge_cnn_halves_resolution_at_once_and_stays_small():
    model = build_model(TrainConfig(model=ModelKind.EDGE_CNN))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 32, 64] and convs[0].strides == (2, 2)
    assert [tuple(c.output.shape[1:3]) for c in convs] == [(14, 14), (14, 14), (7, 7)]
    assert all(not c.use_bias for c in convs)  # batch norm supplies the bias
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 3
    assert model.layers[-2].units == 128 and model.layers[-1].units == 10
    # 14·14·32·9 + 14·14·32·288 + 7·7·64·288 + 576·128 + 128·10 multiply-accumulates
    assert count_macs(model) == 56_448 + 1_806_336 + 903_168 + 73_728 + 1_280
    assert model.count_params() == 103_594  # the tutorial CNN has 542,230


def test_edge_cnn_recipe_and_overrides():
    recipe = TrainConfig(model=ModelKind.EDGE_CNN).resolved()
    assert (recipe.filters, recipe.epochs, recipe.batch_size, recipe.augment, recipe.erasing) == \
        (32, 100, 128, True, True)
    assert recipe.schedule.value == "cosine" and recipe.learning_rate == 0.003
    tutorial = TrainConfig().resolved()
    assert (tutorial.epochs, tutorial.batch_size, tutorial.augment, tutorial.schedule.value) == \
        (15, 32, False, "constant")
    mine = TrainConfig(model=ModelKind.EDGE_CNN, filters=8, augment=False, epochs=2).resolved()
    assert (mine.filters, mine.block_filters, mine.augment, mine.epochs) == (8, (8, 16, 32), False, 2)
    widths = TrainConfig(model=ModelKind.EDGE_CNN, filters=8, block_filters=(16, 48, 64)).resolved()
    assert widths.block_filters == (16, 48, 64) and widths.filters == 16  # the list wins
    assert widths.resolved() == widths
    assert TrainConfig().resolved().block_filters is None  # the tutorial CNN has one conv


def test_cosine_schedule_warms_up_then_decays_to_zero():
    from fmnist_edge.train.models import learning_rate

    schedule = learning_rate(TrainConfig(model=ModelKind.EDGE_CNN, epochs=4), steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 25, 40)]
    assert rates[0] == 0 and rates[1] == pytest.approx(0.0015) and rates[2] == pytest.approx(0.003)
    assert 0 < rates[3] < 0.003 and rates[4] == pytest.approx(0, abs=1e-9)
    assert learning_rate(TrainConfig(), 10) == 0.001  # the tutorial: constant


def test_augmentation_shifts_training_images():
    from fmnist_edge.train.fit import augmented

    x = np.zeros((64, 28, 28, 1), np.float32)
    x[:, 10:18, 2:8] = 1.0  # a bar near the left edge
    y = np.eye(10, dtype=np.float32)[np.arange(64) % 10]
    batches = list(augmented(x, y, TrainConfig(model=ModelKind.EDGE_CNN, batch_size=32,
                                               erasing=False, flip=False)))
    images = np.concatenate([np.asarray(b[0]) for b in batches])
    labels = np.concatenate([np.asarray(b[1]) for b in batches])
    assert images.shape == x.shape and sorted(labels.argmax(1)) == sorted(y.argmax(1))
    assert not all(np.array_equal(a, x[0]) for a in images)  # shifted
    assert images[:, :, 14:].sum() == 0  # by a pixel at most: nothing reaches the right half
    assert np.allclose(images.sum(axis=(1, 2, 3)), x[0].sum(), atol=8.5)  # the bar stays (a row may leave)


def test_random_erasing_blanks_one_patch_on_about_half_the_images():
    from fmnist_edge.train.fit import augmented

    x = np.ones((512, 28, 28, 1), np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(512) % 10]
    config = TrainConfig(model=ModelKind.EDGE_CNN, batch_size=128, augment=False)
    images = np.concatenate([np.asarray(b[0]) for b in augmented(x, y, config)])
    blank = (images == 0).mean(axis=(1, 2, 3))
    assert set(np.unique(images)) <= {0.0, 1.0}  # erased to the background's 0, nothing else
    assert 0.4 < (blank > 0).mean() < 0.6  # probability 0.5
    assert blank.max() <= 0.42 and blank[blank > 0].min() >= 0.01  # 2–40 % of the image


def test_dropout_and_label_smoothing_reach_the_model():
    plain = build_model(TrainConfig(model=ModelKind.EDGE_CNN, dropout=0.0))
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)
    model = build_model(TrainConfig(model=ModelKind.EDGE_CNN, dropout=0.3, label_smoothing=0.1))
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in drops] == [0.3, 0.3]  # before the hidden dense layer and the output
    assert [type(layer).__name__ for layer in model.layers[-4:]] == ["Dropout", "Dense", "Dropout", "Dense"]
    assert model.count_params() == plain.count_params()  # dropout has no weights
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    x = np.random.default_rng(0).random((4, 28, 28, 1), np.float32)
    assert np.allclose(model(x, training=False), model(x, training=False))  # off at inference


def test_reported_loss_is_plain_cross_entropy_even_with_label_smoothing():
    from fmnist_edge.train.fit import _evaluate

    keras.utils.set_random_seed(0)
    model = build_model(TrainConfig(model=ModelKind.ANN, dense_units=(8,), label_smoothing=0.2))
    out = model.layers[-1]
    out.set_weights([w * 5 for w in out.get_weights()])  # confident outputs, far from uniform
    x = np.random.default_rng(1).random((32, 28, 28, 1), np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(32) % 10]
    scores, predictions = _evaluate(model, (x, y), (x[:8], y[:8]), None)
    probs = np.asarray(model(x, training=False))
    p_true = np.clip(probs[np.arange(32), np.arange(32) % 10], 1e-7, 1)
    assert scores["train_loss"] == pytest.approx(float(-np.log(p_true).mean()), rel=1e-5)
    plain = keras.losses.categorical_crossentropy(y, probs)
    assert scores["train_loss"] == pytest.approx(float(np.mean(plain)), rel=1e-5)
    smoothed = float(model.loss(y, probs))
    assert abs(smoothed - scores["train_loss"]) > 1e-3  # the training loss would differ
    assert scores["train_accuracy"] == pytest.approx(float((probs.argmax(1) == np.arange(32) % 10).mean()))
    assert predictions is None  # no test set given: nothing to predict


def test_augmentation_is_the_same_for_the_same_seed():
    from fmnist_edge.train.fit import augmented

    x = np.random.default_rng(0).random((256, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(256) % 10]
    config = TrainConfig(model=ModelKind.EDGE_CNN, batch_size=32)  # shifts and erasing

    def images(seed):
        return np.concatenate([np.asarray(b[0]) for b in augmented(x, y, dataclasses.replace(config, seed=seed))])

    first = images(0)
    assert np.array_equal(first, images(0))  # same seed: the same shifts and erased patches
    assert not np.array_equal(first, images(1))


def test_flips_mirror_about_half_the_training_images():
    from fmnist_edge.train.fit import augmented

    x = np.zeros((512, 28, 28, 1), np.float32)
    x[:, 10:18, 2:8] = 1.0  # a bar near the left edge
    y = np.eye(10, dtype=np.float32)[np.arange(512) % 10]
    config = TrainConfig(model=ModelKind.EDGE_CNN, batch_size=128, augment=False, erasing=False, flip=True)
    images = np.concatenate([np.asarray(b[0]) for b in augmented(x, y, config)])
    mirrored = np.array([np.array_equal(a, x[0][:, ::-1]) for a in images])
    kept = np.array([np.array_equal(a, x[0]) for a in images])
    assert (mirrored | kept).all() and 0.4 < mirrored.mean() < 0.6


def test_global_pool_averages_the_last_block_and_shrinks_the_head():
    model = build_model(TrainConfig(model=ModelKind.EDGE_CNN, block_filters=(16, 32, 64), global_pool=True))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("MaxPooling2D") == 1 and "GlobalAveragePooling2D" in kinds and "Flatten" not in kinds
    assert model.layers[-2].kernel.shape == (64, 128)  # one input per channel, not 3·3·64
    with pytest.raises(FmnistError, match="edge-cnn only"):
        TrainConfig(global_pool=True).validate()


def test_ema_ships_the_averaged_weights():
    x = np.random.default_rng(0).random((256, 28, 28, 1), np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(256) % 10]

    def trained(ema: float):
        keras.utils.set_random_seed(0)
        model = build_model(TrainConfig(model=ModelKind.ANN, dense_units=(8,), ema=ema), steps_per_epoch=8)
        model.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
        return model

    averaged, last = trained(0.9), trained(0.0)
    assert averaged.optimizer.use_ema and averaged.optimizer.ema_momentum == 0.9
    assert not last.optimizer.use_ema
    assert not np.allclose(averaged.layers[-1].get_weights()[0], last.layers[-1].get_weights()[0])


def test_distillation_mixes_the_teachers_probabilities_into_the_targets(tiny_run):
    from fmnist_edge.train.fit import distilled

    teacher = keras.saving.load_model(tiny_run / "model.keras", compile=False)
    x = np.random.default_rng(0).random((64, 28, 28, 1), np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(64) % 10]
    config = TrainConfig(model=ModelKind.EDGE_CNN, teacher=(str(tiny_run), str(tiny_run)), teacher_weight=0.25)
    targets = distilled(x, y, config)
    np.testing.assert_allclose(targets, 0.25 * np.asarray(teacher(x, training=False)) + 0.75 * y, atol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(FmnistError, match="no model.keras there"):
        TrainConfig(teacher=(str(tiny_run.parent),)).validate()


def test_a_teacher_must_not_have_seen_the_validation_images(tiny_run, tmp_path):
    import json
    import shutil

    folder = tmp_path / "teacher"
    shutil.copytree(tiny_run, folder)
    (folder / "config.json").write_text(json.dumps(TrainConfig(validation_size=5000).to_json()))
    TrainConfig(teacher=(str(folder),)).validate()
    with pytest.raises(FmnistError, match="validation split of 5000 images, not 4000"):
        TrainConfig(teacher=(str(folder),), validation_size=4000).validate()
    (folder / "config.json").unlink()
    with pytest.raises(FmnistError, match="no config.json stating its validation split"):
        TrainConfig(teacher=(str(folder),)).validate()
