"""From a video file to 3D poses: 2D detection, conversion, lifting and renders.

The pipeline of :func:`process_video`:

1. read the frames (``imageio`` with ffmpeg) and detect one person's 2D keypoints per frame with a
   *detector*: any callable ``frame (H, W, 3) uint8 RGB -> (J, 3) pixels + score, or None``.
   The default, :class:`MediaPipePoseDetector`, is MediaPipe's BlazePose (33 landmarks; legacy
   ``mediapipe.solutions.pose`` API, whose ``model_complexity=1`` weights ship inside the
   ``mediapipe==0.10.21`` wheel, so it works offline);
2. write them to ``keypoints_2d.npz`` (the raw detector layout, readable by ``skelgnn infer``);
3. convert to the Human3.6M 17-joint layout, repair left/right swaps, fill missing joints and
   lift (:meth:`skelgnn.infer.lifter.Lifter.predict_full`) to ``poses_3d.npz``, with the root
   trajectory and the world-frame poses (:func:`skelgnn.motion.pipeline.build_motion`: optional
   smoothing, focal length given or assumed), and MediaPipe's own 3D beside ours
   (``poses_3d_mediapipe``, :mod:`skelgnn.video.mediapipe3d`);
4. render ``side_by_side.mp4`` (the video with the 2D skeleton that was lifted | the 3D skeleton
   in the world frame, standing on the floor grid, seen level from the camera's side, 720
   pixels high at most) and ``contact_sheet.png`` (8 frames of it);
5. write ``motion.html``, the interactive viewer (:func:`skelgnn.video.viewer.write_viewer`: one
   offline HTML file, the world-frame skeleton with orbit controls and a timeline beside the 2D
   keypoints over up to 150 small frames of the video, kept while decoding for detection).

MediaPipe 0.10.21 pins ``numpy<2`` and ``protobuf<5``, so it lives in its own environment (the
``video`` extra); nothing else in the package imports it.

Shape letters: ``F`` frames, ``J`` joints, ``H`` / ``W`` frame height / width.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np


from skelgnn.fileio import atomic_path, refuse_overwriting_inputs
from skelgnn.infer.lifter import Lifter, Prediction, save_npz_atomic
from skelgnn.infer.keypoints import KeypointSequence
from skelgnn.progress import ProgressMode, stage, track
from skelgnn.video.mediapipe3d import agreement_mm, stack_world_landmarks, world_landmarks_to_h36m

__all__ = [
    "Detector",
    "MediaPipePoseDetector",
    "VideoInfo",
    "VideoResult",
    "read_video_info",
    "iter_frames",
    "detect_keypoints",
    "lift_detections",
    "process_video",
    "warn_if_truncated",
    "MAX_VIDEO_SIDE",
]

log = logging.getLogger(__name__)

MAX_VIDEO_SIDE = 8192
"""The widest and tallest video frame decoded (8K is 7680 x 4320; one 16000 x 16000 frame is
768 MB)."""

TRUNCATED_FRACTION = 0.9
"""A video decoding to fewer than this fraction of the frames its header declares is reported
as truncated."""

Detector = Callable[[np.ndarray], Optional[np.ndarray]]
"""``frame (H, W, 3) uint8 RGB -> (J, 3)`` pixels and score of one person, or None if nobody."""


def _imageio_v2() -> Any:
    try:
        import imageio.v2 as iio2
        import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary imageio uses)
    except ImportError:
        raise ValueError("reading and writing videos needs imageio and imageio-ffmpeg; install "
                         "them with `pip install skelgnn[viz]`") from None
    return iio2


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    Attributes:
        fps: frames per second.
        size: ``(width, height)`` of the decoded frames in pixels.
        duration: seconds (0 when unknown).
    """

    fps: float
    size: tuple[int, int]
    duration: float


def read_video_info(path: str | Path) -> VideoInfo:
    """Frame rate and size of a video file.

    Raises:
        FileNotFoundError: no file.
        ValueError: ffmpeg cannot read it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    iio2 = _imageio_v2()
    try:
        reader = iio2.get_reader(str(path), format="FFMPEG")
    except Exception as exc:  # imageio / ffmpeg raise several types for unreadable files
        # imageio appends ffmpeg's whole stderr (version banner, build flags); keep its first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: cannot read as a video: {first}") from None
    try:
        meta = reader.get_meta_data()
    finally:
        reader.close()
    w, h = (int(v) for v in meta["size"])
    fps = float(meta.get("fps") or 0.0)
    if not (w > 0 and h > 0):
        raise ValueError(f"{path}: the video has a zero frame size ({w} x {h})")
    if w > MAX_VIDEO_SIDE or h > MAX_VIDEO_SIDE:  # refused before a frame is decoded
        raise ValueError(f"{path}: frames of {w} x {h} pixels, over the bound of "
                         f"{MAX_VIDEO_SIDE} x {MAX_VIDEO_SIDE}; scale the video down first "
                         "(e.g. ffmpeg -vf scale=1920:-2)")
    return VideoInfo(fps=fps if math.isfinite(fps) and fps > 0 else 30.0, size=(w, h),
                     duration=float(meta.get("duration") or 0.0))


def iter_frames(path: str | Path, max_frames: Optional[int] = None) -> Iterator[np.ndarray]:
    """The frames of a video as ``(H, W, 3)`` uint8 RGB arrays, one at a time."""
    iio2 = _imageio_v2()
    reader = iio2.get_reader(str(path), format="FFMPEG")
    try:
        for i, frame in enumerate(reader):
            if max_frames is not None and i >= max_frames:
                break
            yield np.asarray(frame)[..., :3]
    finally:
        reader.close()


class MediaPipePoseDetector:
    """BlazePose (33 landmarks) through MediaPipe's legacy ``solutions.pose`` API.

    Landmarks come normalised to ``[0, 1]``; they are returned in pixels with MediaPipe's
    ``visibility`` as the score. In video mode (``static_image_mode=False``) MediaPipe tracks the
    person from frame to frame, which is faster and steadier than detecting in every frame.

    Args:
        model_complexity: 1 (the model whose weights ship in the 0.10.21 wheel; 0 and 2 are
            downloaded at first use, which fails offline).
        min_detection_confidence: MediaPipe's person-detection threshold.
        min_tracking_confidence: MediaPipe's tracking threshold.
        static_image_mode: detect in every frame independently.
    """

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, static_image_mode: bool = False) -> None:
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError:
            raise ValueError("`skelgnn video` needs mediapipe==0.10.21 (it pins numpy<2 and "
                             "protobuf<5, so use a separate environment: pip install "
                             "'skelgnn[video]')") from None
        self._pose = mp_pose.Pose(static_image_mode=static_image_mode,
                                  model_complexity=model_complexity, smooth_landmarks=True,
                                  enable_segmentation=False,
                                  min_detection_confidence=min_detection_confidence,
                                  min_tracking_confidence=min_tracking_confidence)
        self.world: list[Optional[np.ndarray]] = []
        """MediaPipe's own 3D per call: ``(33, 3)`` ``pose_world_landmarks`` in metres (hip
        centred), None where nobody was found (:mod:`skelgnn.video.mediapipe3d`)."""

    def __call__(self, frame: np.ndarray) -> Optional[np.ndarray]:
        h, w = frame.shape[:2]
        result = self._pose.process(np.ascontiguousarray(frame))
        world = getattr(result, "pose_world_landmarks", None)
        self.world.append(None if world is None or result.pose_landmarks is None else np.array(
            [[p.x, p.y, p.z] for p in world.landmark], dtype=np.float64))
        if result.pose_landmarks is None:
            return None
        lm = result.pose_landmarks.landmark
        return np.array([[p.x * w, p.y * h, p.visibility] for p in lm], dtype=np.float64)

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> "MediaPipePoseDetector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def detect_keypoints(path: str | Path, detector: Detector, layout: str = "blazepose33",
                     max_frames: Optional[int] = None, progress: ProgressMode = False
                     ) -> KeypointSequence:
    """Run ``detector`` on every frame of a video.

    Args:
        path: the video.
        detector: see :data:`Detector`; must return the same joint count in every frame.
        layout: the detector's keypoint layout (stored with the keypoints).
        max_frames: stop after this many frames.
        progress: a bar or log lines while detecting (:mod:`skelgnn.progress`).

    Returns:
        ``(F, J, 3)`` keypoints in pixels, NaN with score 0 in frames where nobody was found,
        with the video's fps and frame size.

    Raises:
        ValueError: no frame, or nobody detected in any frame.
    """
    info = read_video_info(path)
    total = round(info.duration * info.fps) or None
    if max_frames is not None:
        total = min(total, max_frames) if total is not None else max_frames
    frames = track(iter_frames(path, max_frames), "decode+detect", total, "frame", progress)
    found: list[Optional[np.ndarray]] = []
    for frame in frames:
        kp = detector(frame)
        found.append(None if kp is None else np.asarray(kp, dtype=np.float64))
    if not found:
        raise ValueError(f"{path}: the video has no frames")
    warn_if_truncated(path, len(found), info, max_frames)
    shapes = {k.shape for k in found if k is not None}
    if not shapes:
        raise ValueError(f"{path}: no person detected in any of the {len(found)} frames")
    if len(shapes) > 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[1] != 3:
        raise ValueError(f"detector returned keypoints of shapes {sorted(shapes)}; expected one "
                         "(J, 3) shape in every frame")
    j = next(iter(shapes))[0]
    kp = np.full((len(found), j, 3), np.nan)
    kp[..., 2] = 0.0
    for i, k in enumerate(found):
        if k is not None:
            kp[i] = k
    missing = sum(k is None for k in found)
    if missing:
        log.info("nobody detected in %d of %d frames", missing, len(found))
    return KeypointSequence(kp, np.arange(len(found)), layout, info.fps,
                            (float(info.size[0]), float(info.size[1])), str(path))


def warn_if_truncated(path: str | Path, decoded: int, info: VideoInfo,
                      max_frames: Optional[int] = None) -> bool:
    """Warn when fewer frames decoded than the container declares (duration x fps, capped by
    ``max_frames``): a file cut short (a partial download or copy) would otherwise be lifted as a
    shorter clip without a word. Returns whether it warned."""
    declared = int(round(info.duration * info.fps))
    if max_frames is not None:
        declared = min(declared, max_frames)
    if declared > 0 and decoded < TRUNCATED_FRACTION * declared:
        log.warning("%s: decoded %d of the %d frames its header declares; the file looks "
                    "truncated (a partial copy or download?), so the clip is lifted shorter",
                    path, decoded, declared)
        return True
    return False


@dataclass(frozen=True)
class VideoResult:
    """What :func:`process_video` produced.

    Attributes:
        keypoints: the raw detections.
        prediction: the lifted clip.
        files: output name (``keypoints_2d``, ``poses_3d``, ``video``, ``contact_sheet``) -> path.
    """

    keypoints: KeypointSequence
    prediction: Prediction
    files: dict[str, Path]
    timings: dict[str, float]
    """seconds per stage: ``decode+detect``, ``lift``, ``render`` (drawing and encoding)."""
    motion: Optional[dict[str, np.ndarray]] = None
    """the trajectory / world entries added to ``poses_3d.npz``
    (:meth:`skelgnn.motion.pipeline.Motion.arrays`)."""
    mediapipe_agreement: Optional[float] = None
    """P-MPJPE in mm between our ``poses_3d`` and MediaPipe's own 3D (``poses_3d_mediapipe``),
    when the detector gave it (:mod:`skelgnn.video.mediapipe3d`)."""
    mediapipe_frames: int = 0
    """frames in that comparison."""


def _side_by_side(path: str | Path, out_dir: Path, keypoints_2d: np.ndarray,
                  poses_3d: np.ndarray, fps: float, max_frames: Optional[int],
                  height: int = 720, sheet_frames: int = 8,
                  world: bool = False, progress: ProgressMode = False, turns: int = 0
                  ) -> tuple[Path, Path, float]:
    """``side_by_side.mp4``: the video with the lifted 2D skeleton | the 3D skeleton from a fixed
    viewpoint (same height, ``height`` pixels at most), and ``contact_sheet.png``: ``sheet_frames``
    evenly spaced side-by-side frames in a grid. Both written to temp files then renamed.

    Returns:
        the two paths and the rendering seconds (drawing and encoding, decoding excluded).
    """
    from PIL import Image

    from skelgnn.video.render import PoseRenderer, draw_skeleton_2d, world_renderer, write_video

    _imageio_v2()  # a clear error before any work when imageio / ffmpeg are missing
    w, h = read_video_info(path).size
    if turns % 2:  # the frames are turned upright like the keypoints (turn_upright)
        w, h = h, w
    scale = min(1.0, height / h)
    size = (max(2, round(w * scale) // 2 * 2), max(2, round(h * scale) // 2 * 2))
    factor = np.array([size[0] / w, size[1] / h])
    side = size[1] // 2 * 2
    if world:  # level with the floor, seen from the camera's side (symmetric view)
        renderer, poses_3d = world_renderer(poses_3d, size=(side, size[1]))
    else:
        renderer = PoseRenderer.for_poses(poses_3d, size=(side, size[1]))
    n = len(poses_3d)
    picks = set(np.linspace(0, n - 1, min(sheet_frames, n)).round().astype(int).tolist())
    thumbs: list[np.ndarray] = []
    out = out_dir / "side_by_side.mp4"
    decoding = [0.0]  # seconds spent decoding, left out of the rendering time

    def composed() -> Iterator[np.ndarray]:
        frames = iter_frames(path, max_frames)
        for i, (kp, pose) in enumerate(zip(keypoints_2d, poses_3d)):
            t0 = time.perf_counter()
            frame = next(frames, None)
            decoding[0] += time.perf_counter() - t0
            if frame is None:
                return
            if turns:
                frame = np.ascontiguousarray(np.rot90(frame, k=turns))
            if size != (w, h):
                frame = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
            left = draw_skeleton_2d(frame, kp * factor, min_score=0.0)
            both = np.concatenate([left, renderer.render(pose)], axis=1)  # (H, W + side, 3)
            if i in picks:
                thumbs.append(np.asarray(Image.fromarray(both).resize(
                    (both.shape[1] // 3, both.shape[0] // 3), Image.Resampling.BILINEAR)))
            yield both

    t_start = time.perf_counter()
    with atomic_path(out, suffix=".mp4") as tmp:
        write_video(tmp, track(composed(), "render", n, "frame", progress), fps, quality=6)
    seconds = time.perf_counter() - t_start - decoding[0]
    cols = min(4, len(thumbs))
    rows = -(-len(thumbs) // cols)
    th, tw = thumbs[0].shape[:2]
    sheet = np.full((rows * th, cols * tw, 3), 255, np.uint8)
    for k, t in enumerate(thumbs):
        r, c = divmod(k, cols)
        sheet[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = t
    png = out_dir / "contact_sheet.png"
    with atomic_path(png, suffix=".png") as tmp_png:
        Image.fromarray(sheet).save(tmp_png)
    return out, png, seconds


def lift_detections(seq: KeypointSequence, out_dir: str | Path, lifter: Lifter,
                    layout: str = "blazepose33", min_score: float = 0.3, reframe: bool = True,
                    focal: Optional[float] = None, smooth: bool = False,
                    extra: Optional[dict[str, np.ndarray]] = None, level: bool = True,
                    path_smooth_s: Optional[float] = None, stance_knees: Optional[bool] = None
                    ) -> tuple[Prediction, dict[str, np.ndarray], Path]:
    """Step 3 of :func:`process_video`, everything after detection: lift ``seq`` with
    :meth:`~skelgnn.infer.lifter.Lifter.predict_full` (the same call and defaults as ``skelgnn infer``
    and :meth:`~skelgnn.infer.lifter.Lifter.predict`, so the same keypoints give the same 3D), add the
    trajectory and the world frame, levelling a rolled camera unless ``level`` is False and
    straightening standing knees as ``stance_knees`` says (None: for a detector's layout)
    (:func:`skelgnn.motion.pipeline.lift_and_place`, as ``skelgnn infer``) and write
    ``out_dir/poses_3d.npz`` (with ``extra`` entries, e.g. MediaPipe's own 3D). ``path_smooth_s``:
    the root path's smoothing (:data:`skelgnn.motion.pipeline.PATH_SMOOTH_S` when None).

    Returns:
        the prediction (``poses_3d`` smoothed under ``smooth``), the motion entries added to the
        npz (:meth:`skelgnn.motion.pipeline.Motion.arrays`) and the npz's path.
    """
    from skelgnn.motion.pipeline import PATH_SMOOTH_S, lift_and_place

    if seq.image_size is None:
        raise ValueError(f"{seq.source}: the image size is unknown (a video's detections carry it)")
    pred, motion = lift_and_place(lifter, seq.keypoints, seq.image_size, layout, min_score,
                                  reframe=reframe, fps=seq.fps, focal=focal, smooth=smooth,
                                  level=level, path_smooth_s=PATH_SMOOTH_S if path_smooth_s is None
                                  else path_smooth_s, stance_knees=stance_knees)
    log.info("video %s: %s", seq.source, pred.report.summary())
    arrays = motion.arrays()
    path = pred.save(Path(out_dir) / "poses_3d.npz", fps=seq.fps, frames=seq.frames,
                     image_size=seq.image_size, layout=layout,
                     checkpoint=lifter.info.get("checkpoint", ""), **arrays, **(extra or {}))
    return pred, arrays, path


def turn_points(uv: np.ndarray, turns: int, image_size: tuple[float, float]
                ) -> tuple[np.ndarray, tuple[float, float]]:
    """Pixel coordinates ``uv`` ``(..., 2+)`` of an image of ``image_size`` as seen in that image
    turned ``turns`` quarter turns counter-clockwise (``np.rot90(frame, turns)``; negative turns
    go clockwise), and the turned image's size. Columns after the second stay."""
    out = np.array(uv, dtype=np.float64, copy=True)
    w, h = image_size
    for _ in range(turns % 4):  # one counter-clockwise quarter turn: (x, y) -> (y, w - x)
        out[..., 0], out[..., 1] = out[..., 1].copy(), w - out[..., 0]
        w, h = h, w
    return out, (w, h)


def turn_upright(seq: KeypointSequence, turns: int) -> KeypointSequence:
    """``seq`` as seen in its frames turned ``turns`` quarter turns counter-clockwise
    (:func:`turn_points`): undoes a picture turned ``turns`` quarter turns clockwise. The image
    size swaps for odd ``turns``; scores stay."""
    if not turns % 4 or seq.image_size is None:
        return seq
    kp, size = turn_points(seq.keypoints, turns, seq.image_size)
    return dataclasses.replace(seq, keypoints=kp, image_size=size)


def _upright_turns(seq: KeypointSequence, layout: str, rotate: int | str) -> int:
    """The quarter turns :func:`turn_upright` applies for ``rotate`` (``"auto"``: judged from the
    detected person, with a warning)."""
    from skelgnn.infer.layouts import convert
    from skelgnn.infer.plausibility import quarter_turns

    if rotate != "auto":
        return int(rotate) // 90
    turns = quarter_turns(convert(seq.keypoints, layout)[..., :2])
    if turns:
        log.warning("%s: the person is turned by %d degrees clockwise in most frames (the video "
                    "looks rotated); lifting and rendering it turned upright (--rotate 0 keeps "
                    "the picture as it is)", seq.source, 90 * turns)
    return turns


VIDEO_OUTPUTS = ("keypoints_2d.npz", "poses_3d.npz", "side_by_side.mp4", "contact_sheet.png",
                 "motion.html")
"""The files :func:`process_video` writes into its directory (replaced together)."""


def process_video(path: str | Path, out_dir: str | Path, lifter: Lifter,
                  detector: Optional[Detector] = None, layout: str = "blazepose33",
                  min_score: float = 0.3, max_frames: Optional[int] = None,
                  render: bool = True, progress: ProgressMode = False,
                  reframe: bool = True, focal: Optional[float] = None,
                  smooth: bool = False, viewer: bool = True, rotate: int | str = 0,
                  level: bool = True, path_smooth_s: Optional[float] = None,
                  stance_knees: Optional[bool] = None) -> VideoResult:
    """Video -> 2D keypoints -> 3D poses -> renders, all written to ``out_dir``.

    Args:
        path: the input video.
        out_dir: output directory (created); each file is written through a temp file, and the
            :data:`VIDEO_OUTPUTS` already there are removed once detection succeeded, so the
            directory never mixes two clips (with ``render=False`` no old renders stay either).
        lifter: a loaded lifter (PyTorch or ONNX Runtime).
        detector: 2D detector (default: :class:`MediaPipePoseDetector`, closed afterwards).
        layout: the detector's layout.
        min_score: joints scoring below it are filled by temporal interpolation.
        max_frames: process only the first frames.
        render: also write ``side_by_side.mp4`` and ``contact_sheet.png``.
        progress: a bar or log lines while detecting and rendering (:mod:`skelgnn.progress`).
        reframe: lift in a virtual camera framed like the training data
            (:func:`skelgnn.infer.lifter.reframe_keypoints`); on by default, as for ``skelgnn infer``
            and :meth:`~skelgnn.infer.lifter.Lifter.predict`, since phone and web footage is framed
            nothing like the benchmark cameras.
        focal: the camera's focal length in pixels (default: assumed, see
            :func:`skelgnn.motion.trajectory.default_intrinsics`), for the root trajectory.
        smooth: One-Euro filter on the poses and the trajectory.
        path_smooth_s: sigma (seconds) of the Gaussian on the root's path across the floor
            (None: :data:`skelgnn.motion.pipeline.PATH_SMOOTH_S`; 0: off).
        viewer: also write ``motion.html`` (:mod:`skelgnn.video.viewer`), its 2D over the
            frames as decoded.
        rotate: degrees (0, 90, 180, 270) the picture is turned clockwise, turned back before
            lifting and rendering (the keypoints after detection, the frames when drawn);
            ``"auto"`` (``skelgnn video``'s default): judged from the detected person
            (:func:`~skelgnn.infer.plausibility.quarter_turns`), with a warning when it is
            turned; with 0 a turned person is only warned about (by the lifter). Rotation
            metadata needs nothing here: ffmpeg applies it when decoding.
        level: lift a clip whose camera looks rolled again as the level camera would see it
            (:func:`skelgnn.motion.pipeline.lift_and_place`; ``--no-level`` turns it off).
        stance_knees: straighten the knees of standing legs in depth (:mod:`skelgnn.motion.stance`;
            None: for a detector's layout, as ``--stance-knees auto``).
    """
    out_dir = Path(out_dir)
    # the clip itself may sit in out_dir under an output's name: refused, never deleted below
    refuse_overwriting_inputs([out_dir / name for name in VIDEO_OUTPUTS], [path])
    if rotate != "auto" and rotate not in (0, 90, 180, 270):
        raise ValueError(f"rotate must be 'auto', 0, 90, 180 or 270, found {rotate!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    owned = detector is None
    with stage("loading MediaPipe BlazePose"):
        det: Detector = detector if detector is not None else MediaPipePoseDetector()
    timings: dict[str, float] = {}
    detect, sampler = det, None
    if viewer:  # the viewer's video frames are kept while decoding for detection
        from skelgnn.video.viewer import FrameSampler

        sampler = keep = FrameSampler()

        def detect_and_keep(frame: np.ndarray) -> Optional[np.ndarray]:
            keep.offer(frame)
            return det(frame)
        detect = detect_and_keep
    t0 = time.perf_counter()
    try:
        seq = detect_keypoints(path, detect, layout, max_frames, progress)
    finally:
        if owned:
            det.close()  # type: ignore[attr-defined]
    timings["decode+detect"] = time.perf_counter() - t0
    extra: dict[str, np.ndarray] = {}
    world = getattr(det, "world", None)
    if isinstance(world, list) and len(world) == seq.keypoints.shape[0] \
            and any(w is not None for w in world):
        extra["poses_3d_mediapipe"] = world_landmarks_to_h36m(
            stack_world_landmarks(world)).astype(np.float32)
    # the outputs are replaced as one set: an older clip's go once this clip's detection has
    # succeeded, so a failure or an interrupt later never leaves them beside this clip's files
    for name in VIDEO_OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)
    files = {"keypoints_2d": save_npz_atomic(out_dir / "keypoints_2d.npz", {
        "keypoints": seq.keypoints.astype(np.float32), "layout": np.array(layout),
        "fps": np.array(seq.fps), "image_size": np.array(seq.image_size)})}
    turns = _upright_turns(seq, layout, rotate)
    seq = turn_upright(seq, turns)
    t_lift = time.perf_counter()
    with stage(f"lifting {seq.num_frames} frames"):
        pred, arrays, files["poses_3d"] = lift_detections(seq, out_dir, lifter, layout,
                                                          min_score, reframe, focal, smooth, extra,
                                                          level, path_smooth_s, stance_knees)
    timings["lift"] = time.perf_counter() - t_lift
    agreement, n_agree = None, 0
    if "poses_3d_mediapipe" in extra:
        agreement, n_agree = agreement_mm(pred.poses_3d, extra["poses_3d_mediapipe"])
        log.info("MediaPipe's own 3D agrees with ours to P-MPJPE %.1f mm over %d frames",
                 agreement, n_agree)
    if render:
        fps = float(seq.fps or 30.0)
        files["video"], files["contact_sheet"], timings["render"] = _side_by_side(
            path, out_dir, pred.keypoints_2d, arrays["poses_world"], fps, max_frames, world=True,
            progress=progress, turns=turns)
    if sampler is not None:
        from skelgnn.video.viewer import write_viewer

        t_view = time.perf_counter()
        # the viewer shows the frames as decoded: its 2D goes back to their orientation
        view_2d, view_size = turn_points(pred.keypoints_2d, -turns, seq.image_size) \
            if turns and seq.image_size is not None else (pred.keypoints_2d, seq.image_size)
        with stage("writing the viewer"):
            files["viewer"] = write_viewer(
                arrays["poses_world"], out_dir / "motion.html", float(seq.fps or 30.0),
                keypoints_2d=view_2d, image_size=view_size,
                filled=pred.report.mask, frame_ids=seq.frames.tolist(), images=sampler.images(),
                title=Path(path).name)
        timings["viewer"] = time.perf_counter() - t_view
    return VideoResult(seq, pred, files, timings, arrays, agreement, n_agree)
