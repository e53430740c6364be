"""Inputs that used to give a quietly wrong result now say so: evaluate's data directory and a
model/data skeleton mismatch, swapped width and height, a person on its side or upside down (a
turned video, x and y swapped, y up), Human3.6M-order keypoints declared COCO."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from conftest import tiny_checkpoint
from skelgnn.cli import main
from skelgnn.infer.keypoints import KeypointSequence
from skelgnn.infer.lifter import Lifter
from skelgnn.infer.plausibility import keypoints_image_warnings, orientation_warnings, quarter_turns

# An upright person facing the camera, Human3.6M order, pixels (y down), in a 1000 x 1000 image.
UPRIGHT = np.array([
    [500, 500], [480, 500], [480, 600], [480, 700], [520, 500], [520, 600], [520, 700],
    [500, 430], [500, 360], [500, 330], [500, 300], [540, 360], [560, 420], [570, 480],
    [460, 360], [440, 420], [430, 480]], dtype=np.float64)


def clip(pose: np.ndarray = UPRIGHT, frames: int = 30) -> np.ndarray:
    """``frames`` frames of ``pose`` with a little jitter, (F, 17, 2)."""
    rng = np.random.default_rng(0)
    return pose[None] + rng.normal(0.0, 2.0, (frames,) + pose.shape)


def turned_clockwise(uv: np.ndarray, height: float) -> np.ndarray:
    """The keypoints of a picture of height ``height`` turned 90 degrees clockwise
    (ffmpeg transpose=1): (x, y) -> (height - y, x)."""
    return np.stack([height - uv[..., 1], uv[..., 0]], axis=-1)


def plausibility_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# ---- width and height --------------------------------------------------------------------------

def test_swapped_width_and_height_are_named():
    # a landscape 1920 x 1080 clip's keypoints, declared as 1080 x 1920 (portrait)
    uv = clip(UPRIGHT * np.array([1.0, 0.9]) + np.array([900.0, 0.0]))  # x up to ~1470
    messages = keypoints_image_warnings(uv, (1080, 1920))
    assert len(messages) == 1 and "width and height look swapped" in messages[0]
    assert "probably 1920 1080" in messages[0]
    assert keypoints_image_warnings(uv, (1920, 1080)) == []


def test_lifter_warns_about_swapped_size(tmp_path, caplog):
    lifter = Lifter.from_checkpoint(tiny_checkpoint(tmp_path / "tiny.pt"))
    uv = clip(UPRIGHT * np.array([1.0, 0.9]) + np.array([900.0, 0.0]))
    caplog.set_level(logging.WARNING)
    lifter.predict(uv, image_size=(1080, 1920))
    assert any("width and height look swapped" in m for m in plausibility_warnings(caplog))
    caplog.clear()
    lifter.predict(uv, image_size=(1920, 1080))
    assert plausibility_warnings(caplog) == []


# ---- orientation -------------------------------------------------------------------------------

def test_upright_person_gives_no_orientation_warning():
    assert quarter_turns(clip()) == 0 and orientation_warnings(clip()) == []


def test_turned_video_is_detected_from_the_pose():
    turned = turned_clockwise(clip(), height=1000.0)
    assert quarter_turns(turned) == 1
    (message,) = orientation_warnings(turned)
    assert "lies on its side, head to the right" in message and "--rotate 90" in message
    assert quarter_turns(turned_clockwise(turned_clockwise(turned_clockwise(clip(), 1000.0),
                                                           1000.0), 1000.0)) == 3


def test_x_y_swap_and_y_up_are_warned_about():
    swapped = clip()[..., ::-1]  # x and y exchanged
    assert any("on its side" in m and "x and y are swapped" in m for m in orientation_warnings(swapped))
    y_up = clip() * np.array([1.0, -1.0]) + np.array([0.0, 1000.0])  # y pointing up
    (message,) = orientation_warnings(y_up)
    assert "upside down" in message and "y axis" in message


def test_lying_down_for_a_moment_is_not_a_turned_video():
    frames = clip(frames=30)
    frames[:8] = turned_clockwise(frames[:8], 1000.0)  # a quarter of the clip lying down
    assert quarter_turns(frames) == 0


def test_turn_upright_undoes_a_clockwise_turn():
    from skelgnn.video.pipeline import turn_upright

    uv = clip()
    kp = np.concatenate([turned_clockwise(uv, 800.0), np.full(uv.shape[:2] + (1,), 0.9)], -1)
    seq = KeypointSequence(kp, np.arange(len(kp)), "h36m17", 30.0, (800.0, 1000.0), "x.mp4")
    # the turned picture is 800 wide (the upright one's height) and 1000 high
    back = turn_upright(seq, 1)
    assert back.image_size == (1000.0, 800.0)
    np.testing.assert_allclose(back.keypoints[..., :2], uv, atol=1e-9)
    np.testing.assert_array_equal(back.keypoints[..., 2], kp[..., 2])
    assert turn_upright(seq, 0) is seq


# ---- layout ------------------------------------------------------------------------------------

def test_h36m_order_declared_coco17_is_warned_about(tmp_path, caplog):
    lifter = Lifter.from_checkpoint(tiny_checkpoint(tmp_path / "tiny.pt"))
    caplog.set_level(logging.WARNING)
    lifter.predict(clip(), image_size=(1000, 1000), layout="coco17")
    assert any("probably in Human3.6M order" in m and "--layout h36m17" in m
               for m in plausibility_warnings(caplog))
    caplog.clear()
    coco = np.array([  # the same person in COCO order: a compact face cluster
        [500, 330], [505, 322], [495, 322], [510, 328], [490, 328], [540, 360], [460, 360],
        [560, 420], [440, 420], [570, 480], [430, 480], [520, 500], [480, 500], [520, 600],
        [480, 600], [520, 700], [480, 700]], dtype=np.float64)
    lifter.predict(clip(coco), image_size=(1000, 1000), layout="coco17")
    assert plausibility_warnings(caplog) == []


# ---- evaluate ----------------------------------------------------------------------------------

def test_evaluate_names_and_records_its_data_directory(mini_dir, tmp_path, capsys):
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(mini_dir),
                 "--max-samples", "50", "--no-tta", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"evaluating {checkpoint} on {mini_dir.resolve()}\n")
    assert f"data {mini_dir.resolve()}  subjects S08" in printed
    result = json.loads(out.read_text())
    assert result["data_dir"] == str(mini_dir.resolve()) and result["subjects"] == ["S08"]


def test_evaluate_refuses_a_model_of_another_skeleton(tmp_path, capsys):
    from test_any_skeleton import _toy_benchmark

    data = _toy_benchmark(tmp_path)  # a 4-joint benchmark
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")  # a 17-joint model
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert "17-joint model" in err[0] and "(4 joints; different joints)" in err[0]


@pytest.mark.parametrize("rotate", ["45", "-90"])
def test_video_rotate_takes_quarter_turns_only(rotate, capsys):
    with pytest.raises(SystemExit):
        main(["video", "clip.mp4", "--out", "out", "--rotate", rotate])
    assert "--rotate" in capsys.readouterr().err


def _blazepose(h36m: np.ndarray) -> np.ndarray:
    """A (33, 3) BlazePose person whose Human3.6M conversion is ``h36m`` (17, 2) (eyes and the
    other face landmarks around the head, hands and feet on the wrists and ankles)."""
    from skelgnn.infer.layouts import BLAZEPOSE33_NAMES

    at = {"nose": h36m[9], "left_eye": h36m[10] + [2, 0], "right_eye": h36m[10] - [2, 0],
          "left_shoulder": h36m[11], "right_shoulder": h36m[14], "left_elbow": h36m[12],
          "right_elbow": h36m[15], "left_wrist": h36m[13], "right_wrist": h36m[16],
          "left_hip": h36m[4], "right_hip": h36m[1], "left_knee": h36m[5], "right_knee": h36m[2],
          "left_ankle": h36m[6], "right_ankle": h36m[3]}
    out = np.empty((33, 3))
    for i, name in enumerate(BLAZEPOSE33_NAMES):
        side = "left" if name.startswith("left") else "right"
        near = (at.get(name) if name in at else h36m[10] if "eye" in name or "ear" in name
                or "mouth" in name else at[f"{side}_wrist"] if any(k in name for k in (
                    "pinky", "index", "thumb")) and "foot" not in name else at[f"{side}_ankle"])
        out[i] = [near[0], near[1], 0.9]
    return out


def test_video_rotate_auto_lifts_a_turned_clip_like_the_upright_one(tmp_path, caplog):
    """A clip turned 90 degrees clockwise: `rotate="auto"` finds it from the detected person,
    turns it upright and lifts what the upright clip gives; the render keeps the upright size."""
    iio2 = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    from skelgnn.video.pipeline import process_video

    w, h, frames = 64, 128, 6
    upright = (clip(frames=frames) - [400.0, 250.0]) * 0.25  # inside a 64 x 128 picture
    turned = turned_clockwise(upright, height=float(h))  # inside a 128 x 64 picture

    def video(path, size) -> None:
        writer = iio2.get_writer(str(path), format="FFMPEG", fps=10, codec="libx264",
                                 macro_block_size=2, ffmpeg_log_level="error")
        for _ in range(frames):
            writer.append_data(np.full((size[1], size[0], 3), 90, np.uint8))
        writer.close()

    class Detector:
        def __init__(self, people: np.ndarray) -> None:
            self.people, self.i = people, 0

        def __call__(self, frame: np.ndarray) -> np.ndarray:
            self.i += 1
            return _blazepose(self.people[self.i - 1])

    video(tmp_path / "upright.mp4", (w, h))
    video(tmp_path / "turned.mp4", (h, w))
    lifter = Lifter.from_checkpoint(tiny_checkpoint(tmp_path / "tiny.pt"))
    straight = process_video(tmp_path / "upright.mp4", tmp_path / "a", lifter,
                             detector=Detector(upright), render=False)
    caplog.set_level(logging.WARNING)
    fixed = process_video(tmp_path / "turned.mp4", tmp_path / "b", lifter,
                          detector=Detector(turned), rotate="auto")
    assert any("turned by 90 degrees clockwise" in m for m in plausibility_warnings(caplog))
    assert fixed.keypoints.image_size == (w, h)
    np.testing.assert_allclose(fixed.prediction.poses_3d, straight.prediction.poses_3d, atol=1e-4)
    reader = iio2.get_reader(str(fixed.files["video"]), format="FFMPEG")
    try:
        assert reader.get_data(0).shape[:2] == (h, w + h)  # the upright picture | the 3D panel
    finally:
        reader.close()
    as_is = process_video(tmp_path / "turned.mp4", tmp_path / "c", lifter,
                          detector=Detector(turned), render=False, rotate=0)
    assert as_is.keypoints.image_size == (h, w)
    # the tiny untrained model's poses are millimetres across: lifted sideways they differ by
    # more than ten times the tolerance the turned-upright lift met
    assert np.abs(as_is.prediction.poses_3d - straight.prediction.poses_3d).max() > 1e-3


def test_rotation_metadata_is_applied_when_decoding(tmp_path):
    """A phone clip stored landscape with a 90-degree display rotation: ffmpeg turns its frames
    when decoding, and read_video_info reports the turned size, so nothing downstream sees it
    sideways."""
    import subprocess

    iio2 = pytest.importorskip("imageio.v2")
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    from skelgnn.video.pipeline import iter_frames, read_video_info

    plain = tmp_path / "plain.mp4"
    writer = iio2.get_writer(str(plain), format="FFMPEG", fps=10, codec="libx264",
                             macro_block_size=2, ffmpeg_log_level="error")
    for _ in range(3):
        frame = np.zeros((64, 128, 3), np.uint8)
        frame[:, :32] = 255  # a bright left edge: the top once turned clockwise for display
        writer.append_data(frame)
    writer.close()
    tagged = tmp_path / "tagged.mp4"
    done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y",
                           "-display_rotation", "-90", "-i", str(plain), "-c", "copy", str(tagged)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"this ffmpeg cannot tag a display rotation: {done.stderr.decode()[:200]}")
    assert read_video_info(plain).size == (128, 64)
    assert read_video_info(tagged).size == (64, 128)  # portrait, as the phone showed it
    first = next(iter_frames(tagged))
    assert first.shape == (128, 64, 3)
    assert first[:24].mean() > 200 and first[-24:].mean() < 50  # the bright edge is on top
