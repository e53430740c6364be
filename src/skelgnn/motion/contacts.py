"""Foot contacts, feet on the floor, and foot skating of world-frame motion.

World-frame poses (``y`` up, floor at ``y = 0``; :mod:`skelgnn.motion.world`) from a monocular lift
float and sink: the root's depth is the least certain part of the trajectory, and a camera that
looks down turns a depth error into a height error. This module

* detects **per-frame foot contacts** (:func:`foot_contacts`, left and right): a foot is down
  when its ankle is near the floor (within ``height_on`` of :data:`~skelgnn.motion.world.ANKLE_HEIGHT`)
  and nearly still horizontally (slower than ``speed_on``), and stays down, with hysteresis,
  until it rises above ``height_off`` or moves faster than ``speed_off``;
* **places the feet on the floor** (:func:`place_on_floor`): every frame with a contact is moved
  vertically so its lowest contact ankle is at ``ANKLE_HEIGHT`` (its sole on ``y = 0``); frames
  without contact (a jump, a flight phase) take the shift interpolated between their neighbours;
* reports **foot skating** (:func:`foot_skating`): the mean horizontal speed of a foot in contact
  (over pairs of consecutive frames where it is down in both), in mm/frame and cm/s. A planted
  foot should not slide; what is left is the lift's jitter and drift.

:func:`settle` chains them in two passes: contacts relative to the lower foot first (the floor
may still be wrong), placement, then contacts against the floor itself and the final placement.

Shape letters: ``F`` frames, ``J`` joints (17, Human3.6M order). Contacts are ``(F, 2)`` booleans,
column 0 the person's left foot (joint 6), column 1 the right foot (joint 3).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skelgnn.motion.world import ANKLE_HEIGHT

__all__ = ["FEET", "Settled", "foot_contacts", "place_on_floor", "foot_skating", "settle",
           "ankle_speed"]

FEET = (6, 3)
"""Ankle joints of the contact columns: (left, right)."""


def _check(poses: np.ndarray) -> np.ndarray:
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (17, 3) or len(p) == 0:
        raise ValueError(f"expected (F, 17, 3) world-frame poses, found {p.shape}")
    return p


def _check_fps(fps: float) -> float:
    rate = float(fps)
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"fps must be a positive number, found {fps}")
    return rate


def ankle_speed(poses_world: np.ndarray, fps: float, window: float = 0.1) -> np.ndarray:
    """Horizontal (``x``, ``z``) ankle speed ``(F, 2)`` in m/s (left, right): central differences
    of the positions averaged over ``window`` seconds (at least 3 frames), to keep the lift's
    frame-to-frame jitter from reading as motion."""
    p = _check(poses_world)
    rate = _check_fps(fps)
    xz = p[:, list(FEET)][..., [0, 2]]  # (F, 2, 2)
    k = max(3, int(round(window * rate)) | 1)
    if len(p) >= k:
        pad = np.pad(xz, ((k // 2, k // 2), (0, 0), (0, 0)), mode="edge")
        kernel = np.ones(k) / k
        xz = np.apply_along_axis(lambda s: np.convolve(s, kernel, mode="valid"), 0, pad)
    if len(p) < 2:
        return np.zeros((len(p), 2))
    vel = np.gradient(xz, axis=0) * rate
    return np.linalg.norm(vel, axis=-1)


def _hysteresis(on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Per column: True from a frame where ``on`` holds until a frame where ``off`` holds."""
    state = np.zeros(on.shape[1], dtype=bool)
    out = np.zeros(on.shape, dtype=bool)
    for f in range(len(on)):
        state = np.where(state, ~off[f], on[f])
        out[f] = state
    return out


def foot_contacts(poses_world: np.ndarray, fps: float, floor: float = 0.0,
                  height_on: float = 0.05, height_off: float = 0.10, speed_on: float = 0.6,
                  speed_off: float = 1.0, relative: bool = False) -> np.ndarray:
    """Per-frame contacts ``(F, 2)`` bool (left, right); see the module docstring.

    Args:
        poses_world: ``(F, 17, 3)`` world-frame poses, metres, ``y`` up.
        fps: frame rate.
        floor: floor height (``y``).
        height_on, height_off: ankle height above its contact height (``floor +
            ANKLE_HEIGHT``) to start / end a contact, metres.
        speed_on, speed_off: horizontal ankle speed to start / end a contact, m/s.
        relative: measure heights from the frame's lower ankle instead of the floor (when the
            floor is not yet known).
    """
    p = _check(poses_world)
    if not (0 <= height_on <= height_off and 0 <= speed_on <= speed_off):
        raise ValueError("foot_contacts: need 0 <= height_on <= height_off and 0 <= speed_on <= speed_off")
    h = p[:, list(FEET), 1]  # (F, 2)
    base = h.min(axis=1, keepdims=True) if relative else floor + ANKLE_HEIGHT
    rise = h - base
    speed = ankle_speed(p, fps)
    return _hysteresis((rise < height_on) & (speed < speed_on), (rise > height_off) | (speed > speed_off))


def place_on_floor(poses_world: np.ndarray, contacts: np.ndarray,
                   fallback_quantile: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Move each frame vertically so its lowest contact ankle is at :data:`ANKLE_HEIGHT`.

    Frames without a contact take the shift linearly interpolated between the nearest contact
    frames (held at the ends). A clip without any contact is moved as a whole so the
    ``fallback_quantile`` quantile of its lower ankle is at ``ANKLE_HEIGHT``.

    Returns:
        the moved poses ``(F, 17, 3)`` and the vertical shift per frame ``(F,)`` (metres).
    """
    p = _check(poses_world)
    c = np.asarray(contacts, dtype=bool)
    if c.shape != (len(p), 2):
        raise ValueError(f"contacts must be (F, 2) = {(len(p), 2)}, found {c.shape}")
    h = p[:, list(FEET), 1]
    low = np.where(c, h, np.inf).min(axis=1)  # lowest contact ankle per frame
    has = np.isfinite(low)
    frames = np.arange(len(p))
    if has.any():
        shift = np.interp(frames, frames[has], ANKLE_HEIGHT - low[has])
    else:
        shift = np.full(len(p), ANKLE_HEIGHT - float(np.quantile(h.min(axis=1), fallback_quantile)))
    out = p.copy()
    out[..., 1] += shift[:, None]
    return out, shift


def foot_skating(poses_world: np.ndarray, contacts: np.ndarray, fps: float) -> dict[str, float]:
    """Mean horizontal speed of feet in contact: ``mm_per_frame``, ``cm_per_s`` (over every foot
    and pair of consecutive frames with that foot down in both; 0 when there is none) and
    ``contact_frames`` (frames with at least one foot down)."""
    p = _check(poses_world)
    rate = _check_fps(fps)
    c = np.asarray(contacts, dtype=bool)
    if c.shape != (len(p), 2):
        raise ValueError(f"contacts must be (F, 2) = {(len(p), 2)}, found {c.shape}")
    xz = p[:, list(FEET)][..., [0, 2]]
    step = np.linalg.norm(np.diff(xz, axis=0), axis=-1)  # (F-1, 2) metres
    both = c[1:] & c[:-1]
    mm = float(1000.0 * step[both].mean()) if both.any() else 0.0
    return {"mm_per_frame": mm, "cm_per_s": mm * rate / 10.0,
            "contact_frames": int(c.any(axis=1).sum())}


@dataclass(frozen=True, eq=False)
class Settled:
    """World-frame motion with its feet on the floor.

    Attributes:
        poses_world: ``(F, 17, 3)`` the placed poses.
        contacts: ``(F, 2)`` bool, (left, right).
        shift: ``(F,)`` vertical shift applied per frame, metres.
        skating: :func:`foot_skating` of the placed poses.
    """

    poses_world: np.ndarray
    contacts: np.ndarray
    shift: np.ndarray
    skating: dict[str, float]


def settle(poses_world: np.ndarray, fps: float) -> Settled:
    """Contacts, placement and skating in two passes (module docstring)."""
    p = _check(poses_world)
    first = foot_contacts(p, fps, relative=True)
    placed, shift1 = place_on_floor(p, first)
    contacts = foot_contacts(placed, fps)
    placed, shift2 = place_on_floor(placed, contacts)
    return Settled(poses_world=placed, contacts=contacts, shift=shift1 + shift2,
                   skating=foot_skating(placed, contacts, fps))
