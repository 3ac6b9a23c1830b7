import importlib
import pkgutil

import pytest

import zsl_utils as zu

MODULES = [m.name for m in pkgutil.iter_modules(zu.__path__)]


def test_every_exported_name_exists():
    assert all(hasattr(zu, name) for name in zu.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_is_exported_and_has_a_short_all_of_existing_names(name):
    module = importlib.import_module(f"zsl_utils.{name}")
    assert name in zu.__all__, f"zsl_utils.{name} is not exported from the package"
    assert module.__all__
    assert all(hasattr(module, item) for item in module.__all__)
    assert "notebook" in module.__doc__, "the docstring does not say which notebook introduces it"
