"""Inference: load a trained lifter and turn pixel keypoints into root-relative 3D.

>>> from skelgnn import Lifter
>>> lifter = Lifter.from_checkpoint("checkpoints/skelgnn-1f-cmu-det.pt")
>>> poses = lifter.predict(keypoints, image_size=(1000, 1002))   # (F, 17, 3) metres

Shape legend: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from skelgnn.checkpoint import load_checkpoint
from skelgnn.codec import PoseCodec
from skelgnn.models import LifterModel, build_model, config_from_dict

__all__ = ["load_model", "Lifter"]


def load_model(checkpoint: str | Path) -> tuple[LifterModel, PoseCodec, dict[str, Any]]:
    """Model (eval mode, CPU), codec and a small info dict (``preset``, ``source``, ``arch``,
    ``epoch``, ``config``) from a checkpoint read with ``weights_only=True``."""
    state = load_checkpoint(checkpoint)
    try:
        model = build_model(config_from_dict(state["model_config"]))
        model.load_state_dict(state["model"])
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{checkpoint}: weights do not match the stored model config: {exc}") \
            from None
    model.eval()
    codec = PoseCodec.from_dict(state["codec"])
    info = {"preset": state.get("preset", "?"), "source": state.get("source", "det"),
            "arch": state["model_config"].get("arch", "?"), "epoch": state.get("epoch"),
            "config": state.get("config", {})}
    return model, codec, info


class Lifter:
    """A trained lifter with its codec: pixels in, root-relative camera-frame metres out."""

    def __init__(self, model: LifterModel, codec: PoseCodec, info: Optional[dict] = None,
                 flip_test: bool = True) -> None:
        self.model = model.eval()
        self.codec = codec
        self.info = dict(info or {})
        self.flip_test = flip_test

    @classmethod
    def from_checkpoint(cls, path: str | Path, flip_test: bool = True) -> "Lifter":
        model, codec, info = load_model(path)
        return cls(model, codec, info, flip_test)

    @property
    def receptive_field(self) -> int:
        return self.model.receptive_field

    def predict(self, keypoints_2d: Any, image_size: tuple[float, float]) -> np.ndarray:
        """Lift one camera's keypoints.

        Args:
            keypoints_2d: ``(F, 17, 2)`` pixels, or ``(F, 17, 3)`` with a score column (ignored
                here; missing joints must already be filled).
            image_size: ``(width, height)`` of the camera image in pixels.

        Returns:
            ``(F, 17, 3)`` float32 root-relative camera-frame metres. Temporal models lift the
            whole sequence at once (sequence mode) with edge-replicated padding at both ends.
        """
        from skelgnn.evaluate import predict_sequence

        kp = np.asarray(keypoints_2d, dtype=np.float64)
        j = self.model.num_joints
        if kp.ndim != 3 or kp.shape[1] != j or kp.shape[2] not in (2, 3):
            raise ValueError(f"keypoints_2d must be (F, {j}, 2) or (F, {j}, 3), "
                             f"got {tuple(kp.shape)}")
        if kp.shape[0] == 0:
            raise ValueError("keypoints_2d has no frames")
        kp = kp[..., :2]
        if not np.isfinite(kp).all():
            raise ValueError("keypoints_2d contains NaN or inf; fill missing joints first")
        x = self.codec.encode_2d(kp, image_size).astype(np.float32)  # (F, J, 2)
        pad = (self.receptive_field - 1) // 2
        x = np.pad(x, ((pad, pad), (0, 0), (0, 0)), mode="edge")  # (F + R - 1, J, 2)
        y = predict_sequence(self.model, torch.from_numpy(x), self.flip_test)
        return y.numpy().astype(np.float32)
