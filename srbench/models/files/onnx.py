"""``onnx:PATH``: an ONNX SR model run with onnxruntime (the ``onnx`` extra: ``pip install 'srbench[onnx]'``).

The model takes one NCHW float tensor (float32, or float16: converted at the boundary) with 3 channels and
returns one NCHW tensor ``scale`` times larger. ``input_range`` says what the model expects: ``1`` (values in
[0, 1], the default) or ``255`` ([0, 255]); the output is read on the same scale. The scale is checked when
the adapter is built, by running the model once on a small input (a file that upscales by another factor is
a ModelError naming the file's factor). Height and width must be dynamic axes, or fixed: a fixed-size model
only accepts LR images of exactly that size, which is said when another size comes.

There is no torch module to time, so the throughput pass times ``upscale`` (the onnxruntime session run plus
a copy in and out), the same way for every ONNX model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from srbench.files import file_sha256
from srbench.interfaces import ModelError, ModelInfo
from srbench.models.files.onnx_audit import audit_onnx
from srbench.models.inputs import check_lr
from srbench.models.options import check_known
from srbench.models.trust import parse_trust

if TYPE_CHECKING:
    import torch

RANGES = {"1": 1.0, "0-1": 1.0, "255": 255.0, "0-255": 255.0}
_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}
PROBE = 16  # LR side of the input used to check the scale when the model has dynamic axes


def _ort() -> Any:
    try:
        import onnxruntime  # deferred: onnxruntime is optional (the onnx extra)
    except ImportError as exc:
        raise ModelError("onnx: models need onnxruntime, which is not installed: pip install 'srbench[onnx]' "
                         f"(the onnx extra) ({exc})") from exc
    return onnxruntime


class ONNXModel:
    """SRModel around an onnxruntime InferenceSession (see the module doc). ``module`` is None."""

    module = None

    def __init__(self, name: str, scale: int, session: Any, *, device: str, input_range: float,
                 info: ModelInfo) -> None:
        self.name = name
        self.scale = scale
        self.device = device
        self.session = session
        self.input_range = input_range
        inp = session.get_inputs()[0]
        self._input_name = inp.name
        self._input_dtype = _ORT_TYPES[inp.type]
        self._fixed_hw = tuple(inp.shape[2:]) if all(isinstance(d, int) for d in inp.shape[2:]) else None
        self._info = info

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self._fixed_hw is not None and tuple(x.shape[2:]) != self._fixed_hw:
            raise ValueError(f"{self.name}: the ONNX model has a fixed input size {self._fixed_hw} (H, W), got "
                             f"{tuple(x.shape[2:])}; export it with dynamic height/width axes")
        feed = (x * self.input_range).astype(self._input_dtype, copy=False)
        out = self.session.run(None, {self._input_name: feed})[0]
        return np.asarray(out, dtype=np.float32) / np.float32(self.input_range)

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """float32 RGB NCHW [0, 1] (N, 3, h, w) -> float32 NCHW (N, 3, h*s, w*s), on ``lr``'s device."""
        import torch  # deferred: the adapter runs onnxruntime; torch only at the boundary

        check_lr(self.name, lr)
        x = lr.detach().to("cpu").numpy()
        out = self._run(np.ascontiguousarray(x))
        return torch.from_numpy(out).to(lr.device)

    def info(self) -> ModelInfo:
        return self._info


def _params(path: Path) -> tuple[int | None, dict[str, Any]]:
    """Parameter count (initializer elements) and opset/producer from the file, when ``onnx`` is installed."""
    try:
        import onnx  # deferred: optional, only for the parameter count
    except ImportError:
        return None, {}
    try:
        m = onnx.load(str(path), load_external_data=False)
    except Exception:
        return None, {}
    n = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    opset = {o.domain or "ai.onnx": o.version for o in m.opset_import}
    return n, {"opset": opset, "producer": f"{m.producer_name} {m.producer_version}".strip()}


def _open(name: str, file: Path, device: str, rng: float, trust: bool = False) -> tuple[Any, int]:
    """An InferenceSession for ``file`` on ``device`` and the scale it upscales by (one probe run); the file
    is inspected first (:mod:`srbench.models.files.onnx_audit`) unless ``trust``."""
    ort = _ort()
    if not trust:
        audit_onnx(file, name)
    providers = ["CPUExecutionProvider"]
    if str(device).startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError(f"{name}: device {device!r} asked for, but this onnxruntime has no CUDA provider "
                             "(install onnxruntime-gpu)")
        idx = str(device).partition(":")[2] or "0"
        providers = [("CUDAExecutionProvider", {"device_id": int(idx)}), "CPUExecutionProvider"]
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(file), sess_options=opts, providers=providers)
    except Exception as exc:
        raise ModelError(f"{name}: onnxruntime cannot load {file} ({exc})") from exc
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1:
        raise ModelError(f"{name}: expected one input and one output, the model has {len(inputs)} inputs and "
                         f"{len(outputs)} outputs")
    inp = inputs[0]
    if inp.type not in _ORT_TYPES or len(inp.shape) != 4 or (isinstance(inp.shape[1], int) and inp.shape[1] != 3):
        raise ModelError(f"{name}: expected one NCHW float input with 3 channels, got {inp.type} {inp.shape}")
    h, w = (d if isinstance(d, int) else PROBE for d in inp.shape[2:])
    n = inp.shape[0] if isinstance(inp.shape[0], int) else 1
    probe = np.full((n, 3, h, w), 0.5, dtype=_ORT_TYPES[inp.type])
    try:
        out = session.run(None, {inp.name: probe * rng})[0]
    except Exception as exc:
        raise ModelError(f"{name}: the model fails on a {h}x{w} RGB input ({exc})") from exc
    if (out.ndim != 4 or out.shape[1] != 3 or out.shape[2] % h or out.shape[3] % w
            or out.shape[2] // h != out.shape[3] // w):
        raise ModelError(f"{name}: a (N, 3, {h}, {w}) input gave an output of shape {out.shape}, not an RGB image "
                         "an integer factor larger")
    return session, out.shape[2] // h


def describe(path: str | Path) -> dict[str, Any]:
    """What srbench detects in an ONNX file (``srbench models inspect``): one probe run on a small input."""
    file = Path(path)
    name = f"onnx:{path}"
    if not file.is_file():
        raise ModelError(f"{name}: file {file} not found")
    session, file_scale = _open(name, file, "cpu", 1.0)
    inp = session.get_inputs()[0]
    params, meta = _params(file)
    fixed = [d for d in inp.shape[2:] if isinstance(d, int)]
    return {"file": str(file), "sha256": file_sha256(file), "architecture": "ONNX", "scale": file_scale,
            "params": params, "input_channels": 3, "output_channels": 3,
            "size_requirements": {"fixed_size": "x".join(map(str, fixed))} if len(fixed) == 2 else {},
            "weights_dtype": inp.type, "input_shape": [str(d) for d in inp.shape], **meta}


OPTIONS = {"input_range": "1 (default) or 255: the value range the graph takes and returns",
           "trust": "false (default) or true: skip the inspection of operator domains and external data paths"}


def build(scale: int, *, path: str, device: str = "cpu", weights: str | None = None, tile: int | None = None,
          tile_overlap: int | None = None, input_range: str | float = "1", trust: Any = False,
          **options: Any) -> ONNXModel:
    """The ``onnx:PATH`` adapter; option ``input_range`` = ``1`` (default) or ``255`` (``onnx:m.onnx?input_range=255``).

    ``tile`` is accepted and ignored (an ONNX graph runs whole images). ``trust=true`` skips the inspection of
    the file's operator domains and external data paths (trusted files only). Raises ModelError naming the file.
    """
    name = f"onnx:{path}"
    check_known(options, OPTIONS, name)
    if weights is not None:
        raise ModelError(f"{name}: the file is the model; --weights does not apply to onnx: models")
    key = str(input_range).removesuffix(".0")
    if key not in RANGES:
        raise ModelError(f"{name}: input_range must be 1 (values in [0, 1]) or 255 ([0, 255]), got {input_range!r}")
    rng = RANGES[key]
    trusted = parse_trust(trust, name)
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"{name}: file {file} not found")
    ort = _ort()
    session, file_scale = _open(name, file, device, rng, trusted)
    if file_scale != scale:
        raise ModelError(f"{name}: the file is a x{file_scale} model, it cannot be evaluated at scale {scale} "
                         f"(use --scale {file_scale})")
    inp = session.get_inputs()[0]
    params, meta = _params(file)
    info = ModelInfo(
        name=name, description=f"ONNX model x{scale} from {file.name} (onnxruntime {ort.__version__})",
        weights=str(file), weights_sha256=file_sha256(file), params=params,
        extra={"kind": "onnx", "architecture": "ONNX", "input_range": f"[0, {int(rng)}]", "input_name": inp.name,
               "input_shape": [str(d) for d in inp.shape], "input_dtype": inp.type, "providers":
               session.get_providers(), "onnxruntime": ort.__version__, "file_scale": file_scale, "trust": trusted,
               **meta},
    )
    return ONNXModel(name, scale, session, device=str(device), input_range=rng, info=info)
