import pytest

from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.train.config import ModelKind, Optimizer, TrainConfig


def test_resolved_fills_defaults_from_model_and_optimizer():
    assert TrainConfig().resolved().dense_units == (100,)
    assert TrainConfig().resolved().learning_rate == 0.001
    ann = TrainConfig(model=ModelKind.ANN, optimizer=Optimizer.SGD).resolved()
    assert ann.dense_units == (256, 128) and ann.learning_rate == 0.01
    assert TrainConfig(learning_rate=0.3).resolved().learning_rate == 0.3


def test_json_round_trip():
    config = TrainConfig(model=ModelKind.ANN, dense_units=(3, 4), optimizer=Optimizer.RMSPROP).resolved()
    data = config.to_json()
    assert data["model"] == "ann" and data["dense_units"] == [3, 4] and data["optimizer"] == "rmsprop"
    assert TrainConfig.from_json(data) == config and data["block_filters"] is None
    assert data["erasing"] is False


def test_edge_json_round_trip_and_pool_limit():
    config = TrainConfig(model=ModelKind.EDGE_CNN).resolved()
    data = config.to_json()
    assert data["schedule"] == "cosine" and data["augment"] is True and data["filters"] == 32
    assert TrainConfig.from_json(data) == config and data["block_filters"] == [32, 32, 64]
    assert data["erasing"] is True
    TrainConfig(model=ModelKind.EDGE_CNN, pool_size=3).validate()
    with pytest.raises(FmnistError, match="window must be 3 or less"):
        TrainConfig(model=ModelKind.EDGE_CNN, pool_size=4).validate()


def test_regularizers_default_off_for_the_tutorial_and_are_checked():
    tutorial = TrainConfig().resolved()
    assert tutorial.dropout == 0.0 and tutorial.label_smoothing == 0.0 and tutorial.erasing is False
    mine = TrainConfig(dropout=0.25, label_smoothing=0.05).resolved()
    assert (mine.dropout, mine.label_smoothing) == (0.25, 0.05)
    assert TrainConfig.from_json(mine.to_json()) == mine
    with pytest.raises(FmnistError, match="--dropout 1.0 must be in"):
        TrainConfig(dropout=1.0).validate()
    with pytest.raises(FmnistError, match="--label-smoothing -0.1 must be in"):
        TrainConfig(label_smoothing=-0.1).validate()


def test_a_config_written_before_flip_ema_and_global_pool_means_them_off():
    old = TrainConfig(model=ModelKind.EDGE_CNN).resolved().to_json()
    for key in ("flip", "ema", "global_pool"):
        del old[key]
    config = TrainConfig.from_json(old)
    assert (config.flip, config.ema, config.global_pool) == (False, 0.0, False)
    assert TrainConfig.from_json({"model": "edge-cnn"}).flip is False  # absent: as trained then
    with pytest.raises(FmnistError, match="--ema 1.0 must be in"):
        TrainConfig(ema=1.0).validate()
