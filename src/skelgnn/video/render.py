"""Drawing skeletons: 3D pose animations (mp4 / gif / png) and 2D skeletons on video frames.

Fast by design: the 3D joints are projected onto the canvas here (an orthographic view with a fixed
elevation, azimuth and scale, so the axes never move) and drawn with Pillow onto one reused
canvas; mp4 frames stream to ffmpeg through ``imageio``, GIFs are quantised to a fixed palette and
written by Pillow. Colours follow the person's side: left blue, right red, centre grey.

Needs the optional packages ``pillow``, ``imageio`` and, for mp4, ``imageio-ffmpeg``; they are
imported when a function here is first called. This is the only module allowed to use matplotlib;
only :func:`plot_hop_information` needs it.

Coordinates: 3D poses are root-relative camera-frame metres (``x`` right, ``y`` down, ``z`` away
from the camera), as :class:`skelgnn.infer.lifter.Lifter` returns them. The view maps them to "up" =
``-y`` and rotates about that vertical axis by the azimuth (0: seen from the camera).
World-frame poses (``poses_world``: ``y`` up = gravity, floor at ``y = 0``) are drawn by
:func:`world_renderer`, which turns them into those axes (:func:`world_to_view`) with the floor
grid at the floor, level (:data:`WORLD_VIEW`: 10 degrees above the floor, azimuth 0, so a
left/right-symmetric pose is drawn symmetric); ``skelgnn render`` and ``skelgnn video`` draw
``poses_world`` this way whenever the file has it.

Shape letters: ``F`` frames, ``J`` joints, ``H`` / ``W`` image height / width.
"""
from __future__ import annotations

import io
import logging
import math
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import numpy as np


from skelgnn.fileio import atomic_path
from skelgnn.skeleton import H36M17, Skeleton

__all__ = [
    "LEFT_COLOUR",
    "RIGHT_COLOUR",
    "CENTRE_COLOUR",
    "ANIMATION_SUFFIXES",
    "joint_colours",
    "PoseRenderer",
    "load_poses",
    "load_render_poses",
    "WORLD_VIEW",
    "world_to_view",
    "world_renderer",
    "write_animation",
    "draw_skeleton_2d",
    "plot_hop_information",
    "draw_confusion_matrix",
]

log = logging.getLogger(__name__)

MAX_FRAME_SIDE = 8192
"""The widest and tallest frame rendered (8K is 7680 x 4320): a larger one is refused before a
canvas is allocated."""

LEFT_COLOUR: tuple[int, int, int] = (30, 90, 230)
"""RGB of the person's left side (blue)."""
RIGHT_COLOUR: tuple[int, int, int] = (225, 40, 40)
"""RGB of the person's right side (red)."""
CENTRE_COLOUR: tuple[int, int, int] = (128, 128, 128)
"""RGB of the centre line: pelvis, spine, thorax, neck, head (grey)."""

ANIMATION_SUFFIXES: tuple[str, ...] = (".mp4", ".gif", ".png")
"""Output types of :func:`write_animation`."""

_GRID_COLOUR = (215, 215, 215)
_AXIS_COLOUR = (170, 170, 170)


def _pil() -> Any:
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise ValueError("drawing needs Pillow; install it with `pip install skelgnn[viz]`") \
            from None
    return Image, ImageDraw


def joint_colours(skeleton: Skeleton = H36M17) -> list[tuple[int, int, int]]:
    """Colour of every joint (and of the bone ending at it): left blue, right red, else grey."""
    left, right = set(skeleton.joints_left), set(skeleton.joints_right)
    return [LEFT_COLOUR if j in left else RIGHT_COLOUR if j in right else CENTRE_COLOUR
            for j in range(skeleton.num_joints)]


class PoseRenderer:
    """Renders 3D poses to RGB frames with fixed axes, reusing one canvas.

    Args:
        size: ``(width, height)`` of the frames in pixels.
        elev: elevation of the view in degrees (positive: looking down).
        azim: azimuth of the view in degrees about the vertical axis (0: the camera's view).
        radius: half-width of the shown volume in metres (fixed scale: 1 m = ``0.45 * min(W, H)
            / radius`` pixels).
        floor: height of the floor grid as a camera-frame ``y`` in metres (``y`` points down);
            None: no grid. :meth:`for_poses` puts it under the lowest joint of a clip.
        skeleton: the bones to draw.
        line_width: bone width in pixels (default: ``min(W, H) / 120``, at least 2).
    """

    def __init__(self, size: tuple[int, int] = (640, 480), elev: float = 15.0,
                 azim: float = 45.0, radius: float = 1.0, floor: Optional[float] = 0.95,
                 skeleton: Skeleton = H36M17, line_width: Optional[int] = None) -> None:
        w, h = (int(s) for s in size)
        if w < 16 or h < 16:
            raise ValueError(f"frame size must be at least 16 x 16 pixels, found {w} x {h}")
        if w > MAX_FRAME_SIDE or h > MAX_FRAME_SIDE:
            raise ValueError(f"frame size must be at most {MAX_FRAME_SIDE} x {MAX_FRAME_SIDE} "
                             f"pixels, found {w} x {h}")
        for name, angle in (("elevation", elev), ("azimuth", azim)):
            if not math.isfinite(float(angle)):
                raise ValueError(f"the view {name} must be a finite number of degrees, found "
                                 f"{angle}")
        if not radius > 0:
            raise ValueError(f"radius must be positive metres, found {radius}")
        self.size = (w, h)
        self.elev, self.azim, self.radius = float(elev), float(azim), float(radius)
        self.floor = floor
        self.skeleton = skeleton
        self.line_width = int(line_width) if line_width else max(2, min(w, h) // 120)
        self._colours = joint_colours(skeleton)
        self._bones = skeleton.bones()
        self._scale = 0.45 * min(w, h) / self.radius  # pixels per metre
        a, e = math.radians(self.azim), math.radians(self.elev)
        # Rows: screen u (right), screen v (up), depth (away from the viewer); columns: camera
        # x, y, z. Camera frame -> "world" (X = x, Y = z, Z = -y), rotate about Z, tilt by elev.
        self._view = np.array([
            [math.cos(a), 0.0, math.sin(a)],
            [-math.sin(a) * math.sin(e), -math.cos(e), math.cos(a) * math.sin(e)],
            [-math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)],
        ])
        Image, ImageDraw = _pil()
        self._background = Image.new("RGB", self.size, (255, 255, 255))
        self._draw_axes(ImageDraw.Draw(self._background))
        self._canvas = self._background.copy()
        self._draw = ImageDraw.Draw(self._canvas)

    @classmethod
    def for_poses(cls, poses: np.ndarray, **kwargs: Any) -> "PoseRenderer":
        """A renderer whose radius and floor fit the whole clip ``poses`` ``(F, J, 3)`` (fixed for
        every frame), unless given in ``kwargs``."""
        poses = _check_poses(poses)
        finite = poses[np.isfinite(poses).all(-1)]
        if finite.size:
            kwargs.setdefault("radius", float(max(1.0, 1.1 * np.abs(finite).max())))
            kwargs.setdefault("floor", float(finite[:, 1].max()))
        return cls(**kwargs)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Camera-frame metres ``(..., 3)`` -> pixels ``(..., 2)`` and depth ``(...)``."""
        p = np.asarray(points, dtype=np.float64) @ self._view.T  # (..., 3): u, v, depth
        w, h = self.size
        px = np.stack([w / 2 + self._scale * p[..., 0], h / 2 - self._scale * p[..., 1]], -1)
        return px, p[..., 2]

    def _draw_axes(self, draw: Any) -> None:
        if self.floor is None:
            return
        r, n = self.radius, 4
        ticks = np.linspace(-r, r, 2 * n + 1)
        for t in ticks:
            for a, b in (((t, self.floor, -r), (t, self.floor, r)),
                         ((-r, self.floor, t), (r, self.floor, t))):
                (pa, pb), _ = self.project(np.array([a, b]))
                colour = _AXIS_COLOUR if abs(t) < 1e-9 else _GRID_COLOUR
                draw.line([tuple(pa), tuple(pb)], fill=colour, width=1)

    def render(self, pose: np.ndarray) -> np.ndarray:
        """One pose ``(J, 3)`` -> ``(H, W, 3)`` uint8 frame (a new array; the canvas is reused).

        Joints with non-finite coordinates and their bones are skipped.
        """
        pose = np.asarray(pose, dtype=np.float64)
        if pose.shape != (self.skeleton.num_joints, 3):
            raise ValueError(f"render: expected one pose ({self.skeleton.num_joints}, 3), found "
                             f"{pose.shape}")
        self._canvas.paste(self._background)
        px, depth = self.project(pose)  # (J, 2), (J,)
        ok = np.isfinite(px).all(-1)
        lw = self.line_width
        # Painter's algorithm: far bones first, so nearer limbs are drawn over them.
        bones = sorted((b for b in self._bones if ok[b[0]] and ok[b[1]]),
                       key=lambda b: -(depth[b[0]] + depth[b[1]]))
        for p, c in bones:
            self._draw.line([tuple(px[p]), tuple(px[c])], fill=self._colours[c], width=lw)
        rad = lw * 0.9
        for j in np.argsort(-depth):
            if ok[j]:
                x, y = px[j]
                self._draw.ellipse([x - rad, y - rad, x + rad, y + rad], fill=self._colours[j])
        return np.asarray(self._canvas)

    def frames(self, poses: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Render a sequence of ``(J, 3)`` poses lazily."""
        for pose in poses:
            yield self.render(pose)


def _check_poses(poses: Any) -> np.ndarray:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim == 2:
        poses = poses[None]
    if poses.ndim != 3 or poses.shape[-1] != 3 or poses.shape[0] == 0:
        raise ValueError(f"expected 3D poses (F, J, 3) with F >= 1, found shape {poses.shape}")
    return poses


WORLD_VIEW: dict[str, float] = {"elev": 10.0, "azim": 0.0}
"""The default view of world-frame poses: 10 degrees above the floor (the floor grid reads as a
floor, the figure as standing on it), from the camera's side (azimuth 0: left and right drawn
symmetrically)."""


def world_to_view(poses_world: np.ndarray) -> tuple[np.ndarray, float]:
    """World poses (``y`` up, floor ``y = 0``) -> the renderer's camera-like axes (``y`` down).

    Each frame is centred on its root horizontally (``x``, ``z``; the figure stays in view while
    its height above the floor is kept) and the clip vertically on the median root height ``c``:
    ``v = (x - x_root, -(y - c), -(z - z_root))``, so the world floor ``y = 0`` is the view's
    ``y = c``.

    Args:
        poses_world: ``(F, J, 3)`` world-frame metres.

    Returns:
        the ``(F, J, 3)`` poses in view axes and the floor's ``y`` in those axes.
    """
    p = _check_poses(poses_world).copy()
    p[..., [0, 2]] -= p[:, :1, [0, 2]]
    centre = float(np.median(p[:, 0, 1]))
    p[..., 1] -= centre
    return p * np.array([1.0, -1.0, -1.0]), centre


def world_renderer(poses_world: np.ndarray, size: tuple[int, int] = (640, 480),
                   elev: Optional[float] = None, azim: Optional[float] = None,
                   ) -> tuple[PoseRenderer, np.ndarray]:
    """A renderer for a world-frame clip, level with its floor grid (:data:`WORLD_VIEW` unless
    ``elev`` / ``azim`` are given), and the clip in its axes (:func:`world_to_view`)."""
    view, floor = world_to_view(poses_world)
    renderer = PoseRenderer.for_poses(
        view, size=size, floor=floor,
        elev=WORLD_VIEW["elev"] if elev is None else elev,
        azim=WORLD_VIEW["azim"] if azim is None else azim)
    return renderer, view


def load_render_poses(path: str | Path, camera_frame: bool = False
                      ) -> tuple[np.ndarray, Optional[float], bool]:
    """The poses ``skelgnn render`` draws from an npz: ``poses_world`` when the file has it
    (``skelgnn infer`` / ``video`` write it) unless ``camera_frame``, else ``poses_3d``.

    Returns:
        ``(F, 17, 3)`` poses, the file's fps (None when absent), and whether they are world-frame.

    Raises:
        FileNotFoundError, ValueError: as :func:`load_poses`, or a ``poses_world`` entry that is
            not ``(F, 17, 3)`` finite numbers like ``poses_3d``.
    """
    poses, fps = load_poses(path)
    if camera_frame:
        return poses, fps, False
    with np.load(path, allow_pickle=False) as data:
        if "poses_world" not in data.files:
            return poses, fps, False
        world = data["poses_world"]
    if world.dtype.kind not in "fiu" or world.shape != poses.shape:
        raise ValueError(f"{path}: 'poses_world' must be {poses.shape} like 'poses_3d', found "
                         f"{world.shape}")
    return world.astype(np.float64), fps, True


def load_poses(path: str | Path) -> tuple[np.ndarray, Optional[float]]:
    """``poses_3d`` ``(F, 17, 3)`` and ``fps`` (None when absent) from an npz written by
    ``skelgnn infer`` (read with ``allow_pickle=False``).

    Raises:
        FileNotFoundError: no file.
        ValueError: not an npz with a ``poses_3d`` array of that shape.
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"poses file not found: {path}")
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle anything else
        raise ValueError(f"{path}: not a readable npz file (not a zip archive)")
    try:
        from skelgnn.fileio import check_npz_members

        check_npz_members(path)  # sizes from the headers, before anything is inflated
        with np.load(path, allow_pickle=False) as data:
            entries = {k: data[k] for k in data.files if k in ("poses_3d", "fps")}
            files = sorted(data.files)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable npz file: {exc}") from None
    except ValueError as exc:  # object arrays need pickle, which we refuse
        raise ValueError(f"{path}: cannot read without pickle: {exc}") from None
    if "poses_3d" not in entries:
        raise ValueError(f"{path}: expected an array 'poses_3d' (F, 17, 3); found entries {files}")
    poses = entries["poses_3d"]
    fps = None
    if "fps" in entries:
        if entries["fps"].size != 1 or entries["fps"].dtype.kind not in "fiu":
            raise ValueError(f"{path}: 'fps' must be one number, found {entries['fps']!r}")
        fps = float(entries["fps"].reshape(()))
    if poses.dtype.kind not in "fiu":
        raise ValueError(f"{path}: 'poses_3d' must hold real numbers, found dtype {poses.dtype}")
    if poses.ndim != 3 \
            or poses.shape[1:] != (H36M17.num_joints, 3) or poses.shape[0] == 0:
        raise ValueError(f"{path}: 'poses_3d' must be (F, 17, 3) with F >= 1, found {poses.shape}")
    return poses.astype(np.float64), fps


def write_animation(poses: np.ndarray, out: str | Path, fps: float = 30.0,
                    renderer: Optional[PoseRenderer] = None, frame: int = 0) -> Path:
    """Render ``poses`` ``(F, J, 3)`` to ``out``: an ``.mp4`` (H.264), a ``.gif``, or a ``.png``
    of frame ``frame``. Written through a temp file renamed on success.

    Args:
        poses: root-relative camera-frame metres.
        out: target file; its suffix picks the format (:data:`ANIMATION_SUFFIXES`).
        fps: frames per second of the animation.
        renderer: the view (default: :meth:`PoseRenderer.for_poses`).
        frame: the frame drawn for a ``.png`` (negative counts from the end).

    Returns:
        ``out`` as a Path.
    """
    poses = _check_poses(poses)
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ValueError(f"{out}: unknown output type {suffix!r}; expected one of "
                         f"{list(ANIMATION_SUFFIXES)}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, found {fps}")
    renderer = renderer or PoseRenderer.for_poses(poses)
    with atomic_path(out, suffix=out.suffix) as tmp:  # writers pick the format from the suffix
        if suffix == ".png":
            if not -poses.shape[0] <= frame < poses.shape[0]:
                raise ValueError(f"frame {frame} is outside the clip's {poses.shape[0]} frames")
            Image, _ = _pil()
            Image.fromarray(renderer.render(poses[frame])).save(tmp, format="PNG")
        elif suffix == ".gif":
            _write_gif(Path(tmp), renderer.frames(poses), fps)
        else:
            write_video(tmp, renderer.frames(poses), fps)
    log.info("wrote %d frame(s) to %s", 1 if suffix == ".png" else poses.shape[0], out)
    return out


def _gif_palette() -> Any:
    """A fixed palette: the drawing colours exactly, then a 6x6x6 colour cube for anything else.
    Quantising to a fixed palette without dithering is ~15x faster than Pillow's adaptive
    quantiser, and exact here because the renderer draws without anti-aliasing."""
    Image, _ = _pil()
    colours = [(255, 255, 255), LEFT_COLOUR, RIGHT_COLOUR, CENTRE_COLOUR, _GRID_COLOUR,
               _AXIS_COLOUR]
    levels = (0, 51, 102, 153, 204, 255)
    colours += [(r, g, b) for r in levels for g in levels for b in levels]
    flat = [v for c in colours[:256] for v in c]
    palette = Image.new("P", (1, 1))
    palette.putpalette(flat + [0] * (768 - len(flat)))
    return palette


def _gif_frame(image: Any) -> tuple[bytes, bytes]:
    """Pillow's encoding of one palette image as a one-frame GIF, split into the file head
    (header, screen descriptor, global colour table) and the frame's blocks (without the trailer)."""
    buf = io.BytesIO()
    image.save(buf, format="GIF", optimize=False)
    data = buf.getvalue()
    flags = data[10]
    head = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    body = data[head:-1]
    if body[:1] == b"\x21" and body[1:2] == b"\xf9":  # drop Pillow's graphic control extension
        body = body[8:]
    return data[:head], body


def _write_gif(path: Path, frames: Iterable[np.ndarray], fps: float) -> None:
    """Stream frames to a looping GIF, one frame in memory at a time.

    Each frame is quantised to one fixed palette (:func:`_gif_palette`) and encoded by Pillow as a
    one-frame GIF; its image blocks are appended after a graphic control extension carrying the
    delay. Identical consecutive frames are merged into one longer frame (same playback time)."""
    Image, _ = _pil()
    palette = _gif_palette()
    delay = max(1, round(100.0 / fps))  # GIF delays are in 1/100 s
    with open(path, "wb") as fh:
        head: Optional[bytes] = None
        pending: Optional[bytes] = None
        repeats = 0

        def flush() -> None:
            if pending is not None:
                ticks = min(delay * repeats, 0xFFFF)
                fh.write(b"\x21\xf9\x04\x04" + ticks.to_bytes(2, "little") + b"\x00\x00")
                fh.write(pending)

        for frame in frames:
            image = Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE)
            frame_head, body = _gif_frame(image)
            if head is None:
                head = frame_head
                fh.write(head)
                fh.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop forever
            elif frame_head != head:  # pragma: no cover - one palette, one screen size
                raise ValueError("GIF frames differ in size or palette")
            if body == pending:
                repeats += 1
                continue
            flush()
            pending, repeats = body, 1
        if head is None:
            raise ValueError("no frames to write")
        flush()
        fh.write(b"\x3b")


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float,
                quality: int = 7) -> None:
    """Stream ``(H, W, 3)`` uint8 RGB frames (even H and W) to an H.264 mp4 at ``path`` (the one
    video writer of the package; callers make it atomic with :func:`skelgnn.fileio.atomic_path`).
    """
    try:
        import imageio.v2 as iio2
        import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary imageio uses)
    except ImportError:
        raise ValueError("mp4 output needs imageio and imageio-ffmpeg; install them with "
                         "`pip install skelgnn[viz]`") from None
    writer = iio2.get_writer(str(path), format="FFMPEG", mode="I", fps=fps, codec="libx264",
                             pixelformat="yuv420p", quality=quality, macro_block_size=2,
                             ffmpeg_log_level="quiet")  # failures: check_mp4_complete, one line
    try:
        for img in frames:
            writer.append_data(img)
    finally:
        writer.close()
    check_mp4_complete(path)


def check_mp4_complete(path: str | Path) -> None:
    """Refuse an mp4 that ffmpeg could not finish -- a full disk cuts it before its ``moov``
    index, leaving a file no player opens, while ffmpeg's exit goes unnoticed -- by walking its
    top-level boxes: each must fit in the file and one must be a whole ``moov``.

    Raises:
        OSError: ``EIO`` naming ``path``, which :func:`skelgnn.fileio.atomic_path` reports as
            one line naming the output (and removes the temporary file).
    """
    import errno
    import os
    import struct

    size = os.path.getsize(path)
    pos, boxes = 0, []
    with open(path, "rb") as fh:
        while pos + 8 <= size:
            fh.seek(pos)
            length, kind = struct.unpack(">I4s", fh.read(8))
            if length == 1 and pos + 16 <= size:  # 64-bit size
                length = struct.unpack(">Q", fh.read(8))[0]
            elif length == 0:  # to the end of the file
                length = size - pos
            if length < 8 or pos + length > size:
                break
            boxes.append(kind)
            pos += length
    if b"moov" not in boxes:
        raise OSError(errno.EIO, "the video is incomplete: ffmpeg could not finish it (is the "
                      "disk full?)", os.fspath(path))

def draw_skeleton_2d(image: np.ndarray, keypoints: np.ndarray, min_score: float = 0.3,
                     skeleton: Skeleton = H36M17, line_width: Optional[int] = None) -> np.ndarray:
    """Draw one 2D skeleton on a video frame.

    Args:
        image: ``(H, W, 3)`` uint8 RGB frame (not modified).
        keypoints: ``(J, 2)`` pixels, or ``(J, 3)`` with scores; joints scoring below
            ``min_score`` or non-finite are not drawn, nor their bones.
        min_score: score threshold.
        skeleton: the bones.
        line_width: bone width (default: ``min(H, W) / 150``, at least 2).

    Returns:
        A new ``(H, W, 3)`` uint8 frame.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, found {img.dtype} {img.shape}")
    kp = np.asarray(keypoints, dtype=np.float64)
    j = skeleton.num_joints
    if kp.shape not in ((j, 2), (j, 3)):
        raise ValueError(f"keypoints must be ({j}, 2) or ({j}, 3), found {kp.shape}")
    ok = np.isfinite(kp[:, :2]).all(-1)
    if kp.shape == (j, 3):
        ok &= np.nan_to_num(kp[:, 2], nan=-1.0) >= min_score
    Image, ImageDraw = _pil()
    canvas = Image.fromarray(img)
    draw = ImageDraw.Draw(canvas)
    lw = int(line_width) if line_width else max(2, min(img.shape[:2]) // 150)
    colours = joint_colours(skeleton)
    for p, c in skeleton.bones():
        if ok[p] and ok[c]:
            draw.line([tuple(kp[p, :2]), tuple(kp[c, :2])], fill=colours[c], width=lw)
    for i in np.flatnonzero(ok):
        x, y = kp[i, :2]
        draw.ellipse([x - lw, y - lw, x + lw, y + lw], fill=colours[i])
    return np.asarray(canvas)


def plot_hop_information(analysis: Any, out: str | Path) -> Path:
    """Plot the information gain per hop of a :class:`skelgnn.layers.hops.HopAnalysis` with its fits
    ``a exp(-b k)`` (log scale; one panel per measure) and write a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("plotting needs matplotlib; install it with `pip install skelgnn[viz]`") \
            from None
    ks = np.asarray(analysis.hops, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    panels = [("target-aware (Gaussian, nats/joint)", analysis.target_ig, analysis.target_fit),
              ("LookHops (KL of entropy histograms)", analysis.lookhops_ig, analysis.lookhops_fit)]
    for ax, (title, ig, fit) in zip(axes, panels):
        ig = np.asarray([np.nan if v is None else v for v in ig], dtype=float)
        ok = np.isfinite(ig) & (ig > 0)
        ax.semilogy(ks[ok], ig[ok], "o", color="k", label="measured")
        kk = np.linspace(min(fit.ks), max(fit.ks), 50)
        ax.semilogy(kk, fit.a * np.exp(-fit.b * kk), "-", color="tab:red",
                    label=f"a exp(-bk), d = {fit.d:.2f}")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("hop k")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("IG(k)")
    fig.suptitle(f"information gain per hop ({analysis.source}, {analysis.num_samples} samples)",
                 fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------
# Confusion matrix (action recognition)
# --------------------------------------------------------------------------------------------

def draw_confusion_matrix(confusion: Any, classes: list[str], path: str | Path,
                          title: str = "", normalize: bool = True) -> Path:
    """Write a confusion-matrix figure (PNG, via matplotlib with the Agg backend).

    Args:
        confusion: ``(K, K)`` counts, rows true class, columns predicted class.
        classes: the ``K`` class names.
        normalize: colour by row fraction (each true class sums to 1); cells show the fraction
            (counts otherwise). Rows without clips are left blank.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, dtype=np.float64)
    k = len(classes)
    if cm.shape != (k, k):
        raise ValueError(f"confusion is {cm.shape}, expected ({k}, {k}) for {k} classes")
    rows = cm.sum(1, keepdims=True)
    shown = np.divide(cm, rows, out=np.full_like(cm, np.nan), where=rows > 0) if normalize else cm
    fig, ax = plt.subplots(figsize=(0.55 * k + 2.5, 0.5 * k + 2))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for i in range(k):
        for j in range(k):
            v = shown[i, j]
            if np.isfinite(v) and v > 0:
                ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center",
                        fontsize=7, color="white" if v > 0.6 * np.nanmax(shown) else "black")
    ax.set_xticks(range(k), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
