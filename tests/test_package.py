import importlib

import zsl_utils as zu


def test_every_exported_name_exists():
    assert all(hasattr(zu, name) for name in zu.__all__)


def test_every_module_has_a_short_all_of_existing_names():
    for name in ("data", "losses", "metrics", "models", "repro", "report", "train", "wordvec"):
        module = importlib.import_module(f"zsl_utils.{name}")
        assert module.__all__, name
        assert all(hasattr(module, item) for item in module.__all__), name
        assert "notebook" in module.__doc__, f"{name} does not say which notebook introduces it"
