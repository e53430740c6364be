"""Tests of skelgnn.video.pipeline and ``skelgnn video``: the pipeline on a tiny video the test writes, with
a stand-in detector; MediaPipe itself only where it is installed (it pins numpy<2, so it lives in a
separate environment)."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch


def _need(module: str):
    """Skip without ``module``, except under ``CI=true`` (CI installs the ``viz`` extra)."""
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


imageio = _need("imageio")
_need("imageio_ffmpeg")
_need("PIL")

import imageio.v2 as iio2  # noqa: E402

from skelgnn.models.checkpoint import build_payload, save_checkpoint  # noqa: E402
from skelgnn.cli import main  # noqa: E402
from skelgnn.data.codec import PoseCodec  # noqa: E402
from skelgnn.train.config import load_config  # noqa: E402
from skelgnn.infer.lifter import Lifter  # noqa: E402
from skelgnn.models import build_model  # noqa: E402
from skelgnn.video.pipeline import detect_keypoints, process_video, read_video_info  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "video" / \
    "person_balance_cam01.mp4"
HAS_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None
if os.environ.get("CI", "").lower() == "true" and not HAS_MEDIAPIPE:
    raise ImportError("CI runs the video tests in the README's environment, which has the video "
                      "extra (mediapipe==0.10.21); it is missing")
REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "checkpoints" / n for n in ("skelgnn-27f-video.pt", "skelgnn-27f-cmu-det.pt",
                                                  "skelgnn-1f-cmu-det.pt")]
W, H, FRAMES = 96, 128, 8


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    cfg = load_config(None, ["model.preset=skelgnn-27f", "model.channels=16", "model.blocks=1"])
    torch.manual_seed(0)
    model = build_model(cfg.model)
    return save_checkpoint(build_payload(cfg.to_dict(), model, PoseCodec(cfg.data.normalization), 1, [], None),
                           tmp_path_factory.mktemp("ckpt") / "tiny-27f.pt")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """An 8-frame 96 x 128 mp4 at 10 fps: a grey square moving right."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = iio2.get_writer(str(path), format="FFMPEG", fps=10, codec="libx264",
                             macro_block_size=2, ffmpeg_log_level="error")
    for i in range(FRAMES):
        frame = np.zeros((H, W, 3), np.uint8)
        frame[40:60, 10 + 5 * i: 30 + 5 * i] = 200
        writer.append_data(frame)
    writer.close()
    return path


class FakeBlazePose:
    """Returns a fixed 33-landmark person shifted with the frame's bright square; nobody in
    frame 3; a low-visibility left wrist in frame 5."""

    def __init__(self) -> None:
        self.calls = 0
        rng = np.random.default_rng(0)
        self.base = np.concatenate([rng.uniform(20, 80, (33, 2)), np.full((33, 1), 0.9)], -1)

    def __call__(self, frame: np.ndarray):
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
        i = self.calls
        self.calls += 1
        if i == 3:
            return None
        kp = self.base.copy()
        kp[:, 0] += 5 * i
        if i == 5:
            kp[15, 2] = 0.05
        return kp


def test_read_video_info(clip, tmp_path):
    info = read_video_info(clip)
    assert info.size == (W, H) and info.fps == pytest.approx(10.0)
    with pytest.raises(FileNotFoundError, match="video not found"):
        read_video_info(tmp_path / "none.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot read as a video"):
        read_video_info(tmp_path / "junk.mp4")


def test_detect_keypoints_marks_empty_frames(clip):
    det = FakeBlazePose()
    seq = detect_keypoints(clip, det)
    assert det.calls == FRAMES and seq.keypoints.shape == (FRAMES, 33, 3)
    assert np.isnan(seq.keypoints[3, :, :2]).all() and (seq.keypoints[3, :, 2] == 0).all()
    assert seq.layout == "blazepose33" and seq.image_size == (W, H) and seq.fps == 10.0
    assert detect_keypoints(clip, FakeBlazePose(), max_frames=2).num_frames == 2
    with pytest.raises(ValueError, match="no person detected in any of the 8 frames"):
        detect_keypoints(clip, lambda frame: None)


def test_process_video_writes_everything(clip, checkpoint, tmp_path):
    lifter = Lifter.from_checkpoint(checkpoint)
    result = process_video(clip, tmp_path / "out", lifter, detector=FakeBlazePose())
    assert set(result.files) == {"keypoints_2d", "poses_3d", "video", "contact_sheet", "viewer"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "contact_sheet.png", "keypoints_2d.npz", "motion.html", "poses_3d.npz", "side_by_side.mp4"]
    assert set(result.timings) == {"decode+detect", "lift", "render", "viewer"}
    with np.load(result.files["poses_3d"], allow_pickle=False) as data:
        assert data["poses_3d"].shape == (FRAMES, 17, 3) and np.isfinite(data["poses_3d"]).all()
        assert data["filled"][3].all() and data["filled"][5, 13]  # LWrist from landmark 15
        assert float(data["fps"]) == 10.0 and str(data["layout"]) == "blazepose33"
    with np.load(result.files["keypoints_2d"], allow_pickle=False) as data:
        assert data["keypoints"].shape == (FRAMES, 33, 3) and str(data["layout"]) == "blazepose33"
    reader = iio2.get_reader(str(result.files["video"]), format="FFMPEG")
    try:
        assert reader.count_frames() == FRAMES
        first = reader.get_data(0)
    finally:
        reader.close()
    assert first.shape[0] == H and first.shape[1] == W + H  # video | square 3D panel
    sheet = iio2.imread(result.files["contact_sheet"])
    assert sheet.shape[0] == 2 * (H // 3) and sheet.shape[1] == 4 * ((W + H) // 3)
    # the viewer: the world-frame poses, the lifted 2D keypoints and every frame (8 <= 150)
    html = result.files["viewer"].read_text(encoding="utf-8")
    start = html.index('<script id="motion-data" type="application/json">')
    data = json.loads(html[html.index(">", start) + 1: html.index("</script>", start)])
    assert data["frames"] == FRAMES and data["fps"] == 10.0 and data["world"] is True
    assert data["image_size"] == [W, H] and len(data["images"]["jpeg"]) == FRAMES
    np.testing.assert_array_equal(np.array(data["poses"]).reshape(FRAMES, 17, 3),
                                  np.round(result.motion["poses_world"].astype(np.float64) * 1000))
    # The keypoints file feeds `skelgnn infer` as it is (layout, fps, image size declared).
    out = tmp_path / "again.npz"
    assert main(["infer", "--keypoints", str(result.files["keypoints_2d"]), "--checkpoint",
                 str(checkpoint), "--out", str(out)]) == 0  # reframed by default, as video
    with np.load(out, allow_pickle=False) as again, \
            np.load(result.files["poses_3d"], allow_pickle=False) as first:
        np.testing.assert_allclose(again["poses_3d"], first["poses_3d"], atol=1e-5)


def test_video_cli_errors(tmp_path, checkpoint, capsys):
    assert main(["video", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "o")]) == 2
    assert "video not found" in capsys.readouterr().err
    assert main(["video", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "o"),
                 "--max-frames", "0"]) == 2
    assert "--max-frames must be >= 1" in capsys.readouterr().err


@pytest.mark.skipif(HAS_MEDIAPIPE, reason="mediapipe is installed")
def test_video_cli_without_mediapipe_says_what_to_install(clip, checkpoint, tmp_path, capsys):
    assert main(["video", str(clip), "--out", str(tmp_path / "o"), "--checkpoint",
                 str(checkpoint)]) == 2
    assert "needs mediapipe==0.10.21" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_MEDIAPIPE, reason="mediapipe==0.10.21 not installed (video extra)")
@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"sample video not found at {SAMPLE}")
def test_mediapipe_on_the_sample_video(checkpoint, tmp_path, capsys):
    assert main(["video", str(SAMPLE), "--out", str(tmp_path / "o"), "--checkpoint",
                 str(checkpoint), "--max-frames", "10"]) == 0
    text = capsys.readouterr().out
    assert "10 frames, 1080x1920 at 60 fps" in text
    assert "MediaPipe's own 3D (pose_world_landmarks, saved as poses_3d_mediapipe): P-MPJPE" in text
    assert "flip repair: swapped left/right in" in text
    with np.load(tmp_path / "o" / "poses_3d.npz", allow_pickle=False) as data:
        theirs = data["poses_3d_mediapipe"]
    assert theirs.shape == (10, 17, 3) and np.isfinite(theirs).all()
    np.testing.assert_allclose(theirs[:, 0], 0.0, atol=1e-6)  # root-relative
    assert 1.2 < np.linalg.norm(theirs[:, 10] - theirs[:, 3], axis=-1).mean() < 2.2  # metres
    with np.load(tmp_path / "o" / "keypoints_2d.npz", allow_pickle=False) as data:
        kp = data["keypoints"]
    assert kp.shape == (10, 33, 3)
    ok = kp[..., 2] > 0.5
    assert ok[:, [11, 12, 23, 24]].all()  # shoulders and hips seen in every frame
    # The person stands in the image: hips below shoulders, inside the frame.
    assert (kp[:, [23, 24], 1].mean(1) > kp[:, [11, 12], 1].mean(1)).all()
    assert ((kp[ok][:, 0] > 0) & (kp[ok][:, 0] < 1080)).all()


@pytest.mark.skipif(not HAS_MEDIAPIPE, reason="mediapipe==0.10.21 not installed (video extra)")
def test_full_video_command_on_the_sample_with_the_shipped_checkpoint(tmp_path, capsys):
    """The README's video demo: every frame has a person, and the lifted skeleton keeps its bone
    lengths (median over the 16 bones of each bone's standard deviation across frames < 2 cm)."""
    from conftest import require_path

    require_path(SAMPLE, "sample video")
    ckpt = next((p for p in SHIPPED if p.is_file()), None)
    assert ckpt is not None, f"no shipped checkpoint in {SHIPPED[0].parent}"
    out = tmp_path / "demo"
    assert main(["video", str(SAMPLE), "--out", str(out), "--checkpoint", str(ckpt)]) == 0
    text = capsys.readouterr().out
    assert "100 frames, 1080x1920 at 60 fps" in text and "frames/s" in text
    with np.load(out / "keypoints_2d.npz", allow_pickle=False) as data:
        kp = data["keypoints"]
    assert kp.shape == (100, 33, 3)
    assert (kp[..., 2].max(axis=1) > 0.5).all()  # a person in every frame
    with np.load(out / "poses_3d.npz", allow_pickle=False) as data:
        poses = data["poses_3d"]
    assert poses.shape == (100, 17, 3) and np.isfinite(poses).all()
    from skelgnn.skeleton import H36M17

    bones = np.stack([np.linalg.norm(poses[:, c] - poses[:, p], axis=-1)
                      for p, c in H36M17.bones()], 1)  # (F, 16) metres
    assert np.median(bones.std(axis=0)) < 0.02, bones.std(axis=0)
    assert (out / "side_by_side.mp4").stat().st_size > 0
    assert (out / "contact_sheet.png").stat().st_size > 0
    assert "viewer" in text and 0.6e6 < (out / "motion.html").stat().st_size < 4e6  # see skelgnn.video.viewer


def test_process_video_places_the_figure_and_exports(clip, checkpoint, tmp_path):
    """Trajectory + world frame in poses_3d.npz, and `skelgnn convert` of it (from video to motion)."""
    lifter = Lifter.from_checkpoint(checkpoint)
    result = process_video(clip, tmp_path / "out", lifter, detector=FakeBlazePose(),
                           render=False, focal=500.0, smooth=True, viewer=False)
    assert "viewer" not in result.files and not (tmp_path / "out" / "motion.html").exists()
    with np.load(result.files["poses_3d"], allow_pickle=False) as data:
        # (a random-weight checkpoint: shapes and plumbing, not a meaningful depth)
        assert data["trajectory"].shape == (FRAMES, 3) and np.isfinite(data["trajectory"]).all()
        world = data["poses_world"]
        assert world.shape == (FRAMES, 17, 3) and np.isfinite(world).all()
        lowest = world[:, [3, 6], 1].min(axis=1)  # contact ankle 8 cm above the floor y = 0
        assert np.quantile(lowest, 0.1) == pytest.approx(0.08, abs=1e-4)
        assert float(data["focal_px"]) == 500.0 and bool(data["smoothed"])
    for suffix in (".bvh", ".json", ".csv"):
        out = tmp_path / f"motion{suffix}"
        assert main(["convert", str(result.files["poses_3d"]), str(out)]) == 0
        assert out.stat().st_size > 0


class FakeBlazePoseWithWorld(FakeBlazePose):
    """:class:`FakeBlazePose` that also keeps 3D world landmarks, as MediaPipe's detector does."""

    def __init__(self) -> None:
        super().__init__()
        self.world: list = []
        rng = np.random.default_rng(1)
        self.base_world = rng.normal(0, 0.3, (33, 3))

    def __call__(self, frame: np.ndarray):
        kp = super().__call__(frame)
        self.world.append(None if kp is None else self.base_world.copy())
        return kp


def test_process_video_keeps_the_detectors_own_3d(clip, checkpoint, tmp_path):
    lifter = Lifter.from_checkpoint(checkpoint)
    result = process_video(clip, tmp_path / "out", lifter, detector=FakeBlazePoseWithWorld())
    with np.load(result.files["poses_3d"], allow_pickle=False) as data:
        theirs = data["poses_3d_mediapipe"]
        ours = data["poses_3d"]
    assert theirs.shape == ours.shape
    assert np.isnan(theirs[3]).all() and np.isfinite(np.delete(theirs, 3, axis=0)).all()
    assert result.mediapipe_frames == FRAMES - 1
    assert result.mediapipe_agreement is not None and result.mediapipe_agreement > 0
    assert "flip_swapped" in np.load(result.files["poses_3d"]).files
