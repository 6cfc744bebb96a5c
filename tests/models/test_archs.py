"""srbench's added architectures (srbench/models/archs): detected by ``file:`` from the layouts their
authors save, right scale and parameter count, output bit-equal to calling the module directly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from srbench.interfaces import ModelError
from srbench.models.archs.carn import CARN
from srbench.models.archs.fsrcnn import FSRCNN
from srbench.models.archs.imdn import IMDN
from srbench.models.archs.rfdn import RFDN
from srbench.models.archs.rlfn import RLFN
from srbench.models.archs.span import SPANDeploy
from srbench.models.archs.srcnn import SRCNNSeq
from srbench.models.files.checkpoint import describe
from srbench.models.files.preupsample import PreUpsampleAdapter
from srbench.registry import get_model


def _perturbed(net: nn.Module, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return net.eval()


def _save(net: nn.Module, path: Path, layout: str) -> Path:
    """``net``'s state dict as its authors save it: plain, ``{'model': sd}``, DataParallel ``module.``."""
    sd = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if layout == "module":
        sd = {f"module.{k}": v for k, v in sd.items()}
    torch.save({"model": sd} if layout == "model" else sd, str(path))
    return path


# name -> (small network at x`scale`, architecture name, scale, the authors' layouts)
CASES: dict[str, tuple[Callable[[], nn.Module], str, int, tuple[str, ...]]] = {
    "imdn": (lambda: IMDN(nf=16, num_modules=3, upscale=3), "IMDN", 3, ("module", "plain")),
    "rfdn": (lambda: RFDN(nf=16, num_modules=2, upscale=4), "RFDN", 4, ("plain", "module")),
    "rlfn": (lambda: RLFN(feature_channels=12, mid_channels=8, num_blocks=2, upscale=2), "RLFN", 2,
             ("plain", "module")),
    "span": (lambda: SPANDeploy(feature_channels=8, upscale=4), "SPAN (re-parameterised)", 4, ("plain",)),
    "carn": (lambda: CARN(2, channels=8), "CARN", 2, ("plain",)),
    "carn_m": (lambda: CARN(3, mobile=True, group=4, channels=8), "CARN", 3, ("plain",)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_detected_with_scale_and_params_and_equal_output(tmp_path: Path, name: str) -> None:
    make, arch, scale, layouts = CASES[name]
    net = _perturbed(make())
    x = torch.rand(2, 3, 15, 17, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want = net(x.clone())
    for layout in layouts:
        path = _save(net, tmp_path / f"{name}_{layout}.pth", layout)
        facts = describe(path)
        assert (facts["architecture"], facts["scale"]) == (arch, scale)
        assert facts["params"] == sum(p.numel() for p in net.parameters())
        assert facts["checkpoint_prefix"] == ("module." if layout == "module" else None)
        got = get_model(f"file:{path}", scale).upscale(x)
        assert got.shape == (2, 3, 15 * scale, 17 * scale)
        assert (got - want).abs().max().item() == 0.0


def test_esa_networks_pad_inputs_below_their_minimum(tmp_path: Path) -> None:
    net = _perturbed(RLFN(feature_channels=12, mid_channels=8, num_blocks=1, upscale=2))
    path = _save(net, tmp_path / "r.pth", "plain")
    assert describe(path)["size_requirements"]["minimum"] == 15
    assert get_model(f"file:{path}", 2).upscale(torch.rand(1, 3, 6, 20)).shape == (1, 3, 12, 40)


def test_published_configurations_have_the_published_parameter_counts() -> None:
    def count(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    assert count(IMDN(upscale=4)) == 715_176  # paper: 715K
    assert count(RFDN(upscale=4)) == 433_448  # AIM 2020 report: 0.433M
    assert count(RLFN(upscale=4)) == 543_740  # paper: 543K
    assert count(RLFN(feature_channels=46, mid_channels=48, num_blocks=4, upscale=4)) == 317_218  # 0.317M
    assert count(CARN(4, multi_scale=True)) == 1_591_963  # paper: 1,592K
    assert count(SPANDeploy(feature_channels=48)) == 426_288  # SPAN-S ch48: 426K


def test_multi_scale_carn_runs_each_branch(tmp_path: Path) -> None:
    net = _perturbed(CARN(4, multi_scale=True, channels=8))
    path = _save(net, tmp_path / "carn.pth", "plain")
    facts = describe(path)
    assert facts["architecture"] == "CARN" and "multi-scale x2/x3/x4" in facts["tags"]
    x = torch.rand(1, 3, 9, 10, generator=torch.Generator().manual_seed(2))
    for s in (2, 3, 4):
        net.set_scale(s)
        with torch.inference_mode():
            want = net(x)
        got = get_model(f"file:{path}", s).upscale(x)
        assert (got - want).abs().max().item() == 0.0
    with pytest.raises(ModelError, match="x4 CARN"):
        get_model(f"file:{path}", 8)


def test_fsrcnn_is_y_only_post_upsampling_with_the_scale_from_the_name_or_the_run(tmp_path: Path) -> None:
    net = _perturbed(FSRCNN(3, d=16, s=6, m=2))
    named = _save(net, tmp_path / "fsrcnn_x3.pth", "plain")
    facts = describe(named)
    assert (facts["architecture"], facts["scale"], facts["input_channels"]) == ("FSRCNN", 3, 1)
    assert facts["params"] == sum(p.numel() for p in net.parameters())
    lr = torch.randint(0, 256, (1, 3, 7, 9), generator=torch.Generator().manual_seed(0)).float() / 255
    # the module called directly on Y
    want = PreUpsampleAdapter("ref", 3, net, pre_upsample=False).upscale(lr)
    model = get_model(f"file:{named}", 3)
    assert isinstance(model, PreUpsampleAdapter) and model.y_only and not model.pre_upsample
    assert (model.upscale(lr) - want).abs().max().item() == 0.0
    with pytest.raises(ModelError, match="x3 FSRCNN"):  # the name says x3: running it at x2 is refused
        get_model(f"file:{named}", 2)
    unnamed = _save(net, tmp_path / "fsrcnn.pth", "plain")  # no scale in the name: the run's scale
    net.set_scale(2)
    want2 = PreUpsampleAdapter("ref", 2, net, pre_upsample=False).upscale(lr)
    assert (get_model(f"file:{unnamed}", 2).upscale(lr) - want2).abs().max().item() == 0.0


def test_srcnn_features_map_reconstruction_layout(tmp_path: Path) -> None:
    net = _perturbed(SRCNNSeq(n1=16, n2=8, f2=1))
    path = _save(net, tmp_path / "srcnn_x3.pth", "plain")
    facts = describe(path)
    assert facts["architecture"] == "SRCNN (pre-upsampling, Y)" and facts["scale"] == 1
    assert "9-1-5" in facts["tags"] and facts["params"] == sum(p.numel() for p in net.parameters())
    lr = torch.randint(0, 256, (1, 3, 6, 8), generator=torch.Generator().manual_seed(0)).float() / 255
    want = PreUpsampleAdapter("ref", 3, net).upscale(lr)
    assert (get_model(f"file:{path}", 3).upscale(lr) - want).abs().max().item() == 0.0


def test_unrecognised_file_points_to_py(tmp_path: Path) -> None:
    path = tmp_path / "mystery.pth"
    torch.save({"trunk.0.weight": torch.zeros(4, 3, 3, 3)}, str(path))
    with pytest.raises(ModelError, match=r"not recognised.*trunk\.0\.weight.*py:.*plugins"):
        describe(path)
