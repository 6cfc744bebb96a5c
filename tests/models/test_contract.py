"""Every registered model honours the adapter contract (parametrised over the whole registry)."""

from __future__ import annotations

import pytest
import torch

from srbench.contract import check_adapter
from srbench.interfaces import ModelError, ModelInfo
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


class _Good:
    """A minimal honest adapter (nearest-neighbour), to break one property at a time."""

    name, scale, device = "good", 2, "cpu"

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        import torch

        if not isinstance(lr, torch.Tensor) or lr.ndim != 4 or lr.shape[1] != 3 or lr.dtype != torch.float32:
            raise ValueError(f"{self.name}: expected float32 RGB NCHW")
        return self.forward(lr)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return lr.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)

    def info(self) -> ModelInfo:
        from srbench.interfaces import ModelInfo

        return ModelInfo(self.name)


def _broken(check: str) -> _Good:
    import torch

    class B(_Good):
        calls = 0

        def forward(self, lr: torch.Tensor) -> torch.Tensor:
            out = super().forward(lr)
            if check == "dtype":
                return out.double()
            if check == "range":
                return out * 10
            if check == "determinism":
                B.calls += 1
                return out + B.calls * 1e-3
            if check == "batch":
                return out - out.mean() + 0.5
            if check == "input_untouched":
                lr.mul_(1.0)
                lr.add_(1e-3)
            if check == "nan":
                return super().forward(torch.nan_to_num(lr))
            return out

        def upscale(self, lr: torch.Tensor) -> torch.Tensor:
            if check == "bad_input":
                return self.forward(lr.float())  # no validation at all
            return super().upscale(lr)

    return B()


def test_the_honest_adapter_passes_every_check() -> None:
    assert check_adapter(_Good()) == []


@pytest.mark.parametrize("check", ["dtype", "range", "determinism", "batch", "input_untouched", "nan", "bad_input"])
def test_each_check_catches_its_defect(check: str) -> None:
    from srbench.contract import ADAPTER_CHECKS

    problems = check_adapter(_broken(check))
    assert problems, check
    assert any(p.startswith(f"{check}:") for p in problems), problems
    assert check in ADAPTER_CHECKS and check_adapter(_broken(check), checks=(check,)) != []


def test_factory_checks_scale_handling_and_tiling() -> None:
    from srbench.contract import check_factory, check_scale_handling, check_tiling
    from srbench.models.bicubic import build as bicubic

    assert check_scale_handling(bicubic, scales=(2, 3, 4)) == []
    assert check_factory("bicubic", scales=(2,), tile=8) == []  # bicubic ignores tile: trivially equal

    def sloppy(scale: int, *, device: str = "cpu", tile: int | None = None, **options: object) -> _Good:
        return _Good()  # ignores the scale and unknown options

    problems = check_scale_handling(sloppy, scales=(2, 4))
    assert any("scale 4: the factory built a model with scale 2" in p for p in problems)
    assert any("unknown option: accepted" in p for p in problems)

    def bad_tiles(scale: int, *, device: str = "cpu", tile: int | None = None, **options: object) -> _Good:
        return _broken("range") if tile else _Good()

    assert check_tiling(bad_tiles, scale=2, tile=8)[0].startswith("tile=8 differs")
