import math

import pytest
import torch
from torch import nn

from zsl_utils.layers import GradReverse, dann_lambda, domain_classifier, fit_dann, grad_reverse
from zsl_utils.models import SmallCNN
from zsl_utils.transfer import split_at


def test_grad_reverse_is_the_identity_forward():
    x = torch.randn(4, 3)
    out = grad_reverse(x, 0.7)
    torch.testing.assert_close(out, x)
    assert out.shape == x.shape and out.dtype == x.dtype


def test_grad_reverse_multiplies_the_gradient_by_minus_lambda():
    # loss = sum(w * grad_reverse(x)): without the layer d loss / dx = w; with it, −λ·w
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w = torch.tensor([0.5, 2.0, -1.0])
    (w * grad_reverse(x, 0.3)).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([-0.15, -0.6, 0.3]))


def test_grad_reverse_through_a_network_flips_only_what_lies_before_it():
    torch.manual_seed(0)
    first, second = nn.Linear(3, 4), nn.Linear(4, 1)
    x = torch.randn(5, 3)
    second(first(x)).sum().backward()
    plain_first, plain_second = first.weight.grad.clone(), second.weight.grad.clone()
    first.zero_grad()
    second.zero_grad()
    second(grad_reverse(first(x), 2.0)).sum().backward()
    torch.testing.assert_close(first.weight.grad, -2.0 * plain_first)
    torch.testing.assert_close(second.weight.grad, plain_second)  # after the layer: unchanged


def test_grad_reverse_with_lambda_zero_stops_the_gradient():
    x = torch.randn(3, requires_grad=True)
    (3 * grad_reverse(x, 0.0)).sum().backward()
    torch.testing.assert_close(x.grad, torch.zeros(3))


def test_grad_reverse_default_lambda_is_one_and_matches_the_function():
    x = torch.randn(3, requires_grad=True)
    (2 * grad_reverse(x)).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3,), -2.0))
    y = torch.randn(3, requires_grad=True)
    (2 * GradReverse.apply(y, 1.0)).sum().backward()
    torch.testing.assert_close(y.grad, x.grad)


def test_grad_reverse_rejects_bad_input():
    with pytest.raises(TypeError, match="torch.Tensor"):
        grad_reverse([1.0, 2.0], 1.0)
    with pytest.raises(TypeError, match="floating-point"):
        grad_reverse(torch.tensor([1, 2]), 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        grad_reverse(torch.ones(2), -0.5)
    with pytest.raises(ValueError, match="finite"):
        grad_reverse(torch.ones(2), math.inf)
    with pytest.raises(TypeError, match="real number"):
        grad_reverse(torch.ones(2), "1")
    with pytest.raises(TypeError, match="real number"):
        grad_reverse(torch.ones(2), True)


def test_dann_lambda_follows_ganins_schedule():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_lambda(0.1) == pytest.approx(2 / (1 + math.exp(-1)) - 1)
    assert dann_lambda(0.5, gamma=1.0) == pytest.approx(2 / (1 + math.exp(-0.5)) - 1)
    values = [dann_lambda(p / 10) for p in range(11)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False)) and values[-1] < 1


def test_dann_lambda_rejects_bad_input():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            dann_lambda(p)
    with pytest.raises(ValueError, match="gamma"):
        dann_lambda(0.5, gamma=0)


def test_domain_classifier_outputs_one_logit_per_sample():
    clf = domain_classifier(8, hidden=5)
    assert clf(torch.randn(6, 8)).shape == (6, 1)
    with pytest.raises(ValueError, match="positive"):
        domain_classifier(0)
    with pytest.raises(ValueError, match="positive"):
        domain_classifier(8, hidden=0)


def tiny_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x_src = torch.rand(40, 3, 28, 28, generator=g)
    y_src = torch.randint(0, 3, (40,), generator=g)
    x_tgt = torch.rand(30, 3, 28, 28, generator=g)
    return x_src, y_src, x_tgt


def tiny_nets(seed=0, k=4):
    # a SmallCNN cut after layer k: extractor (layers 1..k), predictor (the rest), and a
    # domain classifier on the extractor's flattened output
    torch.manual_seed(seed)
    model = SmallCNN(3, channels=(2, 2, 2), hidden=4, in_channels=3)
    extractor, predictor = split_at(model, k)
    return model, extractor, predictor, domain_classifier(4 if k == 4 else 18, hidden=3)


def test_fit_dann_records_history_and_is_deterministic():
    x_src, y_src, x_tgt = tiny_problem()
    runs = []
    for k in (4, 4, 3):
        model, extractor, predictor, disc = tiny_nets(k=k)
        calls = []

        def monitor(calls=calls, extractor=extractor):
            calls.append(extractor.training)
            return {"probe": 0.5}

        history = fit_dann(
            extractor, predictor, disc, x_src, y_src, x_tgt, steps=7, batch_size=4, log_every=3,
            monitor=monitor, progress=False,
        )  # fmt: skip
        runs.append((history, model.head.weight.detach().clone()))
        assert history["step"] == [3, 6, 7] and history["probe"] == [0.5] * 3
        assert calls == [False] * 3  # the monitor sees the networks in eval mode
        assert not (extractor.training or predictor.training or disc.training)
        assert all(0 <= a <= 1 for a in history["domain_acc"])
        assert history["lambda"][0] == pytest.approx(dann_lambda(2 / 7))
    assert runs[0][0] == runs[1][0]
    torch.testing.assert_close(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][1], runs[2][1])  # aligning after layer 3 trains differently


def test_fit_dann_lambda_zero_leaves_the_features_to_the_labels():
    # with λ = 0 the domain loss trains the domain classifier but sends nothing to the features,
    # so the feature extractor ends where label-only training takes it
    x_src, y_src, x_tgt = tiny_problem()
    model_a, *parts_a = tiny_nets()
    model_b, *parts_b = tiny_nets()
    disc_a = parts_a[2]
    before = [p.detach().clone() for p in disc_a.parameters()]
    fit_dann(*parts_a, x_src, y_src, x_tgt, steps=5, batch_size=4, lambda_max=0.0, progress=False)
    other = torch.rand_like(x_tgt)  # different target images: no effect on the features
    fit_dann(*parts_b, x_src, y_src, other, steps=5, batch_size=4, lambda_max=0.0, progress=False)
    for p, q in zip(model_a.parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert any(not torch.equal(p, b) for p, b in zip(disc_a.parameters(), before, strict=True))


def test_fit_dann_lambda_zero_matches_the_plain_step():
    # with lambda_max = 0 the target features skip their backward pass; the update must be the
    # one of the plain DANN step with grad_reverse(·, 0) on the concatenated batch
    x_src, y_src, x_tgt = tiny_problem()
    model_a, *parts_a = tiny_nets()
    model_b, *parts_b = tiny_nets()
    history = fit_dann(*parts_a, x_src, y_src, x_tgt, steps=4, batch_size=4, lr=1e-2,
                       lambda_max=0.0, log_every=4, seed=3, progress=False)  # fmt: skip
    extractor, predictor, disc = parts_b
    optimiser = torch.optim.Adam(nn.ModuleList(parts_b).parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(3)
    domain = torch.cat([torch.zeros(4), torch.ones(4)])
    correct = 0.0
    for _ in range(4):
        i_src = torch.randint(len(x_src), (4,), generator=generator)
        i_tgt = torch.randint(len(x_tgt), (4,), generator=generator)
        features = extractor(torch.cat([x_src[i_src], x_tgt[i_tgt]])).flatten(1)
        label_loss = nn.functional.cross_entropy(predictor(features[:4]), y_src[i_src])
        logit = disc(grad_reverse(features, 0.0)).squeeze(1)
        domain_loss = nn.functional.binary_cross_entropy_with_logits(logit, domain)
        optimiser.zero_grad()
        (label_loss + domain_loss).backward()
        optimiser.step()
        correct += ((logit > 0).float() == domain).float().mean().item()
    for p, q in zip(model_a.parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)
    for p, q in zip(parts_a[2].parameters(), disc.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)
    assert history["domain_acc"] == [pytest.approx(correct / 4)]


def test_fit_dann_without_labels_ignores_them():
    x_src, y_src, x_tgt = tiny_problem()
    model_a, *parts_a = tiny_nets()
    model_b, *parts_b = tiny_nets()
    for parts, y in ((parts_a, y_src), (parts_b, (y_src + 1) % 3)):
        fit_dann(*parts, x_src, y, x_tgt, steps=5, batch_size=4, label_weight=0.0, progress=False)
    for p, q in zip(model_a.layers.parameters(), model_b.layers.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_fit_dann_rejects_bad_input():
    x_src, y_src, x_tgt = tiny_problem()
    _, *parts = tiny_nets()
    with pytest.raises(ValueError, match="y_src"):
        fit_dann(*parts, x_src, y_src[:-1], x_tgt, steps=1, progress=False)
    with pytest.raises(ValueError, match="training images"):
        fit_dann(*parts, x_src, y_src, x_tgt[:0], steps=1, progress=False)
    with pytest.raises(ValueError, match="differ in shape"):
        fit_dann(*parts, x_src, y_src, x_tgt[:, :1], steps=1, progress=False)
    with pytest.raises(ValueError, match="at least 1"):
        fit_dann(*parts, x_src, y_src, x_tgt, steps=0, progress=False)
    with pytest.raises(ValueError, match="non-negative"):
        fit_dann(*parts, x_src, y_src, x_tgt, steps=1, lambda_max=-1.0, progress=False)
    with pytest.raises(ValueError, match="label_weight"):
        fit_dann(*parts, x_src, y_src, x_tgt, steps=1, label_weight=-1.0, progress=False)


def test_fit_dann_anneals_the_learning_rate_like_ganin(monkeypatch):
    # with anneal=True step i (from 0) uses lr / (1 + 10 i / steps)^0.75; without, lr throughout
    x_src, y_src, x_tgt = tiny_problem()
    lrs = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        lrs.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    for anneal in (True, False):
        _, *parts = tiny_nets()
        fit_dann(*parts, x_src, y_src, x_tgt, steps=4, lr=0.1, batch_size=4, anneal=anneal,
                 progress=False)  # fmt: skip
    expected = [0.1 * (1 + 10 * i / 4) ** -0.75 for i in range(4)]
    assert lrs[:4] == pytest.approx(expected) and lrs[4:] == pytest.approx([0.1] * 4)


def test_fit_dann_stops_early_and_keeps_the_best_weights():
    # a validation score that peaks at the second record: training stops `patience` records
    # later and the parts are set back to their weights at that record
    x_src, y_src, x_tgt = tiny_problem()
    model, *parts = tiny_nets()
    scores = iter([0.2, 0.9, 0.5, 0.4, 0.3, 0.1, 0.1])
    snapshots = []

    def validate():
        snapshots.append(model.head.weight.detach().clone())
        return next(scores)

    history = fit_dann(*parts, x_src, y_src, x_tgt, steps=50, batch_size=4, log_every=2,
                       validate=validate, patience=2, progress=False)  # fmt: skip
    assert history["step"] == [2, 4, 6, 8] and history["validation"] == [0.2, 0.9, 0.5, 0.4]
    assert history["best_step"] == [4]
    torch.testing.assert_close(model.head.weight, snapshots[1])
    assert not model.head.training


def test_fit_dann_needs_validate_and_patience_together():
    x_src, y_src, x_tgt = tiny_problem()
    _, *parts = tiny_nets()
    with pytest.raises(ValueError, match="validate and patience"):
        fit_dann(*parts, x_src, y_src, x_tgt, steps=2, patience=2, progress=False)
    with pytest.raises(ValueError, match="validate and patience"):
        fit_dann(*parts, x_src, y_src, x_tgt, steps=2, validate=lambda: 0.5, progress=False)
