"""The adapter contract kit: checks every adapter must pass, importable so that plugin authors run them too.

Three ways to use it (torch is imported only when a check runs; pytest only by :func:`contract_suite`)::

    from srbench.contract import check_adapter, check_factory
    assert check_adapter(my_model) == []                      # one built adapter: a list of problems
    assert check_factory(my_build, scales=(2, 4), tile=8) == []   # the factory: scales, options, tiling

    # tests/test_contract.py of a plugin package: one pytest test per check, failures named per check
    from srbench.contract import contract_suite
    TestContract = contract_suite("my-model", scales=(2, 4))  # a registered name, or the factory itself

What is checked (the SRModel protocol of :mod:`srbench.interfaces`):

* ``attributes``: ``name`` (str), ``scale`` (positive int), ``device``, ``upscale``, ``info() -> ModelInfo``;
* ``shapes``: (N, 3, h, w) float32 in -> (N, 3, h*s, w*s) out, for N = 1 and 2 and odd sizes;
* ``dtype`` float32, ``device`` (output on the model's device), ``range`` (finite, within [-0.5, 1.5]);
* ``determinism`` (two calls agree exactly), ``batch`` (batch items independent), ``input_untouched``
  (the input tensor is not modified in place);
* ``nan``: a NaN in the input raises ValueError or shows in the output (it is never hidden);
* ``bad_input``: a 1-channel, a float64 and a 3-D input raise ValueError naming the model;
* factory checks: ``scale_handling`` (each requested scale gives ``model.scale == s`` or a ModelError;
  scale 0 and an unknown option are ModelErrors) and ``tiling`` (``tile=T`` agrees with the whole image
  within ``tile_tolerance``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from srbench.interfaces import ModelError, ModelInfo, SRModel
from srbench.registry import load_factory

ADAPTER_CHECKS = ("attributes", "shapes", "dtype", "device", "range", "determinism", "batch", "input_untouched",
                  "nan", "bad_input")
FACTORY_CHECKS = ("scale_handling", "tiling")


class _Probe:
    """The outputs that several checks share, computed once per adapter."""
    def __init__(self, model: Any, size: tuple[int, int], seed: int) -> None:
        import torch

        g = torch.Generator().manual_seed(seed)
        h, w = size
        self.size = size
        self.x = torch.rand(2, 3, h, w, generator=g).to(model.device)
        self.x_copy = self.x.clone()
        with torch.inference_mode():
            self.y1 = model.upscale(self.x[:1])
            self.y2 = model.upscale(self.x[:1])
            self.yb = model.upscale(self.x)


def _attributes(model: Any, probe: _Probe | None) -> list[str]:
    problems = []
    if not isinstance(model, SRModel):
        return [f"{type(model).__name__} does not implement SRModel (name, scale, device, upscale, info)"]
    if not isinstance(model.name, str) or not model.name:
        problems.append(f"name must be a non-empty str, got {model.name!r}")
    if isinstance(model.scale, bool) or not isinstance(model.scale, int) or model.scale < 1:
        problems.append(f"scale must be a positive int, got {model.scale!r}")
    if not isinstance(model.info(), ModelInfo):
        problems.append("info() must return srbench.interfaces.ModelInfo")
    return problems


def _shapes(model: Any, p: _Probe) -> list[str]:
    import torch

    s, (h, w) = model.scale, p.size
    if not isinstance(p.y1, torch.Tensor):
        return [f"upscale returned {type(p.y1).__name__}, expected a torch.Tensor"]
    problems = []
    if tuple(p.y1.shape) != (1, 3, h * s, w * s):
        problems.append(f"output shape {tuple(p.y1.shape)} for a (1, 3, {h}, {w}) input, "
                        f"expected {(1, 3, h * s, w * s)}")
    if not isinstance(p.yb, torch.Tensor) or tuple(p.yb.shape) != (2, 3, h * s, w * s):
        got = tuple(p.yb.shape) if isinstance(p.yb, torch.Tensor) else type(p.yb).__name__
        problems.append(f"a batch of 2 gave {got}, expected {(2, 3, h * s, w * s)}")
    return problems


def _dtype(model: Any, p: _Probe) -> list[str]:
    import torch

    dt = getattr(p.y1, "dtype", None)
    return [] if dt == torch.float32 else [f"output dtype {dt}, expected torch.float32"]


def _device(model: Any, p: _Probe) -> list[str]:
    got = str(getattr(p.y1, "device", "?")).split(":")[0]
    return [] if got == str(model.device).split(":")[0] else [
        f"output on {getattr(p.y1, 'device', '?')}, expected the model's device {model.device}"]


def _range(model: Any, p: _Probe) -> list[str]:
    import torch

    y = p.y1.float()
    if not torch.isfinite(y).all():
        return ["output has NaN or infinite values for a finite input"]
    if y.min() < -0.5 or y.max() > 1.5:
        return [f"output range [{float(y.min()):.3f}, {float(y.max()):.3f}] is far outside [0, 1] "
                "(expected [0, 1]-ish)"]
    return []


def _determinism(model: Any, p: _Probe) -> list[str]:
    import torch

    return [] if torch.equal(p.y1, p.y2) else ["not deterministic: two calls on the same input differ"]


def _batch(model: Any, p: _Probe) -> list[str]:
    if tuple(p.yb.shape[1:]) != tuple(p.y1.shape[1:]):
        return []  # reported by shapes
    diff = float((p.yb[:1].float() - p.y1.float()).abs().max())
    return [] if diff <= 1e-4 else [f"batch items are not independent (first item differs by {diff:.2e} from the "
                                    "single-image call)"]


def _input_untouched(model: Any, p: _Probe) -> list[str]:
    import torch

    return [] if torch.equal(p.x, p.x_copy) else ["upscale modified its input tensor in place"]


def _nan(model: Any, p: _Probe) -> list[str]:
    import torch

    x = p.x[:1].clone()
    x[0, :, 0, 0] = float("nan")
    try:
        with torch.inference_mode():
            y = model.upscale(x)
    except ValueError:
        return []
    except Exception as exc:
        return [f"a NaN input raised {type(exc).__name__} ({exc}); expected ValueError or NaN in the output"]
    if isinstance(y, torch.Tensor) and torch.isfinite(y).all():
        return ["a NaN in the input gave an all-finite output: the NaN was hidden (raise ValueError instead)"]
    return []


def _bad_input(model: Any, p: _Probe) -> list[str]:
    import torch

    h, w = p.size
    problems = []
    cases = {"a 1-channel input": torch.rand(1, 1, h, w), "a float64 input": torch.rand(1, 3, h, w).double(),
             "a 3-D input": torch.rand(3, h, w)}
    for what, x in cases.items():
        try:
            with torch.inference_mode():
                model.upscale(x.to(model.device))
        except ValueError:
            continue
        except Exception as exc:
            problems.append(f"{what} raised {type(exc).__name__}, expected ValueError naming the model")
            continue
        problems.append(f"{what} was accepted; expected ValueError naming the model")
    return problems


_CHECKS: dict[str, Callable[[Any, Any], list[str]]] = {
    "attributes": _attributes, "shapes": _shapes, "dtype": _dtype, "device": _device, "range": _range,
    "determinism": _determinism, "batch": _batch, "input_untouched": _input_untouched, "nan": _nan,
    "bad_input": _bad_input,
}


def check_adapter(model: Any, *, size: tuple[int, int] = (17, 23), seed: int = 0,
                  checks: tuple[str, ...] = ADAPTER_CHECKS) -> list[str]:
    """Problems found with ``model`` (empty when it honours the SRModel contract); see the module doc.

    ``checks`` selects a subset of :data:`ADAPTER_CHECKS`; each problem is prefixed with its check's name.
    """
    unknown = set(checks) - set(ADAPTER_CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; known: {', '.join(ADAPTER_CHECKS)}")
    problems = [f"attributes: {m}" for m in _attributes(model, None)]
    if problems:
        return problems
    try:
        probe = _Probe(model, size, seed)
    except Exception as exc:
        return [f"shapes: upscale failed on a (N, 3, {size[0]}, {size[1]}) float32 input: {type(exc).__name__}: {exc}"]
    shape_problems = _shapes(model, probe)
    for name in checks:
        if name == "attributes":
            continue
        if name == "shapes":
            found = shape_problems
        elif shape_problems:
            continue  # the other checks need the right shapes
        else:
            found = _CHECKS[name](model, probe)
        problems += [f"{name}: {m}" for m in found]
    return problems


Factory = Callable[..., Any]


def _factory(target: str | Factory) -> Factory:
    if callable(target):
        return target

    return load_factory(target)


def check_scale_handling(factory: str | Factory, *, scales: tuple[int, ...] = (2, 3, 4), device: str = "cpu",
                         **build_kwargs: Any) -> list[str]:
    """Each scale gives an adapter of that scale or a ModelError; scale 0 and an unknown option are ModelErrors."""
    build = _factory(factory)
    problems = []
    for s in scales:
        try:
            model = build(s, device=device, **build_kwargs)
        except ModelError:
            continue
        except Exception as exc:
            problems.append(f"scale {s}: the factory raised {type(exc).__name__} ({exc}), expected a ModelError")
            continue
        if getattr(model, "scale", None) != s:
            problems.append(f"scale {s}: the factory built a model with scale {getattr(model, 'scale', None)!r}")
    for what, args, kwargs in (("scale 0", (0,), {}), ("an unknown option", (scales[0],),
                                                        {"no_such_option_xyz": 1})):
        try:
            build(*args, device=device, **build_kwargs, **kwargs)
        except ModelError:
            continue
        except Exception as exc:
            problems.append(f"{what}: raised {type(exc).__name__} ({exc}), expected a ModelError naming the model")
            continue
        problems.append(f"{what}: accepted; expected a ModelError naming the model")
    return problems


def check_tiling(factory: str | Factory, *, scale: int, tile: int = 8, tolerance: float = 1.0 / 255,
                 size: tuple[int, int] = (21, 19), device: str = "cpu", seed: int = 0,
                 **build_kwargs: Any) -> list[str]:
    """``build(scale, tile=tile)`` agrees with the untiled adapter within ``tolerance`` on a larger image."""
    import torch

    build = _factory(factory)
    whole = build(scale, device=device, **build_kwargs)
    tiled = build(scale, device=device, tile=tile, **build_kwargs)
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.inference_mode():
        a, b = whole.upscale(x), tiled.upscale(x)
    if a.shape != b.shape:
        return [f"tile={tile} gave shape {tuple(b.shape)}, the whole image {tuple(a.shape)}"]
    diff = float((a.float() - b.float()).abs().max())
    return [] if diff <= tolerance else [f"tile={tile} differs from the whole image by {diff:.3g} > {tolerance:.3g}"]


def check_factory(factory: str | Factory, *, scales: tuple[int, ...] = (4,), device: str = "cpu",
                  tile: int | None = None, tile_tolerance: float = 1.0 / 255, **build_kwargs: Any) -> list[str]:
    """Every adapter check for each buildable scale, plus scale handling and (with ``tile``) tiling."""
    build = _factory(factory)
    problems = [f"scale_handling: {m}" for m in check_scale_handling(build, scales=scales, device=device,
                                                                     **build_kwargs)]
    for s in scales:
        try:
            model = build(s, device=device, **build_kwargs)
        except ModelError:
            continue
        problems += [f"x{s} {m}" for m in check_adapter(model)]
        if tile is not None:
            problems += [f"x{s} tiling: {m}" for m in check_tiling(build, scale=s, tile=tile,
                                                                   tolerance=tile_tolerance, device=device,
                                                                   **build_kwargs)]
    return problems


def contract_suite(factory: str | Factory, *, scales: tuple[int, ...] = (4,), device: str = "cpu",
                   tile: int | None = None, tile_tolerance: float = 1.0 / 255, **build_kwargs: Any) -> type:
    """A pytest test class with one test per check and scale, for ``TestContract = contract_suite(...)``.

    ``factory`` is a registered model name (its entry point is then tested as srbench loads it) or the
    factory callable. Scales the factory refuses with a ModelError are skipped; tiling runs when ``tile`` is
    given.
    """
    import pytest

    build = _factory(factory)
    cache: dict[int, Any] = {}

    def model_for(s: int) -> Any:
        if s not in cache:
            try:
                cache[s] = build(s, device=device, **build_kwargs)
            except ModelError as exc:
                cache[s] = exc
        if isinstance(cache[s], ModelError):
            pytest.skip(f"x{s}: {cache[s]}")
        return cache[s]

    def adapter_test(name: str) -> Callable[[Any, int], None]:
        def test(self: Any, scale: int) -> None:
            problems = check_adapter(model_for(scale), checks=(name,))
            assert not problems, "\n".join(problems)

        test.__name__ = f"test_{name}"
        test.__doc__ = f"srbench contract: {name}"
        return pytest.mark.parametrize("scale", scales)(test)

    def test_scale_handling(self: Any) -> None:
        problems = check_scale_handling(build, scales=scales, device=device, **build_kwargs)
        assert not problems, "\n".join(problems)

    @pytest.mark.parametrize("scale", scales)
    def test_tiling(self: Any, scale: int) -> None:
        if tile is None:
            pytest.skip("no tile size given to contract_suite (tile=...)")
        model_for(scale)
        problems = check_tiling(build, scale=scale, tile=tile, tolerance=tile_tolerance, device=device,
                                **build_kwargs)
        assert not problems, "\n".join(problems)

    attrs: dict[str, Any] = {f"test_{n}": adapter_test(n) for n in ADAPTER_CHECKS}
    attrs.update(test_scale_handling=test_scale_handling, test_tiling=test_tiling,
                 __doc__=f"The srbench adapter contract for {factory!r}.")
    return type("SRBenchContract", (), attrs)
