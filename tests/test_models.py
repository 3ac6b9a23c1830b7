import pytest
import torch

from zsl_utils.models import SmallCNN, copy_layers, count_trainable, freeze_layers


def test_shapes_and_features():
    model = SmallCNN(n_classes=4)
    x = torch.rand(2, 1, 28, 28)
    assert model(x).shape == (2, 4)
    assert model.features(x).shape == (2, model.feature_dim)
    assert len(model.layers) == 4


def test_rejects_wrong_image_size_and_class_count():
    with pytest.raises(ValueError, match=r"\(n, c, 28, 28\)"):
        SmallCNN(3)(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="n_classes"):
        SmallCNN(0)


def test_copy_layers_copies_exactly_the_first_k():
    torch.manual_seed(0)
    source, target = SmallCNN(5), SmallCNN(3)
    copy_layers(source, target, 2)
    for i in range(4):
        pairs = zip(
            source.layers[i].state_dict().values(),
            target.layers[i].state_dict().values(),
            strict=True,
        )
        assert all(torch.equal(a, b) for a, b in pairs) == (i < 2)
    source.layers[0][0].weight.data.zero_()  # a copy, not shared storage
    assert target.layers[0][0].weight.abs().sum() > 0


def test_copy_layers_rejects_mismatched_shapes_and_depths():
    with pytest.raises(ValueError, match="layer 1 differs"):
        copy_layers(SmallCNN(3, channels=(8, 16, 32)), SmallCNN(3), 1)
    with pytest.raises(ValueError, match="between 0 and 4"):
        copy_layers(SmallCNN(3), SmallCNN(3), 5)


def test_freeze_layers_stops_gradients_to_the_first_k():
    model = SmallCNN(3)
    total = count_trainable(model)
    freeze_layers(model, 3)
    model(torch.rand(2, 1, 28, 28)).sum().backward()
    assert model.layers[2][0].weight.grad is None
    assert model.layers[3][1].weight.grad is not None
    assert 0 < count_trainable(model) < total
    freeze_layers(model, 0)
    assert count_trainable(model) == total
    with pytest.raises(ValueError, match="between 0 and 4"):
        freeze_layers(model, -1)


def test_norm_adds_batch_normalisation_and_keeps_layer_transfer():
    plain, normed = SmallCNN(3), SmallCNN(3, norm=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in normed.modules()) == 3
    copy = copy_layers(normed, SmallCNN(5, norm=True), 4)
    x = torch.rand(4, 1, 28, 28)
    normed.eval(), copy.eval()
    assert torch.equal(copy.features(x), normed.features(x))


def test_channels_last_computes_the_same_function():
    torch.manual_seed(0)
    plain = SmallCNN(5, norm=True)
    fast = SmallCNN(5, norm=True, channels_last=True)
    fast.load_state_dict(plain.state_dict())
    assert fast.layers[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(6, 1, 28, 28)
    plain.eval(), fast.eval()
    torch.testing.assert_close(fast(x), plain(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.features(x[:, :, :, :]), plain.features(x))
    copy_layers(fast, SmallCNN(5, norm=True), 4)  # layer transfer works across layouts
