"""An interactive 3D motion viewer: one self-contained HTML file that opens offline.

:func:`write_viewer` writes ``motion.html``: the world-frame skeleton (bones as cylinders, joints
as spheres; left blue, right red, centre grey, as in :mod:`skelgnn.video.render`) standing on a floor
grid with the root's track drawn on it, orbit controls (three.js ``OrbitControls``), a timeline
slider, play/pause at the clip's fps and a frame counter, and beside it the 2D keypoints that were
lifted -- over a few of the video's frames when a video is given (:func:`sample_video_frames`).

Everything is inlined: the three.js bundle shipped in ``skelgnn/resources/three.min.js`` (three.js
+ OrbitControls, built from npm by ``vendor/three/build.sh``; MIT, notice in
``three.LICENSE.txt``), the page (``resources/viewer.html``) and the motion as JSON (positions
rounded to millimetres, keypoints to pixels). The page fetches nothing, so it works from
``file://`` with no network. Its size: 0.58 MB of three.js and page, ~23 bytes per frame and
joint of motion (keypoints included), plus the JPEG frames (at most ``max_images`` of
``image_height`` pixels, ~9 kB each on the sample video: its viewer is 1.5 MB).

The page exposes ``window.skelgnnViewer`` (``ready``, ``frame``, ``setFrame(f)``, ``play()``,
``pause()``, ``joints3d()`` / ``joints2d()``: page coordinates of the drawn joints), which the
browser test drives.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from skelgnn.fileio import atomic_write_text
from skelgnn.skeleton import H36M17, Skeleton

__all__ = ["ViewerImages", "FrameSampler", "write_viewer", "write_viewer_from_npz", "sample_video_frames",
           "load_viewer_npz", "THREE_VERSION"]

log = logging.getLogger(__name__)

THREE_VERSION = "0.187.0"
"""The three.js release bundled in ``resources/three.min.js`` (``vendor/three/package.json``)."""

_MARKERS = re.compile(r"/\*__(THREE_JS|MOTION_JSON)__\*/")


@dataclass(frozen=True)
class ViewerImages:
    """Video frames shown under the 2D keypoints.

    Attributes:
        jpeg: JPEG bytes of video frames ``0, every, 2 * every, ...``.
        every: the stride between the frames kept.
    """

    jpeg: tuple[bytes, ...]
    every: int = 1

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"ViewerImages.every must be >= 1, found {self.every}")


def _resource(name: str) -> str:
    return resources.files("skelgnn").joinpath("resources", name).read_text(encoding="utf-8")


def _flat_ints(values: np.ndarray) -> list[Optional[int]]:
    """Rounded integers, ``None`` (JSON ``null``) where not finite."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    ok = np.isfinite(flat)
    out: list[Optional[int]] = np.where(ok, np.round(flat), 0).astype(np.int64).tolist()
    if not ok.all():
        for i in np.flatnonzero(~ok).tolist():
            out[i] = None
    return out


def write_viewer(poses: np.ndarray, out: str | Path, fps: float = 30.0, *,
                 world: bool = True, keypoints_2d: Optional[np.ndarray] = None,
                 image_size: Optional[Sequence[float]] = None,
                 filled: Optional[np.ndarray] = None, frame_ids: Optional[Sequence[int]] = None,
                 images: Optional[ViewerImages] = None, title: str = "",
                 skeleton: Skeleton = H36M17) -> Path:
    """Write the interactive viewer of a motion to ``out`` (an ``.html`` file, atomically).

    Args:
        poses: ``(F, J, 3)`` metres, y up: ``poses_world`` (floor at ``y = 0``, ``+z`` towards the
            camera), or camera-frame poses turned y-up with ``world=False`` (the floor grid then
            goes under the lowest joint).
        out: the HTML file.
        fps: playback frame rate.
        world: whether ``poses`` are in the world frame.
        keypoints_2d: ``(F, J, 2)`` pixels drawn beside the 3D view (NaN: not drawn).
        image_size: ``(W, H)`` of the keypoints' image; needed with ``keypoints_2d``.
        filled: ``(F, J)`` bool, joints that were filled in (drawn hollow in 2D).
        frame_ids: the video frame number of each pose frame (default ``0 .. F - 1``), to pick
            the image under the keypoints.
        images: video frames for the 2D view (:func:`sample_video_frames`).
        title: shown in the page's header and tab.
        skeleton: the joints' tree and sides.

    Returns:
        ``out`` as a path.

    Raises:
        ValueError: arrays of the wrong shape, no frames, non-finite poses, a bad fps, or
            keypoints without an image size.
    """
    poses = np.asarray(poses, dtype=np.float64)
    j = len(skeleton.parents)
    if poses.ndim != 3 or poses.shape[1:] != (j, 3) or poses.shape[0] < 1:
        raise ValueError(f"poses must be (F, {j}, 3) with F >= 1, found {poses.shape}")
    if not np.isfinite(poses).all():
        raise ValueError("poses hold NaN or infinite values; the viewer draws complete poses only")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, found {fps}")
    n = poses.shape[0]
    data: dict[str, Any] = {
        "title": str(title), "fps": float(fps), "frames": n, "world": bool(world),
        "names": list(skeleton.names), "parents": list(skeleton.parents),
        "left": list(skeleton.joints_left), "right": list(skeleton.joints_right),
        "poses": _flat_ints(poses * 1000.0),  # millimetres
        "keypoints": None, "image_size": None, "filled": None, "frame_ids": None, "images": None,
    }
    if keypoints_2d is not None:
        kp = np.asarray(keypoints_2d, dtype=np.float64)
        if kp.shape != (n, j, 2):
            raise ValueError(f"keypoints_2d must be ({n}, {j}, 2) like the poses, found {kp.shape}")
        if image_size is None or len(image_size) != 2 or not all(
                math.isfinite(float(s)) and float(s) > 0 for s in image_size):
            raise ValueError(f"keypoints_2d need the image size (W, H) in pixels, found {image_size}")
        data["keypoints"] = _flat_ints(kp)
        data["image_size"] = [float(image_size[0]), float(image_size[1])]
        if filled is not None:
            fl = np.asarray(filled, dtype=bool)
            if fl.shape != (n, j):
                raise ValueError(f"filled must be ({n}, {j}), found {fl.shape}")
            data["filled"] = fl.astype(np.int8).ravel().tolist()
        if frame_ids is not None:
            ids = [int(i) for i in frame_ids]
            if len(ids) != n:
                raise ValueError(f"frame_ids must hold {n} numbers, found {len(ids)}")
            data["frame_ids"] = ids
        if images is not None and images.jpeg:
            data["images"] = {"every": images.every,
                              "jpeg": [base64.b64encode(b).decode("ascii") for b in images.jpeg]}
    # "</script" or "<!--" inside a <script> element would end or derail it; "\u003c" is the same
    # JSON string ("<" only occurs inside strings)
    motion_json = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    three = _resource("three.min.js")
    parts = {"THREE_JS": three, "MOTION_JSON": motion_json}
    html = _MARKERS.sub(lambda m: parts[m.group(1)], _resource("viewer.html"))
    path = atomic_write_text(out, html)
    log.info("wrote %s: %d frames, %.1f MB", path, n, len(html.encode("utf-8")) / 1e6)
    return path


class FrameSampler:
    """Keeps every ``every``-th frame of a stream as a small JPEG, at most ``max_images`` of them.

    Offer it the frames in order (:meth:`offer`); when one more would exceed ``max_images`` it
    drops every other frame kept and doubles its stride, so the frames kept stay evenly spaced
    over the whole stream whatever its length, without knowing the length in advance.
    ``skelgnn video`` offers it the frames it decodes for detection, so the viewer's images cost
    no second decoding pass.
    """

    def __init__(self, max_images: int = 150, image_height: int = 240, quality: int = 70) -> None:
        if max_images < 1 or image_height < 16 or not 1 <= quality <= 95:
            raise ValueError(f"need max_images >= 1, image_height >= 16 and quality in 1..95; "
                             f"found {max_images}, {image_height}, {quality}")
        self.max_images, self.image_height, self.quality = max_images, image_height, quality
        self.every = 1
        self._seen = 0
        self._jpeg: list[bytes] = []

    def offer(self, frame: np.ndarray) -> None:
        """The next ``(H, W, 3)`` uint8 RGB frame of the stream."""
        index = self._seen
        self._seen += 1
        if index % self.every:
            return
        if len(self._jpeg) == self.max_images:
            self._jpeg = self._jpeg[::2]
            self.every *= 2
            if index % self.every:
                return
        from PIL import Image

        im = Image.fromarray(np.ascontiguousarray(frame[..., :3]))
        if im.height > self.image_height:
            im = im.resize((max(1, round(im.width * self.image_height / im.height)),
                            self.image_height), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=self.quality)
        self._jpeg.append(buf.getvalue())

    def images(self) -> ViewerImages:
        """The frames kept so far."""
        return ViewerImages(tuple(self._jpeg), self.every)


def sample_video_frames(video: str | Path, num_frames: int, max_images: int = 150,
                        image_height: int = 240, quality: int = 70,
                        progress: bool = False) -> ViewerImages:
    """Evenly spaced frames of the video's first ``num_frames`` as small JPEGs for the viewer
    (:class:`FrameSampler`): at most ``max_images`` frames, each ``image_height`` pixels high at
    most, so the viewer grows by about ``max_images`` times 10 kB at the defaults. ``progress``:
    a progress bar (tqdm) while decoding.

    Raises:
        FileNotFoundError: no video.
        ValueError: unreadable video, or bad limits.
    """
    from skelgnn.video.pipeline import iter_frames, read_video_info

    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, found {num_frames}")
    sampler = FrameSampler(max_images, image_height, quality)
    read_video_info(video)  # FileNotFoundError / ValueError before decoding
    frames: Iterable[np.ndarray] = iter_frames(video, num_frames)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, total=num_frames, desc="video frames", unit="frame", leave=False)
    for frame in frames:
        sampler.offer(frame)
    return sampler.images()


def load_viewer_npz(path: str | Path) -> dict[str, Any]:
    """What the viewer shows of a ``poses_3d.npz`` (``skelgnn infer`` / ``skelgnn video``):
    ``poses_world`` when present, else ``poses_3d`` (+ ``trajectory``) turned y-up
    (:func:`skelgnn.motion.animation.load_motion_npz`), and the ``keypoints_2d``, ``image_size``,
    ``filled`` and ``frames`` entries when present and consistent. Returns the keyword
    arguments of :func:`write_viewer` (with ``poses``)."""
    from skelgnn.motion.animation import load_motion_npz

    poses, fps, frame = load_motion_npz(path)
    if not (math.isfinite(fps) and fps > 0):  # an fps of 0 or NaN: unknown
        log.info("%s: fps %s unknown, playing at 30", path, fps)
        fps = 30.0
    if not np.isfinite(poses).all():
        raise ValueError(f"{path}: the poses hold NaN or infinite values")
    kwargs: dict[str, Any] = {"poses": poses, "fps": fps, "world": frame == "world",
                              "title": Path(path).name}
    n, j = poses.shape[:2]
    with np.load(path, allow_pickle=False) as data:
        entries = {k: data[k] for k in ("keypoints_2d", "image_size", "filled", "frames")
                   if k in data.files}
    kp = entries.get("keypoints_2d")
    size = entries.get("image_size")
    if kp is not None and kp.shape == (n, j, 2) and size is not None and size.shape == (2,):
        kwargs["keypoints_2d"] = kp.astype(np.float64)
        kwargs["image_size"] = (float(size[0]), float(size[1]))
        filled = entries.get("filled")
        if filled is not None and filled.shape == (n, j):
            kwargs["filled"] = filled.astype(bool)
        frames = entries.get("frames")
        if frames is not None and frames.shape == (n,) and frames.dtype.kind in "iu":
            kwargs["frame_ids"] = frames.tolist()
    elif kp is not None:
        log.info("%s: keypoints_2d %s or image_size missing or not matching the poses; the viewer "
                 "shows the 3D view only", path, kp.shape)
    return kwargs


def write_viewer_from_npz(npz: str | Path, out: str | Path, video: Optional[str | Path] = None,
                          max_images: int = 150, image_height: int = 240,
                          progress: bool = False) -> Path:
    """:func:`write_viewer` for a ``poses_3d.npz``, with frames of ``video`` under the 2D
    keypoints when given (:func:`sample_video_frames`, with a progress bar under ``progress``)."""
    kwargs = load_viewer_npz(npz)
    if video is not None:
        if "keypoints_2d" not in kwargs:
            raise ValueError(f"{npz}: no keypoints_2d and image_size to draw over the video; "
                             "leave out the video")
        ids = kwargs.get("frame_ids")
        last = (max(ids) if ids else len(kwargs["poses"]) - 1) + 1
        kwargs["images"] = sample_video_frames(video, last, max_images, image_height,
                                               progress=progress)
    return write_viewer(out=out, **kwargs)
