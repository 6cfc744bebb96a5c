"""srbench.models.weights: one reader and one unwrap policy, whichever path loads a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from srbench.interfaces import ModelError
from srbench.models.archs.srresnet import Discriminator, SRResNet
from srbench.models.files.checkpoint import read_checkpoint
from srbench.models.keras.convert import read_torch_safetensors
from srbench.models.srresnet import build_srresnet
from srbench.models.weights import read_weights


def _net(seed: int) -> SRResNet:
    torch.manual_seed(seed)
    return SRResNet(4, n_blocks=16).eval()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_a_basicsr_file_loads_the_same_tensors_through_file_and_weights(tmp_path: Path) -> None:
    """BasicSR saves ``params`` and ``params_ema`` and evaluates the EMA weights: both paths take them."""
    ema, other = _net(0).state_dict(), _net(1).state_dict()
    path = tmp_path / "basicsr.pth"
    torch.save({"params": other, "params_ema": ema}, str(path))
    via_file, via_weights = read_checkpoint(path), read_weights(path)
    assert via_file.wrapper == via_weights.wrapper == "params_ema"
    assert _same(via_file.state_dict, ema) and _same(via_weights.state_dict, ema)
    plain = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in ema.items()}, str(plain))
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(build_srresnet(4, weights=str(path)).upscale(x),
                               build_srresnet(4, weights=str(plain)).upscale(x), rtol=0, atol=0)


def test_a_training_checkpoint_yields_the_generator_only(tmp_path: Path) -> None:
    g, d = _net(2).state_dict(), Discriminator(96).state_dict()
    path = tmp_path / "weights.safetensors"
    save_file({**{f"generator.{k}": v.contiguous() for k, v in g.items()},
               **{f"discriminator.{k}": v.contiguous() for k, v in d.items()}}, str(path), {"step": "7"})
    for ckpt in (read_checkpoint(path), read_weights(path)):
        assert ckpt.prefix == "generator." and ckpt.metadata == {"step": "7"}
        assert _same(ckpt.state_dict, g)
    arrays, meta = read_torch_safetensors(path)  # srbench convert / seed-srgan: the same policy, as numpy
    assert set(arrays) == set(g) and meta == {"step": "7"}
    assert all(np.array_equal(arrays[k], g[k].numpy()) for k in g)


def test_nested_wrappers_and_the_ddp_prefix(tmp_path: Path) -> None:
    sd = _net(3).state_dict()
    path = tmp_path / "ddp.pth"
    torch.save({"state_dict": {"g": {f"module.{k}": v for k, v in sd.items()}}, "epoch": 3}, str(path))
    ckpt = read_weights(path)
    assert ckpt.wrapper == "state_dict/g" and ckpt.prefix == "module." and _same(ckpt.state_dict, sd)
    assert _same(read_checkpoint(path).state_dict, sd)
    assert ckpt.dtypes == ["float32"]


def test_what_is_not_a_state_dict_is_a_model_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"weights file .*nope\.pth not found"):
        read_weights(tmp_path / "nope.pth")
    opt = tmp_path / "opt.pth"
    torch.save({"optimizer": {"lr": 0.1}, "step": 3}, str(opt))
    with pytest.raises(ModelError, match=r"model file .*opt\.pth: expected a state dict of tensors"):
        read_weights(opt, what="model file")
