"""ONNX export of a trained lifter, and inference with ONNX Runtime.

:func:`export_onnx` writes the model's window mode -- input ``keypoints_2d`` ``(B, R, 17, 2)``
normalised 2D, output ``poses_3d`` ``(B, 17, 3)`` root-relative metres of the centre frame -- with a
dynamic batch axis ``B``. The codec, receptive field and provenance are stored in the ONNX file's
metadata (keys ``skelgnn.*``), so :class:`OnnxLifter` needs nothing but the ``.onnx`` file to turn
pixel keypoints into 3D exactly as :class:`skelgnn.infer.lifter.Lifter` does (same layout conversion,
gap filling, edge padding and flip test-time augmentation).

Needs the optional packages ``onnx`` (export) and ``onnxruntime`` (inference); they are imported
only when used. Export uses PyTorch's TorchScript-based exporter (``dynamo=False``), which needs
no extra package and handles every layer of this package (einsum included).

Shape letters: ``B`` batch (windows), ``R`` receptive field, ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np

import torch

from skelgnn.data.codec import PoseCodec, root_relative
from skelgnn.fileio import atomic_path
from skelgnn.geometry import flip_2d, flip_3d
from skelgnn.models.checkpoint import load_model
from skelgnn.infer.lifter import Lifter, default_checkpoint
from skelgnn.models import LifterModel
from skelgnn.skeleton import H36M17

__all__ = ["build_lifter", "export_onnx", "export_model_onnx", "OnnxLifter", "INPUT_NAME", "OUTPUT_NAME",
           "DEFAULT_OPSET", "MIN_OPSET", "MAX_OPSET", "check_opset"]

log = logging.getLogger(__name__)

INPUT_NAME = "keypoints_2d"
"""Name of the ONNX graph input, ``(B, R, J, 2)`` float32."""
OUTPUT_NAME = "poses_3d"
"""Name of the ONNX graph output, ``(B, J, 3)`` float32."""
DEFAULT_OPSET = 17
"""ONNX opset written by default (supported by every onnxruntime release since 1.11)."""

MIN_OPSET, MAX_OPSET = 13, 20
"""The opsets :func:`export_model_onnx` accepts: every model of the package exports from 13
(``einsum`` needs 12, ``diagonal`` 13; checked for every architecture) up to 20, the newest the
TorchScript exporter of torch writes."""


def check_opset(opset: int) -> int:
    """``opset`` when it is in ``MIN_OPSET .. MAX_OPSET``.

    Raises:
        ValueError: another value (else the exporter fails deep inside with pages of its IR).
    """
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"ONNX opset {opset!r} is not supported; choose {MIN_OPSET} to {MAX_OPSET} "
                         f"(default {DEFAULT_OPSET})")
    return opset

_META_PREFIX = "skelgnn."


def _require(module: str, extra: str = "onnx") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"{module} is not installed; install the optional extra with "
                         f"`pip install skelgnn[{extra}]`") from None


def export_model_onnx(model: LifterModel, codec: PoseCodec, out: str | Path,
                      info: Optional[dict[str, Any]] = None,
                      opset: int = DEFAULT_OPSET) -> Path:
    """Export ``model``'s window mode to ONNX at ``out`` (atomically: temp file, then rename).

    Args:
        model: a lifter; exported in eval mode (its training flag is restored afterwards).
        codec: the codec the model was trained with (stored in the metadata).
        out: the ``.onnx`` file to write; an existing file is replaced only on success.
        info: provenance values stored as ``skelgnn.<key>`` metadata (plain JSON values).
        opset: ONNX opset version.

    Returns:
        ``out`` as a Path.
    """
    check_opset(opset)
    onnx = _require("onnx")
    out = Path(out)
    r = model.receptive_field
    was_training = model.training
    model.eval()
    try:
        with atomic_path(out) as tmp:
            _export_to(model, tmp, codec, info, opset, onnx)
    finally:
        model.train(was_training)
    log.info("exported %s (receptive field %d) to %s", (info or {}).get("preset", "model"), r, out)
    return out


def _export_to(model: LifterModel, tmp: str, codec: PoseCodec, info: Optional[dict],
               opset: int, onnx: Any) -> None:
    """Trace ``model`` to ONNX at ``tmp`` and attach the codec and provenance as metadata."""
    r, j = model.receptive_field, model.num_joints
    example = torch.zeros(2, r, j, 2)  # (B, R, J, 2); B = 2 so no size-1 batch is baked in
    with warnings.catch_warnings():
        # The legacy exporter warns that it is legacy, and the tracer about the shape checks
        # in forward() (constants for a fixed R and J; only B is dynamic).
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), tmp, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], opset_version=opset,
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          dynamo=False)
    proto = onnx.load(tmp)
    meta = {"codec": codec.to_dict(), "receptive_field": r, "num_joints": j,
            **{k: v for k, v in (info or {}).items() if k != "config"}}
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key = _META_PREFIX + key
        entry.value = json.dumps(value)
    onnx.save(proto, tmp)


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Export a checkpoint's model to ONNX (see :func:`export_model_onnx`).

    Raises:
        FileNotFoundError: no checkpoint at ``checkpoint``.
        ValueError: an unreadable checkpoint, an unsupported ``opset`` (checked first), or
            ``onnx`` not installed.
    """
    check_opset(opset)
    model, codec, info = load_model(checkpoint)
    info = {"preset": info.get("preset"), "source": info.get("source"), "arch": info.get("arch"),
            "epoch": info.get("epoch"), "checkpoint": Path(checkpoint).name}
    return export_model_onnx(model, codec, out, info, opset)


BACKENDS: tuple[str, ...] = ("torch", "onnxruntime")
"""Lifter back ends :func:`build_lifter` knows."""


def build_lifter(checkpoint: Optional[str | Path] = None, backend: str = "torch",
                 flip_test: bool = True, onnx: Optional[str | Path] = None) -> Lifter:
    """The one place a lifter is built for a command: PyTorch from a checkpoint, or ONNX Runtime
    from an exported ``onnx`` file or (exported on the fly) from a checkpoint.

    Args:
        checkpoint: checkpoint path (None: :func:`skelgnn.infer.lifter.default_checkpoint`).
        backend: ``"torch"`` or ``"onnxruntime"``.
        flip_test: flip test-time augmentation.
        onnx: an ``.onnx`` file from :func:`export_onnx` (``onnxruntime`` only; wins over
            ``checkpoint``).
    """
    from skelgnn.infer.lifter import default_checkpoint

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if backend == "onnxruntime":
        if onnx is not None:
            return OnnxLifter.from_onnx(onnx, flip_test)
        return OnnxLifter.from_checkpoint(checkpoint or default_checkpoint(), flip_test)
    if onnx is not None:
        raise ValueError("an ONNX model runs with backend 'onnxruntime', not 'torch'")
    return Lifter.from_checkpoint(checkpoint or default_checkpoint(), flip_test)


class OnnxLifter(Lifter):
    """:class:`~skelgnn.infer.lifter.Lifter` running an exported ONNX model with ONNX Runtime.

    Same :meth:`predict` / :meth:`predict_full` as the PyTorch lifter; the windows of the padded
    clip are batched (``chunk`` windows per run), with the mirrored windows in the same batch when
    ``flip_test`` is on.
    """

    def __init__(self, session: Any, codec: PoseCodec, receptive_field: int, num_joints: int,
                 info: Optional[dict] = None, flip_test: bool = True, chunk: int = 4096) -> None:
        self.session = session
        self.codec = codec
        self._receptive_field = int(receptive_field)
        self._num_joints = int(num_joints)
        self.info = dict(info or {})
        self.flip_test = flip_test
        self.chunk = int(chunk)

    @classmethod
    def from_onnx(cls, path: str | Path, flip_test: bool = True,
                  threads: Optional[int] = None) -> "OnnxLifter":
        """Load an ONNX file written by :func:`export_onnx`.

        Args:
            path: the ``.onnx`` file.
            flip_test: average with the mirrored input's prediction.
            threads: ONNX Runtime intra-op threads (default: ``torch.get_num_threads()``, which
                follows ``OMP_NUM_THREADS``).

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: not an ONNX file, not exported by skelgnn, or onnxruntime missing.
        """
        ort = _require("onnxruntime")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), sess_options=opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: cannot load as an ONNX model: {exc}") from None
        meta = session.get_modelmeta().custom_metadata_map
        values = {k[len(_META_PREFIX):]: json.loads(v) for k, v in meta.items()
                  if k.startswith(_META_PREFIX)}
        missing = [k for k in ("codec", "receptive_field", "num_joints") if k not in values]
        if missing:
            raise ValueError(f"{path}: not exported by `skelgnn export` (metadata lacks "
                             f"{[_META_PREFIX + k for k in missing]})")
        info = {k: v for k, v in values.items()
                if k not in ("codec", "receptive_field", "num_joints")}
        info.setdefault("checkpoint", path.name)
        return cls(session, PoseCodec.from_dict(values["codec"]), values["receptive_field"],
                   values["num_joints"], info, flip_test)

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, flip_test: bool = True,
                        threads: Optional[int] = None) -> "OnnxLifter":
        """Export a checkpoint (default: :func:`~skelgnn.infer.lifter.default_checkpoint`) to a
        temporary ONNX file and load it."""
        if path is None:
            path = default_checkpoint()
        with tempfile.TemporaryDirectory(prefix="skelgnn-onnx-") as tmp:
            onnx_path = export_onnx(path, Path(tmp) / "model.onnx")
            lifter = cls.from_onnx(onnx_path, flip_test, threads)
        lifter.info["checkpoint"] = Path(path).name
        return lifter

    @property
    def receptive_field(self) -> int:
        return self._receptive_field

    @property
    def num_joints(self) -> int:
        return self._num_joints

    def _lift_encoded(self, x: np.ndarray) -> np.ndarray:
        """Encoded, padded ``(F + R - 1, J, 2)`` -> ``(F, J, 3)`` root-relative metres."""
        r = self.receptive_field
        windows = np.lib.stride_tricks.sliding_window_view(x, r, axis=0)  # (F, J, 2, R)
        windows = windows.transpose(0, 3, 1, 2)  # (F, R, J, 2)
        outs = []
        for lo in range(0, windows.shape[0], self.chunk):
            batch = np.ascontiguousarray(windows[lo: lo + self.chunk], dtype=np.float32)
            n = batch.shape[0]
            if self.flip_test:
                batch = np.concatenate([batch, flip_2d(batch, H36M17)], 0)  # (2n, R, J, 2)
            y = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]  # (n or 2n, J, 3)
            if self.flip_test:
                y = 0.5 * (y[:n] + flip_3d(y[n:], H36M17))
            outs.append(y)
        return root_relative(np.concatenate(outs, 0))  # (F, J, 3)
