"""From a lifted clip to motion in a scene: smoothing, root trajectory and world frame.

:func:`build_motion` chains the three steps the ``--focal`` / ``--smooth`` options of ``skelgnn
infer`` and ``skelgnn video`` control:

1. optionally smooth the root-relative poses (:func:`skelgnn.motion.smoothing.one_euro`);
2. solve the root's camera-frame position per frame (:func:`skelgnn.motion.trajectory.estimate_trajectory`,
   full perspective, detector scores as weights), smoothed too when asked;
3. estimate a world frame -- y up, floor at y = 0, facing the camera -- from the whole clip
   (:func:`skelgnn.motion.world.estimate_world_frame`; up from the learnt camera up direction of
   :mod:`skelgnn.motion.gravity` by default, ``up="torso"`` for the old mean torso direction) and
   express the absolute poses in it;
4. smooth the root's path across the floor (its horizontal world position; a Gaussian of
   :data:`PATH_SMOOTH_S` seconds, :func:`skelgnn.motion.smoothing.gaussian`): a monocular
   trajectory's depth jitters from frame to frame, and on the floor that reads as a body
   shuffling back and forth and feet skating;
5. detect per-frame foot contacts, put the contact feet on the floor (a vertical shift per
   frame) and measure foot skating (:func:`skelgnn.motion.contacts.settle`);
6. for a detector's keypoints, straighten the knees of standing legs in depth
   (:mod:`skelgnn.motion.stance`; :func:`lift_and_place`).

Shape letters: ``F`` frames, ``J`` joints (17, Human3.6M order).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np

from skelgnn.geometry import camera_pitch_deg, camera_roll_deg, roll_matrix, sideways_tilt_deg
from skelgnn.motion.contacts import settle
from skelgnn.motion.gravity import estimate_up, shipped_regressor
from skelgnn.motion.smoothing import gaussian, one_euro
from skelgnn.motion.trajectory import default_intrinsics, estimate_trajectory
from skelgnn.motion.world import WorldFrame, estimate_world_frame

__all__ = ["Motion", "build_motion", "lift_and_place", "world_summary", "MIN_WEIGHT", "UP_METHODS",
           "LEVEL_MIN_ROLL_DEG", "PATH_SMOOTH_S"]

UP_METHODS = ("learnt", "torso")
"""Sources of the world's up direction: the learnt camera up (:mod:`skelgnn.motion.gravity`) or the
clip's mean torso direction (the method before it)."""

MIN_WEIGHT = 0.05
"""Smallest joint weight in the trajectory fit: filled joints (score 0) still count a little, so
a frame whose joints were all filled keeps a solution."""
MAX_WEIGHT = 1e3
"""The largest joint score used as a fit weight (detectors score up to about 1)."""

LEVEL_MIN_ROLL_DEG = 5.0
"""A clip whose learnt up leans sideways in the camera by more than this (degrees,
:func:`skelgnn.geometry.sideways_tilt_deg`) is lifted again as a level camera would see it
(:func:`lift_and_place`): the lifters and the up regressor were trained on cameras rolled a few
degrees at most. Chosen on the ``val`` subject's novel cameras with extra rolls
(``benchmarks/level.py``). The gate reads the sideways lean rather than the roll itself
(:func:`skelgnn.geometry.camera_roll_deg`), which for a camera looking steeply down is the
angle of up's small image-plane share and turns the estimate's noise into rolls of many degrees:
on ``val``'s high views (40-60 degrees down) gating on the roll levelled clips that were not
rolled and cost 0.8 degrees of up error there (3.14 -> 3.94), 4.13 against 3.99 overall
(``benchmarks/world_frame.py``)."""
LEVEL_ITERATIONS = 2
"""Re-lifts of a rolled clip: each estimates the remaining roll in the camera levelled so far."""

PATH_SMOOTH_S = 0.3
"""Sigma (seconds) of the Gaussian that smooths the root's horizontal world path (0: off; ``skelgnn
infer`` / ``video`` ``--path-smoothing``). Chosen on the ``val`` subject's novel cameras and on
``shelf_dev`` among 0.15 / 0.3 / 0.4 / 0.6 / 0.8 s (``benchmarks/path_sweep.py``): the root's path
error falls from 178 to 138 mm on ``val`` (115 at 0.8 s) and from 47.5 to 44.5 mm on ``shelf_dev``,
where longer sigmas start to cost again (49.1 at 0.8 s)."""


HIGH_VIEW_DEG = 30.0
"""A camera the learnt up finds looking down more than this is lifted as seen, not reframed
(:func:`lift_and_place`): reframing moves the person to the middle of a level virtual view, and a
person seen steeply from above then reads wrong. Chosen on the ``val`` subject's novel cameras
(P-MPJPE 34.00 -> 33.55 mm, every high-view clip and no other switched at 25-35 degrees) and on
``shelf_dev`` (its camera 2, 32-36 degrees down, 14.1 -> 13.2 and 10.8 -> 10.4 degrees of limb
direction); the sample clip's camera looks 23 degrees down and stays reframed."""

LEARNT_PLANE_MAX_DEG = 10.0
"""With the learnt up, the foot contacts' plane replaces it only within this angle."""


@dataclass(frozen=True, eq=False)
class Motion:
    """A clip placed in the scene.

    Attributes:
        poses_3d: ``(F, J, 3)`` root-relative camera-frame metres (smoothed if asked).
        trajectory: ``(F, 3)`` root position in the camera frame, metres.
        poses_world: ``(F, J, 3)`` absolute poses in the world frame (y up, floor y = 0), contact
            feet on the floor: ``world.to_world(poses_3d + trajectory)`` moved up by
            ``floor_shift`` per frame.
        world: the camera -> world map.
        focal: focal length used, pixels.
        smoothed: whether the One-Euro filter was applied.
        contacts: ``(F, 2)`` bool foot contacts, (left, right) (:mod:`skelgnn.motion.contacts`).
        floor_shift: ``(F,)`` vertical shift that put the contact feet on the floor, metres.
        skating: :func:`skelgnn.motion.contacts.foot_skating` (``mm_per_frame``, ``cm_per_s``,
            ``contact_frames``).
        up_method: where up came from: ``"learnt"`` or ``"torso"``.
        roll_deg: the camera roll the clip was lifted levelled by (:func:`lift_and_place`; 0: not
            levelled).
        path_smooth_s: sigma (seconds) of the smoothing of the root's path across the floor
            (0: none).
        reframed: whether the clip was lifted reframed (:func:`lift_and_place`: not for a camera
            looking down more than :data:`HIGH_VIEW_DEG`, nor under ``--no-reframe``).
        stance_knees: ``(F, 2)`` weight (0-1, left and right) by which each knee was
            straightened as standing (:mod:`skelgnn.motion.stance`); None when not applied.
    """

    poses_3d: np.ndarray
    trajectory: np.ndarray
    poses_world: np.ndarray
    world: WorldFrame
    focal: float
    smoothed: bool
    contacts: np.ndarray
    floor_shift: np.ndarray
    skating: dict[str, float]
    up_method: str
    roll_deg: float = 0.0
    path_smooth_s: float = 0.0
    reframed: bool = True
    stance_knees: Optional[np.ndarray] = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The npz entries this adds to ``poses_3d.npz`` (see docs/USAGE.md, "From video to motion")."""
        return {"trajectory": self.trajectory.astype(np.float32),
                "poses_world": self.poses_world.astype(np.float32),
                "world_rotation": self.world.rotation.astype(np.float32),
                "world_origin": self.world.origin.astype(np.float32),
                "focal_px": np.array(self.focal), "smoothed": np.array(self.smoothed),
                "foot_contacts": self.contacts.astype(bool),
                "floor_shift": self.floor_shift.astype(np.float32),
                "foot_skating_cm_s": np.array(self.skating["cm_per_s"]),
                "up_method": np.array(self.up_method),
                "level_roll_deg": np.array(self.roll_deg),
                "path_smoothing_s": np.array(self.path_smooth_s),
                "reframed": np.array(self.reframed),
                "stance_knees": (np.zeros((len(self.poses_3d), 2), np.float32) if self.stance_knees is None
                                 else self.stance_knees.astype(np.float32)),
                "stance_knees_applied": np.array(self.stance_knees is not None)}


def build_motion(poses_3d: np.ndarray, keypoints_2d: np.ndarray, image_size: tuple[float, float],
                 fps: Optional[float] = None, scores: Optional[np.ndarray] = None,
                 focal: Optional[float] = None, smooth: bool = False,
                 facing: str = "camera", up: str = "learnt", roll_deg: float = 0.0,
                 path_smooth_s: float = PATH_SMOOTH_S, up_cam: Optional[np.ndarray] = None
                 ) -> Motion:
    """Smooth (optional), place and level a lifted clip.

    Args:
        poses_3d: ``(F, 17, 3)`` root-relative camera-frame metres.
        keypoints_2d: ``(F, 17, 2)`` pixels of the real camera (no missing values).
        image_size: ``(W, H)`` of the camera image.
        fps: frame rate (needed by the filter; 30 when unknown).
        scores: ``(F, 17)`` joint scores (weights of the fit), default 1.
        focal: focal length in pixels (default: the image diagonal, see
            :func:`skelgnn.motion.trajectory.default_intrinsics`).
        smooth: apply the One-Euro filter to the poses and the trajectory.
        facing: world facing, see :func:`skelgnn.motion.world.estimate_world_frame`.
        up: :data:`UP_METHODS`: ``"learnt"`` (default; the torso when the package lacks the
            regressor's weights) or ``"torso"``.
        roll_deg: the roll the clip was levelled by (:meth:`Lifter.predict_full
            <skelgnn.infer.lifter.Lifter.predict_full>`): the learnt up is estimated in that level
            camera, where the regressor was trained, and turned back.
        path_smooth_s: sigma (seconds) of the Gaussian on the root's horizontal world path
            (:data:`PATH_SMOOTH_S`; 0: the per-frame solution as it is). The returned
            ``trajectory`` is the smoothed one, so ``poses_world`` stays
            ``world.to_world(poses_3d + trajectory)`` plus the floor shift.
        up_cam: with ``up="learnt"``, the world's up in camera coordinates when it is already
            known (from another lift of the same clip, :func:`lift_and_place`): used instead of
            the regressor's estimate from these poses.
    """
    if up not in UP_METHODS:
        raise ValueError(f"up must be one of {list(UP_METHODS)}, found {up!r}")
    if not (np.isfinite(path_smooth_s) and path_smooth_s >= 0):
        raise ValueError(f"path smoothing must be a number of seconds >= 0, found {path_smooth_s}")
    poses = np.asarray(poses_3d, dtype=np.float64)
    uv = np.asarray(keypoints_2d, dtype=np.float64)
    rate = float(fps) if fps else 30.0
    if smooth:
        poses = one_euro(poses, rate)
        poses = poses - poses[:, :1]  # keep the root at the origin
    # scores far above 1 (1e300 from a broken detector) would overflow the weighted fit
    weights = None if scores is None else np.clip(np.nan_to_num(np.asarray(scores, np.float64)),
                                                   MIN_WEIGHT, MAX_WEIGHT)
    intr = default_intrinsics(image_size, focal)
    traj = estimate_trajectory(poses, uv, image_size, weights=weights, intrinsics=intr)
    if smooth:
        traj = one_euro(traj, rate)
    absolute = poses + traj[:, None]
    if up == "learnt" and up_cam is not None:
        up_cam = np.asarray(up_cam, dtype=np.float64)
    elif up == "learnt":
        regressor = shipped_regressor()
        if regressor is not None:
            turn = roll_matrix(roll_deg)  # level camera -> this camera
            up_cam = turn @ estimate_up(poses @ turn, traj @ turn, regressor)
        else:  # pragma: no cover - a broken install
            up = "torso"
    else:  # the torso method estimates up itself
        up_cam = None
    world = estimate_world_frame(absolute, facing=facing, up=up_cam,
                                 plane_max_deg=LEARNT_PLANE_MAX_DEG if up_cam is not None else 30.0)
    if path_smooth_s > 0:  # the root's path across the floor; its height is the floor's business
        root = world.to_world(traj)  # (F, 3), y up
        moved = gaussian(root[:, [0, 2]], path_smooth_s * rate) - root[:, [0, 2]]
        shift = np.zeros_like(root)
        shift[:, 0], shift[:, 2] = moved[:, 0], moved[:, 1]
        traj = traj + shift @ world.rotation  # a world offset into the camera frame
        absolute = poses + traj[:, None]
    placed = settle(world.to_world(absolute), rate)
    return Motion(poses_3d=poses.astype(np.float32), trajectory=traj,
                  poses_world=placed.poses_world, world=world, focal=intr.fx,
                  smoothed=smooth, contacts=placed.contacts, floor_shift=placed.shift,
                  skating=placed.skating, up_method=up, path_smooth_s=float(path_smooth_s))


def lift_and_place(lifter, keypoints: np.ndarray, image_size: tuple[float, float], layout: str,
                   min_score: float = 0.3, reframe: bool = True, fps: Optional[float] = None,
                   focal: Optional[float] = None, smooth: bool = False, level: bool = True,
                   min_roll_deg: float = LEVEL_MIN_ROLL_DEG,
                   path_smooth_s: float = PATH_SMOOTH_S,
                   stance_knees: Optional[bool] = None):  # noqa: ANN001, ANN201
    """Lift a clip and place it in the scene, levelling a rolled camera: what ``skelgnn infer``,
    ``skelgnn video`` and ``skelgnn evaluate --footage`` run.

    :meth:`Lifter.predict_full <skelgnn.infer.lifter.Lifter.predict_full>` then
    :func:`build_motion`; when ``level`` and the learnt up leans sideways in the camera by more
    than ``min_roll_deg`` (:data:`LEVEL_MIN_ROLL_DEG`), the clip is lifted again as the level
    camera would see it and the roll re-estimated there, :data:`LEVEL_ITERATIONS` times (a phone
    held a little askew; the lifters were trained on cameras rolled a few degrees at most, and a
    rolled view bends their 3D). A clip the learnt up says is seen from a camera looking down
    more than :data:`HIGH_VIEW_DEG` is lifted again as seen (no reframing), levelled by the
    same roll. Then, when ``stance_knees`` (None: for every ``layout`` but
    ``h36m17``, see :mod:`skelgnn.motion.stance`), the knees of standing legs are straightened
    in depth, in ``poses_3d`` and ``poses_world`` alike.

    Returns:
        ``(prediction, motion)``: the prediction (``poses_3d`` as placed, smoothed under ``smooth``;
        ``roll_deg`` records the levelling) and its :class:`Motion`.
    """
    import dataclasses

    pred = lifter.predict_full(keypoints, image_size, layout, min_score, reframe=reframe)
    motion = build_motion(pred.poses_3d, pred.keypoints_2d, image_size, fps, pred.scores, focal,
                          smooth, path_smooth_s=path_smooth_s)
    roll = 0.0  # the roll the kept lift was levelled by
    if level and motion.up_method == "learnt":
        estimate = camera_roll_deg(motion.world.rotation[1])
        if sideways_tilt_deg(motion.world.rotation[1]) > min_roll_deg:
            for _ in range(LEVEL_ITERATIONS):
                roll = estimate
                pred = lifter.predict_full(keypoints, image_size, layout, min_score,
                                           reframe=reframe, roll_deg=roll)
                motion = build_motion(pred.poses_3d, pred.keypoints_2d, image_size, fps,
                                      pred.scores, focal, smooth, roll_deg=roll,
                                      path_smooth_s=path_smooth_s)
                estimate = camera_roll_deg(motion.world.rotation[1])
    reframed = reframe
    if reframe and motion.up_method == "learnt" and camera_pitch_deg(motion.world.rotation[1]) > HIGH_VIEW_DEG:
        reframed = False
        pred = lifter.predict_full(keypoints, image_size, layout, min_score, reframe=False, roll_deg=roll)
        # the up regressor learnt from reframed lifts: the world's up stays the one read there
        motion = build_motion(pred.poses_3d, pred.keypoints_2d, image_size, fps, pred.scores, focal,
                              smooth, roll_deg=roll, path_smooth_s=path_smooth_s,
                              up_cam=motion.world.rotation[1])
    motion = dataclasses.replace(motion, roll_deg=roll, reframed=reframed)
    if stance_knees is None:
        stance_knees = layout != "h36m17"
    if stance_knees:
        motion = _stand_knees(motion, pred.keypoints_2d, float(fps) if fps else 30.0)
    return dataclasses.replace(pred, poses_3d=motion.poses_3d), motion


def _stand_knees(motion: Motion, keypoints_2d: np.ndarray, fps: float) -> Motion:
    """``motion`` with its standing knees straightened (:mod:`skelgnn.motion.stance`)."""
    import dataclasses

    from skelgnn.motion.stance import stance_weights, stand_legs

    weights = stance_weights(motion.poses_3d, keypoints_2d, motion.contacts,
                             motion.world.rotation[1], fps)
    poses = stand_legs(motion.poses_3d, weights)
    # the legs' new length moves the feet: back on the floor, contacts and skating anew
    placed = settle(motion.world.to_world(poses + motion.trajectory[:, None]), fps)
    return dataclasses.replace(motion, poses_3d=poses.astype(np.float32),
                               poses_world=placed.poses_world, contacts=placed.contacts,
                               floor_shift=placed.shift, skating=placed.skating,
                               stance_knees=weights)


def world_summary(arrays: Mapping[str, np.ndarray]) -> str:
    """The CLI's one line on the world frame from :meth:`Motion.arrays`: where up came from, the
    camera roll levelled (when it was), a clip lifted as seen (not reframed), the frames with a
    foot down, the foot skating, the root path's smoothing (when on) and the standing knees
    straightened (when on)."""
    contacts = np.asarray(arrays["foot_contacts"], dtype=bool)
    down = int(contacts.any(axis=1).sum())
    roll = float(arrays.get("level_roll_deg", 0.0))
    level = f", camera levelled by {roll:.1f} deg" if roll else ""
    path = float(arrays.get("path_smoothing_s", 0.0))
    smoothed = f", root path smoothed over {path:g} s" if path else ""
    stance = ""
    if bool(arrays.get("stance_knees_applied", False)):
        share = float(np.asarray(arrays["stance_knees"]).mean()) if len(contacts) else 0.0
        stance = f", standing knees straightened (weight {share:.2f} over the legs' frames)"
    if not bool(arrays.get("reframed", True)):
        level += ", lifted as seen (not reframed)"
    return (f"world: up {arrays['up_method']}{level}, a foot on the floor in {down}/{len(contacts)} "
            f"frames, foot skating {float(arrays['foot_skating_cm_s']):.1f} cm/s{smoothed}{stance}")
