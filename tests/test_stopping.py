import numpy as np
import pytest
import torch

from zsl_utils.stopping import EarlyStopping


def test_stops_after_patience_misses_and_keeps_best_state():
    stopper = EarlyStopping(patience=2)
    for score, weight in [(0.5, 1.0), (0.7, 2.0), (0.6, 3.0), (0.7, 4.0)]:
        stopper.update(score, state={"w": torch.tensor([weight])})
    assert stopper.all_stopped
    assert stopper.best_score[0] == 0.7 and stopper.best_evaluation[0] == 1
    assert stopper.best_state["w"].item() == 2.0


def test_models_trained_together_keep_their_own_best_rows():
    stopper = EarlyStopping(patience=1, n_models=2)
    stopper.update([0.1, 0.9], state={"w": torch.tensor([[1.0], [1.0]])})
    stopper.update([0.5, 0.2], state={"w": torch.tensor([[2.0], [2.0]])})
    assert stopper.stopped.tolist() == [False, True]
    stopper.update([0.4, 0.99], state={"w": torch.tensor([[3.0], [3.0]])})
    assert stopper.all_stopped
    # the second model stopped before its late improvement and keeps its first state
    assert stopper.best_state["w"].squeeze(1).tolist() == [2.0, 1.0]
    assert stopper.best_score.tolist() == [0.5, 0.9]


def test_min_mode_and_min_delta():
    stopper = EarlyStopping(patience=1, mode="min", min_delta=0.05)
    assert stopper.update(1.0).tolist() == [True]
    assert stopper.update(0.97).tolist() == [False]
    assert stopper.all_stopped and stopper.best_score[0] == 1.0


def test_best_state_copies_are_not_aliases():
    stopper = EarlyStopping(patience=3)
    w = torch.zeros(2)
    stopper.update(1.0, state={"w": w})
    w += 5
    assert stopper.best_state["w"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "kwargs, message",
    [({"patience": 0}, "patience"), ({"patience": 2, "n_models": 0}, "n_models"),
     ({"patience": 2, "mode": "up"}, "mode"), ({"patience": 2, "min_delta": -1}, "min_delta")],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**kwargs)


def test_bad_scores_and_missing_state_are_named():
    stopper = EarlyStopping(patience=2, n_models=3)
    with pytest.raises(ValueError, match="3 validation score"):
        stopper.update([0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        stopper.update([0.1, np.nan, 0.2])
    with pytest.raises(RuntimeError, match="no state"):
        _ = stopper.best_state
