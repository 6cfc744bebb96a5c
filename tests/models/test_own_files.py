"""srbench's own weight files are recognised by ``file:`` and ``models inspect``: the packaged demo weights,
``srbench train`` outputs (generator + discriminator: the generator is evaluated) and ``srbench convert``
outputs (the seed generator)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from srbench.models.archs.own import SeedGeneratorUnitRange, SRResNetUnitRange
from srbench.models.archs.seed import SeedGenerator
from srbench.models.archs.srresnet import Discriminator, SRResNet
from srbench.models.files.checkpoint import describe, read_checkpoint
from srbench.models.srresnet import build_srresnet, demo_weights_path
from srbench.registry import get_model


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", ["srresnet", "srgan"])
def test_demo_weights_are_srbench_srresnet_x4(name: str) -> None:
    path = demo_weights_path(name)
    facts = describe(path)
    assert (facts["architecture"], facts["scale"]) == ("srbench SRResNet", 4)
    assert facts["params"] == _count(SRResNet(4))
    assert facts["params"] == 1_549_462  # "1.55 M params"
    net = SRResNetUnitRange(4)
    net.load_state_dict(read_checkpoint(path).state_dict)
    net.eval()
    x = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = net(x)
    got = get_model(f"file:{path}", 4).upscale(x)
    assert (got - want).abs().max().item() == 0.0
    # the built-in adapter (BN folded): the same numbers
    builtin = build_srresnet(4) if name == "srresnet" else None
    if builtin is not None:
        assert (builtin.upscale(x) - got).abs().max().item() < 1e-4


def test_train_output_evaluates_the_generator_and_ignores_the_discriminator(tmp_path: Path) -> None:
    torch.manual_seed(0)
    gen, disc = SRResNet(2, n_blocks=2).eval(), Discriminator(32)
    tensors = {f"generator.{k}": v.contiguous() for k, v in gen.state_dict().items()}
    tensors |= {f"discriminator.{k}": v.contiguous() for k, v in disc.state_dict().items()}
    path = tmp_path / "best.safetensors"
    save_file(tensors, str(path), metadata={"format": "srbench-train-1", "model": "srresnet", "scale": "2"})
    facts = describe(path)
    assert (facts["architecture"], facts["scale"], facts["params"]) == ("srbench SRResNet", 2, _count(gen))
    assert facts["tags"][:2] == ["64nf", "2nb"] and facts["checkpoint_prefix"] == "generator."
    x = torch.rand(1, 3, 9, 11, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want = (gen(x) + 1) / 2
    assert (get_model(f"file:{path}", 2).upscale(x) - want).abs().max().item() == 0.0


def test_convert_output_is_the_seed_generator(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    from srbench.models.keras import command as convert

    torch.manual_seed(0)
    gen = SeedGenerator(4, n_blocks=2).eval()
    with torch.no_grad():
        for p in gen.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    layers, _ = convert.torch_to_keras(gen.state_dict())
    h5 = convert.write_keras_h5(tmp_path / "gen.h5", layers)
    out = tmp_path / "gen.safetensors"
    convert.convert_file(h5, out)  # what `srbench convert gen.h5 gen.safetensors` writes
    facts = describe(out)
    assert (facts["architecture"], facts["scale"]) == ("srbench seed generator", 4)
    assert facts["params"] == _count(gen)
    net = SeedGeneratorUnitRange(4, n_blocks=2)
    net.load_state_dict(read_checkpoint(out).state_dict)
    net.eval()
    x = torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        want = net(x)
        assert (want - (gen(x) + 1) / 2).abs().max().item() < 1e-5  # the round trip through Keras' layout
    assert (get_model(f"file:{out}", 4).upscale(x) - want).abs().max().item() == 0.0


def test_models_inspect_names_srbench_srresnet() -> None:
    from click.testing import CliRunner

    from srbench.cli import cli

    res = CliRunner().invoke(cli, ["models", "inspect", str(demo_weights_path("srresnet"))])
    assert res.exit_code == 0, res.output
    assert "srbench SRResNet" in res.output and "x4" in res.output and "1,549,462" in res.output
