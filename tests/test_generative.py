import warnings

import numpy as np
import pytest
import torch

from zsl_utils import generative as gen

# two well-separated toy classes in 4-d: class 0 near (6, 1, 6, 1), class 1 near (1, 6, 1, 6)
MEANS = np.array([[6.0, 1.0, 6.0, 1.0], [1.0, 6.0, 1.0, 6.0]])
SEMANTICS = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])  # row 2: a class with no images


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models train faster on one thread than on several that wait on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_features(n_per_class: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n_per_class)
    features = np.abs(MEANS[labels] + 0.3 * rng.standard_normal((len(labels), 4)))
    return features.astype(np.float32), labels


@pytest.fixture(scope="module")
def toy_cvae():
    x, y = toy_features(200)
    return gen.fit_feature_cvae(
        x,
        y,
        SEMANTICS,
        hidden=32,
        latent_dim=2,
        epochs=60,
        lr=3e-3,
        batch_size=64,
        progress=False,
    )


def test_feature_cvae_shapes_and_non_negative_output():
    model = gen.FeatureCVAE(feature_dim=5, semantic_dim=3, latent_dim=2, hidden=8)
    mu, logvar = model.encode(torch.rand(4, 5), torch.rand(4, 3))
    assert mu.shape == logvar.shape == (4, 2)
    decoded = model.decode(torch.randn(4, 2), torch.rand(4, 3))
    assert decoded.shape == (4, 5) and (decoded >= 0).all()


@pytest.mark.parametrize("bad", [{"feature_dim": 0}, {"latent_dim": 1.5}, {"hidden": True}])
def test_feature_cvae_rejects_bad_sizes(bad):
    sizes = {"feature_dim": 5, "semantic_dim": 3, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        gen.FeatureCVAE(**sizes)


def test_fit_feature_cvae_learns_and_reports_history(toy_cvae):
    model, history = toy_cvae
    assert isinstance(model, gen.FeatureCVAE) and not model.training
    assert set(history) == {"loss", "reconstruction", "kl"} and len(history["loss"]) == 60
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    x, _ = toy_features(200)
    assert model.feature_scale.item() == pytest.approx(float(x.mean()), rel=1e-5)


def test_synthesized_features_lie_near_their_class_mean(toy_cvae):
    model, _ = toy_cvae
    features, labels = gen.synthesize(model, SEMANTICS, [1, 0], n_per_class=300, seed=1)
    assert features.shape == (600, 4) and features.dtype == np.float32
    assert labels.tolist() == [1] * 300 + [0] * 300
    for c in (0, 1):
        mean = features[labels == c].mean(axis=0)
        assert np.linalg.norm(mean - MEANS[c]) < 1.0  # the classes are 7.1 apart
        assert np.linalg.norm(mean - MEANS[1 - c]) > 5.0


def test_fit_and_synthesize_are_deterministic_given_a_seed():
    x, y = toy_features(30)
    kwargs = {"hidden": 8, "latent_dim": 2, "epochs": 3, "batch_size": 16, "progress": False}
    (a, history_a), (b, history_b) = (
        gen.fit_feature_cvae(x, y, SEMANTICS, seed=5, **kwargs) for _ in range(2)
    )
    assert history_a == history_b
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    first, _ = gen.synthesize(a, SEMANTICS, [2], 10, seed=3)
    assert np.array_equal(first, gen.synthesize(b, SEMANTICS, [2], 10, seed=3)[0])
    assert not np.array_equal(first, gen.synthesize(a, SEMANTICS, [2], 10, seed=4)[0])
    c, _ = gen.fit_feature_cvae(x, y, SEMANTICS, seed=6, **kwargs)
    assert not torch.equal(a.decoder[0].weight, c.decoder[0].weight)


def test_fit_feature_cvae_rejects_bad_input():
    x, y = toy_features(5)
    with pytest.raises(ValueError, match="one class id per sample"):
        gen.fit_feature_cvae(x, y[:-1], SEMANTICS, progress=False)
    with pytest.raises(ValueError, match=r"class ids in 0\.\.2, got \[3\]"):
        gen.fit_feature_cvae(x, np.where(y == 1, 3, 0), SEMANTICS, progress=False)
    with pytest.raises(ValueError, match="integer class ids"):
        gen.fit_feature_cvae(x, y.astype(float), SEMANTICS, progress=False)
    with pytest.raises(ValueError, match="non-negative"):
        gen.fit_feature_cvae(x - 10, y, SEMANTICS, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        gen.fit_feature_cvae(np.full_like(x, np.nan), y, SEMANTICS, progress=False)
    with pytest.raises(ValueError, match="class_semantics must be a non-empty 2-D"):
        gen.fit_feature_cvae(x, y, SEMANTICS[0], progress=False)
    with pytest.raises(ValueError, match="beta"):
        gen.fit_feature_cvae(x, y, SEMANTICS, beta=-1.0, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        gen.fit_feature_cvae(x, y, SEMANTICS, epochs=0, progress=False)
    with pytest.raises(ValueError, match="all zero"):
        gen.fit_feature_cvae(np.zeros_like(x), y, SEMANTICS, progress=False)


def test_synthesize_rejects_bad_input(toy_cvae):
    model, _ = toy_cvae
    with pytest.raises(TypeError, match="FeatureCVAE"):
        gen.synthesize(torch.nn.Linear(2, 2), SEMANTICS, [0], 5)
    with pytest.raises(ValueError, match="3 dimensions but the model expects 2"):
        gen.synthesize(model, np.ones((3, 3)), [0], 5)
    with pytest.raises(ValueError, match="classes is empty"):
        gen.synthesize(model, SEMANTICS, [], 5)
    with pytest.raises(ValueError, match="n_per_class"):
        gen.synthesize(model, SEMANTICS, [0], 0)
    with pytest.raises(ValueError, match=r"got \[7\]"):
        gen.synthesize(model, SEMANTICS, [7], 5)


def test_fit_softmax_separates_classes_and_checks_labels():
    x, y = toy_features(50)
    classifier = gen.fit_softmax(x, y, 3, epochs=30, batch_size=32, progress=False)
    assert isinstance(classifier, torch.nn.Linear) and classifier.out_features == 3
    logits = classifier(torch.from_numpy(x)).detach()
    assert (logits.argmax(1).numpy() == y).all()  # column j is class j; class 2 never wins
    with pytest.raises(ValueError, match=r"class ids in 0\.\.0, got \[1\]"):
        gen.fit_softmax(x, y, 1, progress=False)
    with pytest.raises(ValueError, match="n_classes"):
        gen.fit_softmax(x, y, 0, progress=False)


def test_synthetic_features_let_the_softmax_predict_a_class_without_images(toy_cvae):
    model, _ = toy_cvae
    x, y = toy_features(200)
    x_test, y_test = toy_features(20, seed=1)
    fake_x, fake_y = gen.synthesize(model, SEMANTICS, [2], 200, seed=2)
    unseen_test, _ = gen.synthesize(model, SEMANTICS, [2], 20, seed=9)  # fresh draws of class 2
    settings = {"epochs": 20, "lr": 1e-2, "batch_size": 64, "progress": False}
    with_fakes = gen.fit_softmax(
        np.concatenate([x, fake_x]), np.concatenate([y, fake_y]), 3, **settings
    )
    real_only = gen.fit_softmax(x, y, 3, **settings)
    for classifier, unseen_right in ((with_fakes, 20), (real_only, 0)):
        predicted = classifier(torch.from_numpy(np.concatenate([x_test, unseen_test])))
        predicted = predicted.argmax(1).numpy()
        assert (predicted[:40] == y_test).all()  # the real classes stay right
        assert (predicted[40:] == 2).sum() == unseen_right  # class 2 only with synthetic data


def test_generative_zsl_scores_is_the_recipe_composed():
    x, y = toy_features(20)
    x_test, _ = toy_features(3, seed=1)
    settings = {"n_per_class": 15, "beta": 2.0, "latent_dim": 3, "cvae_epochs": 2,
                "softmax_epochs": 3, "seed": 4}  # fmt: skip
    scores = gen.generative_zsl_scores(x, y, x_test, SEMANTICS, [2], **settings)
    assert scores.shape == (6, 3) and scores.dtype == np.float64
    cvae, _ = gen.fit_feature_cvae(
        x, y, SEMANTICS, latent_dim=3, epochs=2, beta=2.0, seed=4, progress=False
    )
    assert cvae.latent_dim == 3
    fake_x, fake_y = gen.synthesize(cvae, SEMANTICS, [2], 15, seed=4)
    classifier = gen.fit_softmax(
        np.concatenate([x, fake_x]),
        np.concatenate([y, fake_y]),
        3,
        epochs=3,
        seed=4,
        progress=False,
    )
    expected = classifier(torch.from_numpy(x_test)).detach().numpy()
    assert np.allclose(scores, expected, atol=1e-6)


def test_generative_zsl_scores_fits_the_cvae_once_per_search_over_the_number(monkeypatch):
    x, y = toy_features(20)
    fits = []
    original = gen.fit_feature_cvae

    def counted(*args, **kwargs):
        fits.append(kwargs["beta"])
        return original(*args, **kwargs)

    monkeypatch.setattr(gen, "fit_feature_cvae", counted)
    gen._LAST_GENERATOR.clear()
    settings = {"cvae_epochs": 1, "softmax_epochs": 1, "seed": 2}
    few = gen.generative_zsl_scores(x, y, x, SEMANTICS, [2], n_per_class=5, **settings)
    gen.generative_zsl_scores(x, y, x, SEMANTICS, [2], n_per_class=50, **settings)
    assert fits == [3.0]  # one fit for both numbers of synthetic features
    gen.generative_zsl_scores(x, y, x, SEMANTICS, [2], n_per_class=5, beta=1.0, **settings)
    assert fits == [3.0, 1.0]  # another β: a new fit
    gen._LAST_GENERATOR.clear()
    again = gen.generative_zsl_scores(x, y, x, SEMANTICS, [2], n_per_class=5, **settings)
    assert np.allclose(few, again, atol=1e-6)  # the kept model is the one a new fit gives


def test_generative_scores_refuse_unseen_classes_with_real_features():
    x, y = toy_features(5)
    with pytest.raises(ValueError, match=r"unseen classes \[1\] have real training features"):
        gen.generative_zsl_scores(x, y, x, SEMANTICS, [1, 2])
    with pytest.raises(ValueError, match="test_features have 3 dimensions but train_features 4"):
        gen.generative_zsl_scores(x, y, x[:, :3], SEMANTICS, [2])


def test_cvae_loss_is_reconstruction_plus_beta_kl():
    torch.manual_seed(0)
    model = gen.FeatureCVAE(feature_dim=4, semantic_dim=2, latent_dim=3, hidden=8)
    model.feature_scale.fill_(2.0)
    x, a = torch.rand(5, 4) * 4, torch.rand(5, 2)
    noise = torch.randn(5, 3)
    loss, reconstruction, kl = gen.cvae_loss(model, x, a, noise, beta=0.5)
    mu, logvar = model.encode(x, a)
    z = mu + noise * torch.exp(logvar / 2)
    expected_rec = (((model.decode(z, a) - x) / 2.0) ** 2).sum(1).mean()
    expected_kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1).mean()
    torch.testing.assert_close(reconstruction, expected_rec)
    torch.testing.assert_close(kl, expected_kl)
    torch.testing.assert_close(loss, expected_rec + 0.5 * expected_kl)
    assert kl > 0  # KL is zero only when q(z | x, a) is exactly N(0, I)
    loss.backward()  # the reparameterisation lets gradients reach the encoder
    assert model.encoder[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"noise must have the latents' shape \(5, 3\)"):
        gen.cvae_loss(model, x, a, torch.randn(5, 2))


def test_read_only_inputs_are_accepted_without_a_warning():
    x, y = toy_features(20)
    x.setflags(write=False)  # as joblib hands memory-mapped arrays to its workers
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cvae, _ = gen.fit_feature_cvae(x, y, SEMANTICS, epochs=1, seed=0, progress=False)
    assert cvae.feature_dim == x.shape[1]


@pytest.fixture(scope="module")
def toy_wgan():
    x, y = toy_features(50)
    return gen.fit_feature_wgan(
        x,
        y,
        SEMANTICS,
        hidden=32,
        noise_dim=2,
        round_steps=3,
        max_rounds=30,
        burn_in=30,
        lr=3e-3,
        batch_size=20,
        classifier_epochs=20,
        progress=False,
    )


def test_feature_wgan_shapes_and_non_negative_output():
    model = gen.FeatureWGAN(feature_dim=5, semantic_dim=3, noise_dim=2, hidden=8)
    assert model.latent_dim == 2 and model.semantic_dim == 3
    generated = model.generate(torch.randn(4, 2), torch.rand(4, 3))
    assert generated.shape == (4, 5) and (generated >= 0).all()
    assert model.critic_score(torch.rand(4, 5), torch.rand(4, 3)).shape == (4,)
    with pytest.raises(ValueError, match="noise_dim"):
        gen.FeatureWGAN(feature_dim=5, semantic_dim=3, noise_dim=0)


def test_critic_losses_equal_wgan_gp_written_with_autograd():
    torch.manual_seed(0)
    model = gen.FeatureWGAN(feature_dim=5, semantic_dim=3, noise_dim=2, hidden=16)
    model.feature_scale.fill_(2.0)
    real, fake, a = torch.rand(8, 5) * 3, torch.rand(8, 5) * 3, torch.rand(8, 3)
    epsilon = torch.rand(8, 1)
    mixed = (epsilon * real + (1 - epsilon) * fake) / 2.0  # features divided by their scale
    mixed.requires_grad_(True)
    (slope,) = torch.autograd.grad(
        model.critic_score(mixed * 2.0, a).sum(), mixed, create_graph=True
    )
    by_autograd = (
        (model.critic_score(fake, a) - model.critic_score(real, a)).mean(),
        ((slope.norm(dim=1) - 1) ** 2).mean(),
    )
    package = gen.critic_losses(model, real, fake, a, epsilon)
    for here, there in zip(by_autograd, package, strict=True):
        torch.testing.assert_close(there, here)
    grads = []
    for loss in (sum(by_autograd), sum(package)):  # both train the critic's weights alike
        model.zero_grad()
        loss.backward(retain_graph=True)
        grads.append([p.grad.clone() for p in model.critic.parameters()])
    for there, here in zip(*grads, strict=True):
        torch.testing.assert_close(there, here)
    with pytest.raises(ValueError, match="same samples"):
        gen.critic_losses(model, real, fake[:3], a, epsilon)


def test_critic_losses_penalise_a_steep_linear_critic_by_its_slope():
    model = gen.FeatureWGAN(feature_dim=3, semantic_dim=2, noise_dim=2, hidden=4)
    with torch.no_grad():  # D(x, a) = w · x: hidden units copy x (positive), out sums w-weighted
        model.critic[0].weight.zero_()
        model.critic[0].bias.fill_(10.0)
        model.critic[0].weight[:3, :3] = torch.eye(3)
        model.critic[2].weight.zero_()
        model.critic[2].weight[0, :3] = torch.tensor([0.6, 0.8, 2.0])
    real, fake, a = torch.rand(6, 3), torch.rand(6, 3), torch.rand(6, 2)
    _, penalty = gen.critic_losses(model, real, fake, a, torch.rand(6, 1))
    torch.testing.assert_close(penalty, (torch.tensor(5.0).sqrt() - 1) ** 2)  # ‖w‖² = 5


def test_fit_feature_wgan_learns_the_class_means(toy_wgan):
    model, history = toy_wgan
    assert isinstance(model, gen.FeatureWGAN) and not model.training
    assert set(history) == {"critic", "gp", "generator", "cls", "wasserstein", "objective"}
    assert all(len(values) == 30 for values in history.values())  # burn-in 30: no stop
    assert history["wasserstein"] == [-value for value in history["critic"]]
    for w, cls, objective in zip(
        history["wasserstein"], history["cls"], history["objective"], strict=True
    ):
        assert objective == pytest.approx(w + 1.0 * cls)  # the default cls_weight
    features, labels = gen.synthesize(model, SEMANTICS, [0, 1], n_per_class=300, seed=1)
    assert features.shape == (600, 4) and (features >= 0).all()
    for c in (0, 1):
        mean = features[labels == c].mean(axis=0)
        assert np.linalg.norm(mean - MEANS[c]) < np.linalg.norm(mean - MEANS[1 - c])


def test_wgan_training_stops_when_its_objective_stops_falling():
    assert not gen._converged([5.0, 4.0, 3.0, 2.0], window=2, tol=0.02)
    assert gen._converged([3.0, 1.0, 2.5, 1.45], window=2, tol=0.02)  # 1.975 against 2.0
    assert not gen._converged([3.0, 1.0, 2.5, 1.4], window=2, tol=0.02)  # 1.95: 2.5 % lower
    assert not gen._converged([5.0, 2.0, 1.0], window=2, tol=0.02)  # too few rounds to tell
    assert not gen._converged([3.0, 1.0, 2.5, 1.45], window=2, tol=0.02, burn_in=5)  # burn-in
    x, y = toy_features(20)
    _, history = gen.fit_feature_wgan(
        x,
        y,
        SEMANTICS,
        hidden=8,
        noise_dim=2,
        round_steps=2,
        max_rounds=40,
        burn_in=0,
        window=2,
        tol=0.5,
        batch_size=16,
        progress=False,
    )  # a loose tolerance: it stops long before the cap
    assert 4 <= len(history["objective"]) < 40
    assert gen._converged(history["objective"], window=2, tol=0.5)
    assert not gen._converged(history["objective"][:-1], window=2, tol=0.5)


def test_fit_feature_wgan_is_deterministic_given_a_seed():
    x, y = toy_features(20)
    kwargs = {"hidden": 8, "noise_dim": 2, "max_rounds": 2, "round_steps": 2, "batch_size": 16,
              "progress": False}  # fmt: skip
    (a, history_a), (b, history_b) = (
        gen.fit_feature_wgan(x, y, SEMANTICS, seed=5, **kwargs) for _ in range(2)
    )
    assert history_a == history_b
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c, _ = gen.fit_feature_wgan(x, y, SEMANTICS, seed=6, **kwargs)
    assert not torch.equal(a.generator[0].weight, c.generator[0].weight)


def test_fit_feature_wgan_rejects_bad_input():
    x, y = toy_features(5)
    with pytest.raises(ValueError, match="one class id per sample"):
        gen.fit_feature_wgan(x, y[:-1], SEMANTICS, progress=False)
    with pytest.raises(ValueError, match="non-negative"):
        gen.fit_feature_wgan(x - 10, y, SEMANTICS, progress=False)
    with pytest.raises(ValueError, match="all zero"):
        gen.fit_feature_wgan(np.zeros_like(x), y, SEMANTICS, progress=False)
    for bad in ({"gp_weight": -1.0}, {"cls_weight": float("nan")}, {"critic_steps": 0},
                {"max_rounds": 0}, {"round_steps": 0}, {"window": 0}, {"tol": -0.1},
                {"burn_in": -1},
                {"classifier_epochs": 0}):  # fmt: skip
        with pytest.raises(ValueError, match=next(iter(bad))):
            gen.fit_feature_wgan(x, y, SEMANTICS, progress=False, **bad)


def test_synthesize_accepts_a_wgan_and_names_both_models_when_refusing(toy_wgan):
    model, _ = toy_wgan
    first, labels = gen.synthesize(model, SEMANTICS, [2], 10, seed=3)
    assert first.shape == (10, 4) and labels.tolist() == [2] * 10
    assert np.array_equal(first, gen.synthesize(model, SEMANTICS, [2], 10, seed=3)[0])
    with pytest.raises(TypeError, match="FeatureCVAE or a FeatureWGAN, got Linear"):
        gen.synthesize(torch.nn.Linear(2, 2), SEMANTICS, [0], 5)


def test_generative_zsl_scores_with_the_wgan(monkeypatch):
    x, y = toy_features(20)
    fits = []
    original = gen.fit_feature_wgan

    def counted(*args, **kwargs):
        fits.append(kwargs["cls_weight"])
        return original(*args, **kwargs)

    monkeypatch.setattr(gen, "fit_feature_wgan", counted)
    gen._LAST_GENERATOR.clear()
    settings = {"generator": "wgan", "wgan_max_rounds": 1, "softmax_epochs": 1, "seed": 2}
    scores = gen.generative_zsl_scores(x, y, x[:5], SEMANTICS, [2], n_per_class=5, **settings)
    assert scores.shape == (5, 3) and scores.dtype == np.float64
    gen.generative_zsl_scores(x, y, x[:5], SEMANTICS, [2], n_per_class=9, **settings)
    assert fits == [1.0]  # one fit for both numbers of synthetic features
    gen.generative_zsl_scores(x, y, x[:5], SEMANTICS, [2], cls_weight=0.1, **settings)
    assert fits == [1.0, 0.1]
    with pytest.raises(ValueError, match="generator must be 'cvae' or 'wgan', got 'vae'"):
        gen.generative_zsl_scores(x, y, x, SEMANTICS, [2], generator="vae")
