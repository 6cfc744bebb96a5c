"""The training loop on a tiny self-made set: learning, bitwise resume, Ctrl-C, NaN, VGG weights, SRGAN."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srbench.models.archs.srresnet import SRResNet
from srbench.training import checkpoints as ckpt
from srbench.training.config import load_config
from srbench.training.data import StepBatches, load_pairs, resolve_hr_files
from srbench.training.loop import TrainingDiverged, TrainingInterrupted, train
from srbench.training.losses import VGG19_FILE, VGGWeightsMissing
from tests.training.helpers import tiny_overrides


def fixed_batch_loss(weights: dict[str, torch.Tensor] | None, tiny: dict[str, Path]) -> float:
    torch.manual_seed(0)
    net = SRResNet(4)
    if weights is not None:
        net.load_state_dict(weights)
    pairs = load_pairs(resolve_hr_files((str(tiny["train"]),)), 4, 32)
    data = StepBatches(pairs, scale=4, crop=32, global_batch=8, seed=123, start=0, stop=1, augment=False)
    lr, hr = data.batch(0)
    net.train()  # batch statistics, as in training
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(net(lr), hr))


def test_a_few_steps_reduce_the_loss(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    cfg = load_config(None, tiny_overrides(tiny_data, tmp_path / "run", steps=12, lr=5e-4, ckpt_every=12))
    run = train(cfg)
    g, _, state = ckpt.load_checkpoint(run, "last")
    assert state["step"] == 12
    before, after = fixed_batch_loss(None, tiny_data), fixed_batch_loss(g, tiny_data)
    assert after < 0.7 * before, (before, after)
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and len(rows) == 13


def test_cpu_training_keeps_freed_heap_memory(tiny_data: dict[str, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The step's large activations are reused heap pages, not fresh mmaps (srbench.perf.memory)."""
    import srbench.perf.memory as memory

    calls: list[bool] = []
    monkeypatch.setattr(memory, "retain_freed_memory", lambda: calls.append(True) or True)
    train(load_config(None, tiny_overrides(tiny_data, tmp_path / "run", steps=1, ckpt_every=1)))
    assert calls == [True]


def _all_tensors(run: Path) -> dict[str, torch.Tensor]:
    t = load_file(str(run / "last.safetensors"))
    state = torch.load(run / "last.state.pt", weights_only=True)
    for name in ("g_opt", "d_opt"):
        if state.get(name):
            for pid, s in state[name]["state"].items():
                for k, v in s.items():
                    t[f"{name}.{pid}.{k}"] = torch.as_tensor(v)
    return t


def _assert_bitwise(a: Path, b: Path) -> None:
    ta, tb = _all_tensors(a), _all_tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), f"{k} differs"


@pytest.mark.parametrize("model", ["srresnet", "srgan"])
def test_resume_after_ctrl_c_is_bitwise_identical(tiny_data: dict[str, Path], tmp_path: Path, model: str) -> None:
    extra = {"model": model, "content_loss": "mse", "lr_decay_step": 4} if model == "srgan" else {}
    full = train(load_config(None, tiny_overrides(tiny_data, tmp_path / "full", **extra)))

    def interrupt(step: int, losses: dict[str, float]) -> None:
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the real signal path: handler -> finish step -> save

    cut_cfg = load_config(None, tiny_overrides(tiny_data, tmp_path / "cut", ckpt_every=100, workers=1, **extra))
    with pytest.raises(TrainingInterrupted) as info:
        train(cut_cfg, on_step=interrupt)
    assert info.value.step == 3
    assert torch.load(tmp_path / "cut" / "last.state.pt", weights_only=True)["step"] == 3
    with pytest.raises(ckpt.CheckpointError, match="--resume"):
        train(cut_cfg)  # refusing to overwrite a run silently
    train(load_config(None, tiny_overrides(tiny_data, tmp_path / "cut", resume=True, **extra)))
    _assert_bitwise(full, tmp_path / "cut")
    if model == "srgan":
        assert any(k.startswith("discriminator.") for k in load_file(str(full / "last.safetensors")))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "nan"

    def poison(step: int, losses: dict[str, float]) -> None:
        if step == 3:  # corrupt the weights after the checkpoint at step 3
            import gc

            for obj in gc.get_objects():
                if isinstance(obj, SRResNet):
                    with torch.no_grad():
                        obj.tail.weight.fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match=r"step 4: non-finite loss.*last good checkpoint is .*last\.safetensors"):
        train(load_config(None, tiny_overrides(tiny_data, run)), on_step=poison)
    g, _, state = ckpt.load_checkpoint(run, "last")
    assert state["step"] == 3 and all(torch.isfinite(v).all() for v in g.values() if v.is_floating_point())


def test_missing_vgg_weights_says_where_to_put_them(tiny_data: dict[str, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    cfg = load_config(None, tiny_overrides(tiny_data, tmp_path / "vgg", model="srgan", content_loss="vgg54"))
    with pytest.raises(VGGWeightsMissing) as info:
        train(cfg)
    msg = str(info.value)
    assert VGG19_FILE in msg and str(tmp_path / "th" / "hub" / "checkpoints") in msg and "--vgg-weights" in msg
    with pytest.raises(VGGWeightsMissing, match="does not exist"):
        train(load_config(None, tiny_overrides(tiny_data, tmp_path / "vgg2", model="srgan", content_loss="vgg22",
                                               vgg_weights=str(tmp_path / "nope.pth"))))


def test_srgan_with_random_vgg_and_init(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    base = train(load_config(None, tiny_overrides(tiny_data, tmp_path / "base", steps=2, ckpt_every=2)))
    run = train(load_config(None, tiny_overrides(
        tiny_data, tmp_path / "gan", model="srgan", content_loss="vgg22", vgg_weights="random", steps=2,
        ckpt_every=2, init=str(base / "last.safetensors"), val_data=str(tiny_data["val"]), val_every=2)))
    rows = (run / "log.csv").read_text().splitlines()
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(","), strict=False))
    assert float(last["loss_d"]) > 0 and float(last["adv"]) > 0 and float(last["val_psnr"]) > 5
    assert (run / "best.safetensors").is_file() and any((run / "samples").iterdir())
    from srbench.models.srresnet import build_srgan

    model = build_srgan(4, weights=str(run / "best.safetensors"))
    assert model.upscale(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize(("lr", "text"), [(1e-4, "1e-4"), (1.5e-5, "1.5e-5"), (0.001, "1e-3"), (2.0, "2e0")])
def test_learning_rates_print_as_papers_write_them(lr: float, text: str) -> None:
    from srbench.training.loop import format_lr

    assert format_lr(lr) == text


def test_the_step_line_is_basicsr_style() -> None:
    from srbench.training.loop import step_line

    line = step_line(1200, 100000, 1e-4, {"content": 0.0123, "adv": 0.5, "loss_g": 0.0128, "loss_d": 0.61}, 0.42)
    eta = "11:31:36"  # 98,800 steps left at 0.42 s
    assert line == f"[step 1200/100000] lr 1e-4 · content 0.0123 · adv 0.5000 · d 0.6100 · 0.42 s/step · eta {eta}"
    assert step_line(10, 10, 1e-4, {"content": 0.5}, 1.0) == "[step 10/10] lr 1e-4 · content 0.5000 · 1 s/step"
