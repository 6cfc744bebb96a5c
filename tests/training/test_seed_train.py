"""`srbench train seed-srgan`: the seed article's architecture trained in PyTorch converts exactly to the
article's `.h5` and loads with its `build_srresnet().load_weights`; srbench's own SRGAN (one shared PReLU
slope, BN epsilon 1e-5) converts to the same layout exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from srbench.models.archs.seed import SeedDiscriminator, SeedGenerator


def test_seed_networks_match_the_article() -> None:
    g, d = SeedGenerator(4, n_blocks=1), SeedDiscriminator(32)
    bns = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(m.eps == 1e-3 for m in bns) and bns[0].momentum == pytest.approx(0.2)  # Keras momentum 0.8
    prelus = [m for m in g.modules() if isinstance(m, torch.nn.PReLU)]
    assert all(m.weight.shape == (64,) for m in prelus)  # one slope per channel
    out = g(torch.rand(2, 3, 8, 8))
    assert out.shape == (2, 3, 32, 32) and float(out.abs().max()) <= 1.0  # tanh
    assert d(torch.rand(2, 3, 32, 32) * 2 - 1).shape == (2, 1)  # a logit
    with pytest.raises(ValueError, match="multiple of 16"):
        SeedDiscriminator(40)


def test_seed_models_in_the_config() -> None:
    from srbench.training.config import ConfigError, load_config

    cfg = load_config(None, {"model": "seed-srgan"})
    assert (cfg.steps, cfg.content_loss, cfg.lr_decay_step, cfg.adv_weight) == (200_000, "vgg54", 100_000, 1e-3)
    assert load_config(None, {"model": "seed-srresnet"}).lr_decay_step == 200_000
    with pytest.raises(ConfigError, match="scale must be 2, 4 or 8 for seed-srgan"):
        load_config(None, {"model": "seed-srgan", "scale": 3, "crop": 48})


def article_generator(blocks: int) -> Any:
    from tests.models.test_keras_article import build_srresnet

    return build_srresnet(num_res_blocks=blocks)


def keras_output(h5: Path, blocks: int, lr: torch.Tensor) -> np.ndarray:
    """The article's generator, its weights loaded with its own load_weights, on [0, 255]."""
    gen = article_generator(blocks)
    gen.load_weights(str(h5))
    return gen(lr.numpy().transpose(0, 2, 3, 1) * 255, training=False).numpy()


def test_srbench_srgan_converts_to_the_article_layout(tmp_path: Path) -> None:
    """Shared PReLU slopes are broadcast and BN gammas rescaled for epsilon 1e-3: the same outputs."""
    pytest.importorskip("tensorflow")
    from safetensors.torch import save_file

    from srbench.models.archs.srresnet import SRResNet
    from srbench.models.keras.command import convert_file

    torch.manual_seed(0)
    net = SRResNet(4).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(1e-4, 2.0)  # small variances: where the epsilons differ most
                m.weight.uniform_(0.2, 0.6)
            elif isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.0, 0.3)
    save_file({f"generator.{k}": v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "g.safetensors"))
    convert_file(tmp_path / "g.safetensors", tmp_path / "gen.h5")
    lr = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = ((net(lr) + 1) * 127.5).numpy().transpose(0, 2, 3, 1)
    got = keras_output(tmp_path / "gen.h5", 16, lr)
    assert float(np.abs(got - want).max()) <= 1e-3


def test_train_seed_srgan_converts_to_the_article(tmp_path: Path) -> None:
    """Acceptance: `srbench train seed-srgan` a few steps, `convert` to .h5, the article's load_weights in
    TensorFlow: max abs output difference <= 1e-3 on [0, 255]."""
    pytest.importorskip("tensorflow")
    from click.testing import CliRunner

    from srbench.cli import cli
    from srbench.models.keras.command import convert_file
    from srbench.models.weights import read_weights

    data = tmp_path / "hr"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "seed-srgan", "--data", f"folder:{data}", "--val", "none", "--steps", "2",
                                   "--batch", "2", "--crop", "32", "--workers", "0", "--vgg-weights", "random",
                                   "--device", "cpu", "--out", str(out), "--set", "tensorboard=false",
                                   "--set", "progress=false"])
    assert res.exit_code == 0, res.output
    sd = read_weights(out / "last.safetensors").state_dict
    net = SeedGenerator(4)
    net.load_state_dict(sd)
    net.eval()
    assert float(net.blocks[0].body[1].running_var.sub(1).abs().max()) > 1e-3  # BN statistics were trained
    convert_file(out / "last.safetensors", tmp_path / "gen.h5")
    lr = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = ((net(lr) + 1) * 127.5).numpy().transpose(0, 2, 3, 1)
    got = keras_output(tmp_path / "gen.h5", 16, lr)
    assert float(np.abs(got - want).max()) <= 1e-3
