from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from srbench.training.config import ConfigError, TrainConfig, load_config


def test_paper_defaults_per_model() -> None:
    r = load_config(None, {"model": "srresnet"})
    assert (r.steps, r.content_loss, r.lr, r.batch, r.crop, r.beta1) == (1_000_000, "mse", 1e-4, 16, 96, 0.9)
    g = load_config(None, {"model": "srgan"})
    assert (g.steps, g.content_loss, g.lr_decay_step, g.adv_weight) == (200_000, "vgg54", 100_000, 1e-3)


def test_toml_then_overrides(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[train]\nmodel = "srgan"\nsteps = 50\ncrop = 64\ntrain_data = ["a", "b"]\nlr = 1\n')
    c = load_config(p, {"steps": "70", "crop": None})
    assert isinstance(c, TrainConfig)
    assert (c.model, c.steps, c.crop, c.train_data, c.lr) == ("srgan", 70, 64, ("a", "b"), 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.steps = 3  # type: ignore[misc]


def test_unknown_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        load_config(None, {"stpes": 3})
    with pytest.raises(ConfigError, match="'batch'"):
        load_config(None, {"batch": "many"})
    with pytest.raises(ConfigError, match="multiple of 16"):
        load_config(None, {"model": "srgan", "crop": 72})
    with pytest.raises(ConfigError, match="content_loss"):
        load_config(None, {"content_loss": "vgg33"})
    p = tmp_path / "bad.toml"
    p.write_text("steps = [")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(p, {})
