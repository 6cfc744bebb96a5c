"""Every registered model honours the adapter contract (parametrised over the whole registry)."""

from __future__ import annotations

import pytest

from srbench.contract import check_adapter
from srbench.interfaces import ModelError
from srbench.registry import get_model, list_models


@pytest.mark.parametrize("name", sorted(list_models()))
def test_registered_model_honours_the_contract(name: str) -> None:
    if name.startswith("keras"):
        pytest.importorskip("tensorflow")
    try:
        model = get_model(name, 4)
    except ModelError as exc:
        if "weights" in str(exc).lower():
            pytest.skip(f"{name}: no weights available here ({exc})")
        raise
    assert check_adapter(model) == []


def test_checker_catches_a_broken_adapter() -> None:
    import torch

    from srbench.interfaces import ModelInfo

    class Broken:
        name, scale, device = "broken", 2, "cpu"

        def upscale(self, lr: torch.Tensor) -> torch.Tensor:
            return torch.rand(lr.shape[0], 3, lr.shape[2] * 2, lr.shape[3] * 2 + 1).double()

        def info(self) -> ModelInfo:
            return ModelInfo("broken")

    problems = check_adapter(Broken())
    assert problems and "output shape" in problems[0]


def test_unknown_model_suggests_the_closest_name() -> None:
    with pytest.raises(ModelError, match=r"Did you mean 'srgan'\?.*Known models: .*bicubic"):
        get_model("srgn", 4)
