"""Training configuration: one frozen dataclass, loaded from TOML and/or overrides (CLI flags).

Defaults are the paper's recipe (docs/protocol.md, "Training recipe"). Fields left unset take per-model defaults
(``MODEL_DEFAULTS``): SRResNet-MSE trains 10^6 steps with the MSE loss at lr 1e-4; SRGAN trains 2 x 10^5
steps with the VGG54 content loss, lr 1e-4 dropped to 1e-5 after 10^5 steps. Every deviation is a field.
Unknown keys are errors; values are type-checked; the object is never mutated.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from srbench.interfaces import SRBenchError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

MODELS = ("srresnet", "srgan", "seed-srresnet", "seed-srgan")
# The seed article's architecture (srbench.models.archs.seed: per-channel PReLU, BN epsilon 1e-3 and Keras
# momentum 0.8, tanh out; its discriminator): seed-srresnet is its MSE pre-training, seed-srgan its GAN.
SEED_MODELS = ("seed-srresnet", "seed-srgan")
GAN_MODELS = ("srgan", "seed-srgan")
CONTENT_LOSSES = ("mse", "vgg22", "vgg54")
AMP_MODES = ("none", "bf16", "fp16")


class ConfigError(SRBenchError):
    """A training configuration is invalid; the message names the key and the problem."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Sizes are in pixels, ``batch`` is the global batch."""

    model: str = "srresnet"  # srresnet (SRResNet-MSE) | srgan | seed-srresnet | seed-srgan (the article's)
    scale: int = 4
    train_data: tuple[str, ...] = ("div2k-train",)  # dataset specs: catalogue names, folder:PATH or PATH
    data_dir: str | None = None  # where catalogue datasets are looked up (as `srbench evaluate --data-dir`)
    val_data: str | None = "set5"  # validation dataset spec; None (or "none") disables validation
    val_every: int = 1000  # steps between validations (PSNR/SSIM on Y, crop = scale, via srbench.metrics)
    val_max_images: int | None = None
    crop: int = 96  # HR crop side; LR crop = crop / scale
    batch: int = 16  # global batch, split evenly over DDP ranks
    steps: int | None = None  # total optimisation steps (per-model default)
    lr: float = 1e-4
    lr_decay_step: int | None = None  # step from which lr * lr_decay_factor applies (per-model default)
    lr_decay_factor: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    content_loss: str | None = None  # mse | vgg22 | vgg54 (per-model default: mse / vgg54)
    adv_weight: float = 1e-3
    vgg_weights: str | None = None  # path to vgg19-dcbb9e9d.pth; None: $TORCH_HOME/hub/checkpoints;
    #                                 "random": random init, ONLY for tests/benchmarks (not a real VGG loss)
    init: str | None = None  # generator weights to start from (SRGAN: the trained SRResNet-MSE)
    out_dir: str | None = None  # run folder (default runs/<model>_x<scale>)
    resume: bool = False  # continue from <out_dir>/last.*
    seed: int = 0
    workers: int = 2  # DataLoader worker processes (0: load in the training process)
    augment: bool = True  # random flips and 90-degree rotations
    device: str = "auto"  # auto | cpu | cuda | cuda:N (under torchrun: cuda:LOCAL_RANK)
    amp: str = "none"  # none | bf16 | fp16 (fp16 on CUDA only). bf16 on a CPU: ~3x faster steps with AMX,
    #                    ~1.8x with avx512_bf16
    channels_last: bool | None = None  # NHWC tensors; None: on (faster with cuDNN and with oneDNN on CPUs)
    compile: bool = False  # torch.compile the networks (pays a compile time up front)
    threads: int | None = None  # torch intra-op threads on CPU (None: torch's default)
    ckpt_every: int = 1000  # steps between `last` checkpoints (also written at the end and on Ctrl-C)
    log_every: int = 50  # steps between log.csv / TensorBoard rows
    samples: int = 2  # validation images written to <out_dir>/samples at each validation
    tensorboard: bool = True
    progress: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)  # free text recorded in the run (e.g. deviations)

    def run_dir(self) -> Path:
        return Path(self.out_dir or f"runs/{self.model}_x{self.scale}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "srresnet": {"steps": 1_000_000, "content_loss": "mse", "lr_decay_step": None},
    "srgan": {"steps": 200_000, "content_loss": "vgg54", "lr_decay_step": 100_000},
    # the article: pre-training PiecewiseConstantDecay([200000], [1e-4, 1e-5]); GAN ([100000], [1e-4, 1e-5])
    "seed-srresnet": {"steps": 1_000_000, "content_loss": "mse", "lr_decay_step": 200_000},
    "seed-srgan": {"steps": 200_000, "content_loss": "vgg54", "lr_decay_step": 100_000},
}


def _check_type(name: str, value: Any, hint: Any) -> Any:
    """Coerce TOML/CLI values to the field's type (lists -> tuples, ints -> floats) or raise ConfigError."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_type(name, value, a)
            except ConfigError:
                pass
        raise ConfigError(f"config key {name!r}: {value!r} is not a {hint}")
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"config key {name!r}: expected a list of strings, got {value!r}")
        return tuple(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"config key {name!r}: expected true/false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"config key {name!r}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
        raise ConfigError(f"config key {name!r}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"config key {name!r}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"config key {name!r}: expected a string, got {value!r}")
    raise ConfigError(f"config key {name!r}: unsupported type {hint}")


# What a resumed run may change: where and how fast it runs, how it logs, when it stops. Everything else
# (crop, batch, lr, data, losses, seed, amp, ...) shapes the trajectory, so a resume takes it from the run's
# recorded config.json and refuses a different value unless asked (``allow_changes`` / ``--override``).
RESUME_FREE = frozenset({
    "steps", "resume", "out_dir", "data_dir", "workers", "device", "threads", "channels_last", "compile",
    "val_data", "val_every", "val_max_images", "samples", "ckpt_every", "log_every", "tensorboard", "progress",
    "notes", "init",
})


def _validate(c: TrainConfig) -> None:
    def bad(msg: str) -> None:
        raise ConfigError(msg)

    if c.model not in MODELS:
        bad(f"model must be one of {MODELS}, got {c.model!r}")
    if c.scale not in (2, 3, 4, 8):
        bad(f"scale must be 2, 3, 4 or 8, got {c.scale}")
    if c.content_loss not in CONTENT_LOSSES:
        bad(f"content_loss must be one of {CONTENT_LOSSES}, got {c.content_loss!r}")
    if c.amp not in AMP_MODES:
        bad(f"amp must be one of {AMP_MODES}, got {c.amp!r}")
    if c.crop % c.scale:
        bad(f"crop {c.crop} must be a multiple of scale {c.scale}")
    if c.model in SEED_MODELS and c.scale not in (2, 4, 8):
        bad(f"scale must be 2, 4 or 8 for {c.model} (the article's generator stacks x2 upsampling), got {c.scale}")
    if c.model in GAN_MODELS and c.crop % 16:
        bad(f"crop {c.crop} must be a multiple of 16 for the SRGAN discriminator (the paper uses 96)")
    for key in ("batch", "steps", "val_every", "ckpt_every", "log_every"):
        if getattr(c, key) is None or getattr(c, key) <= 0:
            bad(f"{key} must be a positive integer, got {getattr(c, key)!r}")
    if c.workers < 0 or c.samples < 0:
        bad("workers and samples must be >= 0")
    if c.lr <= 0:
        bad(f"lr must be > 0, got {c.lr}")
    if not c.train_data:
        bad("train_data is empty: give at least one dataset or folder of HR images")


def load_config(path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None, *,
                allow_changes: bool = False) -> TrainConfig:
    """TrainConfig from a TOML file (flat keys, or under a ``[train]`` table) and ``overrides``.

    Overrides win over the file; ``None`` values in ``overrides`` mean "not given" and are skipped (so
    CLI flags left at their default do not mask the file). Per-model defaults fill what is still unset.

    With ``resume`` true and a ``config.json`` in the run folder, that recorded config is the base: what is
    not given keeps the run's value, and a given value that differs from the recorded one in a key outside
    ``RESUME_FREE`` is a ConfigError naming the keys, unless ``allow_changes``.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            with open(p, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file {p} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: invalid TOML ({exc})") from None
        if "train" in data and isinstance(data["train"], dict):
            extra = set(data) - {"train", "meta"}
            if extra:
                raise ConfigError(f"config file {p}: unknown top-level keys {sorted(extra)}")
            data = data["train"]
        raw.update(data)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    hints = typing.get_type_hints(TrainConfig)
    names = {f.name for f in fields(TrainConfig)}
    unknown = set(raw) - names
    if unknown:
        import difflib

        hints_txt = [f"{u!r} (did you mean {difflib.get_close_matches(u, names, n=1)[0]!r}?)"
                     if difflib.get_close_matches(u, names, n=1) else repr(u) for u in sorted(unknown)]
        raise ConfigError(f"unknown config keys: {', '.join(hints_txt)}")
    values = {k: _check_type(k, v, hints[k]) for k, v in raw.items()}
    if values.get("resume"):
        values = _resumed(values, hints, allow_changes)
    if isinstance(values.get("val_data"), str) and values["val_data"].lower() in ("none", ""):
        values["val_data"] = None  # TOML and flags cannot say None: "none" disables validation
    model = values.get("model", TrainConfig.model)
    for k, v in MODEL_DEFAULTS.get(model, {}).items():
        values.setdefault(k, v)
    cfg = TrainConfig(**values)
    _validate(cfg)
    return cfg


def _resumed(given: dict[str, Any], hints: dict[str, Any], allow_changes: bool) -> dict[str, Any]:
    """``given`` on top of the run's recorded config.json (when there is one), conflicts refused."""
    model = given.get("model", TrainConfig.model)
    scale = given.get("scale", TrainConfig.scale)
    run_dir = Path(given.get("out_dir") or f"runs/{model}_x{scale}")
    path = run_dir / "config.json"
    if not path.is_file():
        return given  # nothing recorded (an older run folder): the loop still checks model, scale and step
    import json

    try:
        recorded_raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(recorded_raw, dict):
            raise ValueError("not a JSON object")
        recorded = {k: _check_type(k, v, hints[k]) for k, v in recorded_raw.items() if k in hints}
    except (ValueError, ConfigError) as exc:
        raise ConfigError(f"--resume: the run's recorded config {path} is unreadable ({exc}); fix or remove "
                          "it to resume with the settings given now") from None
    conflicts = [f"{k} {recorded[k]!r} (given {v!r})" for k, v in sorted(given.items())
                 if k in recorded and k not in RESUME_FREE and v != recorded[k]]
    if conflicts and not allow_changes:
        raise ConfigError(f"--resume: the run in {run_dir} was recorded with {'; '.join(conflicts)} in {path}. "
                          "A resumed run continues with its recorded settings: drop these options, or pass "
                          "--override to change them anyway (the result is then not the uninterrupted run's)")
    return {**recorded, **given}


def replace(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    """A validated copy with ``changes`` (the original is never mutated)."""
    new = dataclasses.replace(cfg, **changes)
    _validate(new)
    return new
