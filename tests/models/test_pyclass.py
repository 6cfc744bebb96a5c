"""``py:FILE.py:Class`` / ``py:package.module:Class``: the user's code, weights through srbench's reader."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srbench.evaluate import RunConfig, evaluate
from srbench.interfaces import ModelError
from srbench.models.files.preupsample import PreUpsampleAdapter
from srbench.registry import PATH_KINDS, get_model, split_path_kind
from srbench.rundir import load_results

ARCH = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, upscale: int = 2, num_feat: int = 8, act: bool = True, slope=0.1, mode: str = "a"):
        super().__init__()
        self.act = act
        self.slope = slope
        self.head = nn.Conv2d(3, num_feat, 3, padding=1)
        self.tail = nn.Conv2d(num_feat, 3 * upscale * upscale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(upscale)

    def forward(self, x):
        h = self.head(x)
        if self.act:
            h = nn.functional.leaky_relu(h, self.slope)
        return self.shuffle(self.tail(h))


class YNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return x + self.conv(x)
'''


@pytest.fixture()
def arch(tmp_path: Path) -> Path:
    p = tmp_path / "my_arch.py"
    p.write_text(ARCH)
    return p


def _net(arch: Path, name: str = "TinyNet", **kwargs: object) -> torch.nn.Module:
    import importlib.util

    spec = importlib.util.spec_from_file_location("reference_arch", arch)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(0)
    return getattr(mod, name)(**kwargs).eval()


def test_py_is_a_registered_path_kind(arch: Path) -> None:
    assert "py" in PATH_KINDS
    assert split_path_kind(f"py:{arch}:TinyNet?upscale=4") == ("py", f"{arch}:TinyNet?upscale=4")


def test_file_class_with_typed_options_equals_the_module(arch: Path, tmp_path: Path) -> None:
    net = _net(arch, upscale=4, num_feat=6, act=False, slope=0.2)
    w = tmp_path / "w.pth"
    torch.save(net.state_dict(), str(w))
    model = get_model(f"py:{arch}:TinyNet?upscale=4&num_feat=6&act=false&slope=0.2&mode=0", 4, weights=str(w))
    info = model.info()
    assert info.extra["kwargs"] == {"upscale": 4, "num_feat": 6, "act": False, "slope": 0.2, "mode": "0"}
    assert info.params == sum(p.numel() for p in net.parameters()) and info.weights == str(w)
    x = torch.rand(2, 3, 7, 9, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want = net(x)
    assert (model.upscale(x) - want).abs().max().item() == 0.0
    for false in ("False", "0", "no"):  # every spelling of false is False
        m = get_model(f"py:{arch}:TinyNet?upscale=4&num_feat=6&act={false}&slope=0.2", 4, weights=str(w))
        assert m.info().extra["kwargs"]["act"] is False


def test_basicsr_params_ema_file_and_scale_filled_in(arch: Path, tmp_path: Path) -> None:
    net = _net(arch, upscale=3)
    w = tmp_path / "net_g_latest.pth"
    torch.save({"params": {k: torch.zeros_like(v) for k, v in net.state_dict().items()},
                "params_ema": {f"module.{k}": v for k, v in net.state_dict().items()}}, str(w))
    model = get_model(f"py:{arch}:TinyNet?weights={w}", 3)  # upscale comes from the run's scale
    assert model.info().extra["kwargs"] == {"upscale": 3}
    assert model.info().extra["checkpoint_wrapper"] == "params_ema"
    assert model.info().extra["checkpoint_prefix"] == "module."
    x = torch.rand(1, 3, 5, 6, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        assert (model.upscale(x) - net(x)).abs().max().item() == 0.0


def test_module_path_and_a_run(tmp_path: Path) -> None:
    from PIL import Image

    from srbench.models.archs.imdn import IMDN

    torch.manual_seed(0)
    net = IMDN(nf=32, num_modules=1, upscale=2).eval()  # CCA reduces 32 channels by 16
    w = tmp_path / "imdn.pth"
    torch.save({"model": net.state_dict()}, str(w))
    name = "py:srbench.models.archs.imdn:IMDN?nf=32&num_modules=1"
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert (get_model(name, 2, weights=str(w)).upscale(x) - net(x)).abs().max().item() == 0.0
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray((torch.rand(32, 24, 3) * 255).byte().numpy()).save(folder / "a.png")
    out = evaluate(RunConfig(models=(name,), datasets=(f"folder:{folder}",), scales=(2,), metrics=("psnr",),
                             throughput=False, weights=((name, str(w)),)), tmp_path / "run", progress=False)
    assert out.ok, out.errors
    assert load_results(tmp_path / "run")["value"].notna().all()


def test_conventions_range_order_pad(arch: Path, tmp_path: Path) -> None:
    net = _net(arch, upscale=2)
    w = tmp_path / "w.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(w))
    x = torch.rand(1, 3, 7, 9, generator=torch.Generator().manual_seed(3))
    m = get_model(f"py:{arch}:TinyNet?input_range=255&channel_order=bgr&pad=4", 2, weights=str(w))
    padded = torch.nn.functional.pad(x.flip(1) * 255, (0, 3, 0, 1), mode="reflect")
    with torch.inference_mode():
        want = (net(padded) / 255).flip(1)[..., :14, :18]
    assert (m.upscale(x) - want).abs().max().item() == 0.0


def test_y_only_pre_upsampling(arch: Path, tmp_path: Path) -> None:
    net = _net(arch, "YNet")
    w = tmp_path / "y.pth"
    torch.save(net.state_dict(), str(w))
    m = get_model(f"py:{arch}:YNet?y_only=true&pre_upsample=yes", 3, weights=str(w))
    assert isinstance(m, PreUpsampleAdapter)
    lr = torch.randint(0, 256, (1, 3, 6, 7), generator=torch.Generator().manual_seed(0)).float() / 255
    want = PreUpsampleAdapter("ref", 3, net).upscale(lr)
    assert (m.upscale(lr) - want).abs().max().item() == 0.0


def test_errors_name_the_problem(arch: Path, tmp_path: Path) -> None:
    net = _net(arch, upscale=2)
    w = tmp_path / "w.pth"
    sd = net.state_dict()
    torch.save({"head.weight": sd["head.weight"], "extra.bias": torch.zeros(1)}, str(w))
    with pytest.raises(ModelError, match=r"missing keys: head\.bias.*unexpected keys: extra\.bias"):
        get_model(f"py:{arch}:TinyNet", 2, weights=str(w))
    with pytest.raises(ModelError, match="no weights"):
        get_model(f"py:{arch}:TinyNet", 2)
    with pytest.raises(ModelError, match=r"'bogus' is neither an option.*num_feat"):
        get_model(f"py:{arch}:TinyNet?bogus=1&weights=none", 2)
    with pytest.raises(ModelError, match="act must be a boolean"):
        get_model(f"py:{arch}:TinyNet?act=maybe&weights=none", 2)
    with pytest.raises(ModelError, match="upscale=4 but the run is at x2"):
        get_model(f"py:{arch}:TinyNet?upscale=4&weights=none", 2)
    with pytest.raises(ModelError, match="no 'Nope'"):
        get_model(f"py:{arch}:Nope?weights=none", 2)
    with pytest.raises(ModelError, match="not found"):
        get_model(f"py:{tmp_path / 'missing.py'}:Net?weights=none", 2)
    with pytest.raises(ModelError, match="cannot import module"):
        get_model("py:no_such_package.arch:Net?weights=none", 2)
    with pytest.raises(ModelError, match="input_range must be 1 or 255"):
        get_model(f"py:{arch}:TinyNet?input_range=2&weights=none", 2)
