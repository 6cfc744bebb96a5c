"""The model registry: built-ins, ``srbench.models`` entry points from an installed distribution (a fake
one put on sys.path here), clashes (warned, the built-in wins), unknown names (known names + did-you-mean),
KIND:PATH names, and a broken plugin that must not take the harness down."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from srbench import registry
from srbench.interfaces import ModelError


@pytest.fixture()
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution 'srbench-fakeplug' with three entry points in ``srbench.models``."""
    (tmp_path / "fakeplug_models.py").write_text(
        "from srbench.models.bicubic import build as _bicubic\n"
        "def build(scale, *, device='cpu', **options):\n"
        "    return _bicubic(scale, device=device)\n"
        "def not_a_model(scale, *, device='cpu', **options):\n"
        "    return object()\n"
    )
    info = tmp_path / "srbench_fakeplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: srbench-fakeplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[srbench.models]\n"
        "fakeplug = fakeplug_models:build\n"
        "bicubic = fakeplug_models:not_a_model\n"  # clashes with the built-in
        "brokenplug = fakeplug_models:missing_attr\n"
        "notmodel = fakeplug_models:not_a_model\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("fakeplug_models", None)


def test_listing_imports_nothing() -> None:
    before = set(sys.modules)
    table = registry.list_models()
    assert {"bicubic", "srresnet", "srgan"} <= set(table)
    assert "srbench.models.srresnet" not in set(sys.modules) - before
    assert all(":" in target for target in table.values())


def test_entry_points_of_an_installed_distribution_are_discovered(fake_distribution: Path) -> None:
    with pytest.warns(UserWarning):
        table = registry.list_models()
    assert table["fakeplug"] == "fakeplug_models:build"
    with pytest.warns(UserWarning):
        model = registry.get_model("fakeplug", 2)
    import torch

    assert model.upscale(torch.rand(1, 3, 4, 5)).shape == (1, 3, 8, 10)
    with pytest.warns(UserWarning):
        assert "plugin: fakeplug_models:build" in registry.describe_models()["fakeplug"]


def test_a_plugin_clashing_with_a_built_in_is_warned_about_and_the_built_in_wins(fake_distribution: Path) -> None:
    with pytest.warns(UserWarning, match="plugin model 'bicubic' .*clashes with a built-in and is ignored"):
        target = registry.resolve("bicubic")
    assert target == registry.BUILTIN["bicubic"][0]


def test_broken_plugins_fail_with_a_sentence(fake_distribution: Path) -> None:
    with pytest.warns(UserWarning), pytest.raises(ModelError, match="model 'brokenplug': cannot load"):
        registry.get_model("brokenplug", 4)
    with pytest.warns(UserWarning), pytest.raises(ModelError, match="'notmodel': factory returned object"):
        registry.get_model("notmodel", 4)


def test_unknown_name_lists_the_known_models_and_suggests_one() -> None:
    with pytest.raises(ModelError) as info:
        registry.resolve("srresent")
    msg = str(info.value)
    assert "unknown model 'srresent'" in msg and "Did you mean 'srresnet'?" in msg
    assert "bicubic" in msg and "srgan" in msg
    with pytest.raises(ModelError) as info:
        registry.resolve("zzzzzz")
    assert "Did you mean" not in str(info.value)


def test_kind_path_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.PATH_KINDS, "toy", ("srbench.models.bicubic:build", "a toy kind"))
    assert registry.split_path_kind("toy:some/file.bin") == ("toy", "some/file.bin")
    assert registry.split_path_kind("toy:") is None and registry.split_path_kind("nokind:x") is None
    assert registry.resolve("toy:x.bin") == "srbench.models.bicubic:build"
    with pytest.raises(ModelError, match="toy:PATH"):
        registry.resolve("nokind:x")
