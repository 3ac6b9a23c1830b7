import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from zsl_utils.metrics import calibrated_stacking, gzsl_scores, per_class_accuracy


def test_per_class_accuracy_averages_classes_not_samples():
    # class 0: 3/4 right, class 1: 0/1 right -> mean 0.375 (plain accuracy would be 0.6)
    y_true = [0, 0, 0, 0, 1]
    y_pred = [0, 0, 0, 1, 0]
    assert per_class_accuracy(y_true, y_pred) == pytest.approx(0.375)


def test_per_class_accuracy_matches_balanced_accuracy():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, size=300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 5, size=300))
    assert per_class_accuracy(y_true, y_pred) == pytest.approx(
        balanced_accuracy_score(y_true, y_pred)
    )


def test_per_class_accuracy_restricted_to_classes():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 9, 1, 1, 0, 0])  # class 9 is outside `classes`: wrong
    assert per_class_accuracy(y_true, y_pred, classes=[0, 1]) == pytest.approx(0.75)
    assert per_class_accuracy(y_true, y_pred, classes=[2]) == 0.0


def test_per_class_accuracy_accepts_tensors():
    assert per_class_accuracy(torch.tensor([1, 1, 2]), torch.tensor([1, 0, 2])) == pytest.approx(
        0.75
    )


@pytest.mark.parametrize(
    ("y_true", "y_pred", "classes", "message"),
    [
        ([0, 1], [0], None, "2 labels but y_pred has 1"),
        ([], [], None, "empty"),
        ([0, 1], [0, 1], [0, 5], "class 5 has no samples"),
        ([0, 1], [0, 1], [], "classes is empty"),
        ([[0, 1]], [[0, 1]], None, "must be 1-D"),
        ([0.5, 1.0], [0, 1], None, "integer class ids"),
    ],
)
def test_per_class_accuracy_rejects_bad_input(y_true, y_pred, classes, message):
    with pytest.raises(ValueError, match=message):
        per_class_accuracy(y_true, y_pred, classes)


def test_gzsl_scores_by_hand():
    # seen {0, 1}, unseen {2}: S = (1 + 0.5) / 2, U = 1/2, H = 2·0.75·0.5 / 1.25
    y_true = [0, 1, 1, 2, 2]
    y_pred = [0, 1, 2, 2, 0]
    scores = gzsl_scores(y_true, y_pred, seen_classes=[0, 1], unseen_classes=[2])
    assert scores["S"] == pytest.approx(0.75)
    assert scores["U"] == pytest.approx(0.5)
    assert scores["H"] == pytest.approx(0.6)


def test_gzsl_h_is_zero_when_unseen_accuracy_is_zero():
    scores = gzsl_scores([0, 2], [0, 0], seen_classes=[0], unseen_classes=[2])
    assert (scores["U"], scores["S"], scores["H"]) == (0.0, 1.0, 0.0)


def test_gzsl_scores_rejects_overlapping_or_unknown_classes():
    with pytest.raises(ValueError, match="both seen and unseen"):
        gzsl_scores([0, 1], [0, 1], seen_classes=[0, 1], unseen_classes=[1])
    with pytest.raises(ValueError, match=r"classes \[7\] that are neither"):
        gzsl_scores([0, 1, 7], [0, 1, 7], seen_classes=[0], unseen_classes=[1])
    with pytest.raises(ValueError, match="unseen_classes is empty"):
        gzsl_scores([0], [0], seen_classes=[0], unseen_classes=[])


def test_calibrated_stacking_subtracts_gamma_from_seen_columns_only():
    scores = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    out = calibrated_stacking(scores, seen_classes=[0, 2], gamma=0.5)
    np.testing.assert_allclose(out, [[0.5, 2.0, 2.5], [-0.5, 0.0, -0.5]])
    np.testing.assert_allclose(scores, [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])  # input unchanged


def test_calibrated_stacking_can_flip_a_prediction_to_an_unseen_class():
    scores = torch.tensor([[0.9, 0.7]])  # seen class 0 wins until gamma > 0.2
    assert calibrated_stacking(scores, [0], 0.1).argmax(1).item() == 0
    assert calibrated_stacking(scores, [0], 0.3).argmax(1).item() == 1
    assert torch.equal(scores, torch.tensor([[0.9, 0.7]]))


def test_calibrated_stacking_rejects_bad_input():
    with pytest.raises(ValueError, match="out of range"):
        calibrated_stacking(np.zeros((2, 3)), [3], 0.1)
    with pytest.raises(ValueError, match=r"\(images, classes\)"):
        calibrated_stacking(np.zeros(3), [0], 0.1)
    with pytest.raises(ValueError, match="finite"):
        calibrated_stacking(np.zeros((2, 3)), [0], float("nan"))
