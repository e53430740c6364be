"""Left/right flip repair: synthetic swaps injected into real sequences are found and undone."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.data import load_benchmark
from skelgnn.infer.flips import FLIP_GROUPS, FlipReport, detect_flips, repair_flips, swap_groups


def _with_scores(kp2d: np.ndarray) -> np.ndarray:
    return np.concatenate([kp2d, np.ones(kp2d.shape[:2] + (1,))], -1).astype(np.float64)


def _inject(f: int, rng: np.random.Generator, groups: str = "mixed") -> np.ndarray:
    """Runs of 3-11 swapped frames every 5-24 frames: legs, arms or the whole body."""
    truth = np.zeros((f, len(FLIP_GROUPS)), bool)
    t = 0
    while t < f:
        t += int(rng.integers(5, 25))
        n = int(rng.integers(3, 12))
        g = int(rng.integers(0, 3)) if groups == "mixed" else 2
        if g == 2:
            truth[t:t + n] = True
        else:
            truth[t:t + n, g] = True
        t += n
    return truth


@pytest.fixture(scope="module")
def records(mini_dir):
    return load_benchmark(mini_dir, "gt")


def test_swap_twice_is_the_identity_and_swaps_the_named_joints():
    kp = np.random.default_rng(0).normal(size=(4, 17, 3))
    sw = np.array([[True, False], [False, True], [True, True], [False, False]])
    once = swap_groups(kp, sw)
    np.testing.assert_array_equal(swap_groups(once, sw), kp)
    np.testing.assert_array_equal(once[0, 1], kp[0, 4])  # legs: RHip <- LHip
    np.testing.assert_array_equal(once[0, 11], kp[0, 11])  # arms untouched in frame 0
    np.testing.assert_array_equal(once[1, 16], kp[1, 13])  # arms: RWrist <- LWrist
    np.testing.assert_array_equal(once[3], kp[3])
    np.testing.assert_array_equal(once[:, [0, 7, 8, 9, 10]], kp[:, [0, 7, 8, 9, 10]])


def test_a_clean_sequence_keeps_its_labels(records):
    for rec in records[:4]:
        assert not detect_flips(_with_scores(rec.keypoints_2d)).any()


def test_injected_swaps_recall_and_precision(records):
    """Runs of swapped legs, arms or whole bodies in the mini fixture's real motion (walking,
    soccer; 4 cameras): the repair finds them per frame and group."""
    rng = np.random.default_rng(0)
    tp = fp = fn = 0
    for rec in records:
        kp = _with_scores(rec.keypoints_2d)
        truth = _inject(len(kp), rng)
        found = detect_flips(swap_groups(kp, truth))
        tp += int((found & truth).sum())
        fp += int((found & ~truth).sum())
        fn += int((~found & truth).sum())
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert recall >= 0.95, (precision, recall)
    assert precision >= 0.95, (precision, recall)


def test_repair_restores_the_detected_keypoints(records):
    rec = records[0]
    kp = _with_scores(rec.keypoints_2d)
    truth = _inject(len(kp), np.random.default_rng(1), groups="body")
    repaired, report = repair_flips(swap_groups(kp, truth))
    np.testing.assert_allclose(repaired, kp)
    assert isinstance(report, FlipReport)
    assert report.swapped_frames == int(truth.any(1).sum())
    assert f"{report.swapped_frames} of {len(kp)} frames" in report.summary()


def test_missing_joints_are_tolerated(records):
    """Swaps with joints missing (NaN, score 0) around them are still found."""
    rec = records[1]
    kp = _with_scores(rec.keypoints_2d)
    truth = np.zeros((len(kp), 2), bool)
    truth[30:40] = True
    bad = swap_groups(kp, truth)
    bad[29, 2, :2] = np.nan  # a knee lost just before the run
    bad[35, 13, 2] = 0.0  # a wrist scored 0 inside it
    np.testing.assert_array_equal(detect_flips(bad), truth)


@pytest.mark.usefixtures("seed_and_one_thread")
def test_three_d_consistency_with_a_lifter(records):
    """With the lifter's 3D facing as a second cue, whole-body swaps are found as well."""
    from pathlib import Path

    from skelgnn.infer.lifter import Lifter

    ckpt = Path(__file__).resolve().parents[2] / "checkpoints" / "skelgnn-1f-cmu-det.pt"
    lifter = Lifter.from_checkpoint(ckpt)
    rng = np.random.default_rng(2)
    tp = fp = fn = 0
    for rec in records[::6]:
        kp = _with_scores(rec.keypoints_2d)
        truth = _inject(len(kp), rng, groups="body")
        found = detect_flips(swap_groups(kp, truth), lift=lambda k: lifter._lift_filled(
            k, rec.image_size, 0.3, True))
        tp += int((found & truth).sum())
        fp += int((found & ~truth).sum())
        fn += int((~found & truth).sum())
    assert tp / (tp + fn) >= 0.95 and tp / (tp + fp) >= 0.95


def _arms_change_sides(jump_px: float, at: int = 40, frames: int = 60) -> np.ndarray:
    """A still 400 px person whose left and right arm joints, ``jump_px`` apart, change sides
    between frames ``at - 1`` and ``at`` (each moving 2 px beyond the other's old place): keeping
    the labels moves them ``jump_px + 2`` px, swapping them from there on only 2 px."""
    kp = np.zeros((frames, 17, 3))
    kp[..., 2] = 1.0
    kp[:, :, 1] = np.linspace(100, 500, 17)[None]  # distinct heights
    kp[:, :, 0] = 300.0
    kp[:, [1, 2, 3], 0], kp[:, [4, 5, 6], 0] = 270.0, 330.0  # legs apart and still
    for right, left in ((14, 11), (15, 12), (16, 13)):
        kp[:, left, 1] = kp[:, right, 1]
        kp[:at, right, 0], kp[:at, left, 0] = 300.0, 300.0 + jump_px
        kp[at:, right, 0], kp[at:, left, 0] = 302.0 + jump_px, 298.0
    return kp


def test_a_long_run_at_the_clip_end_needs_a_clear_jump():
    """One change of sides at frame 40 could be a swap from there to the end, or arms crossing;
    20 frames: kept only when the jump is a body's width (over EDGE_EVIDENCE), not a few cm."""
    from skelgnn.infer.flips import EDGE_EVIDENCE, SWITCH_COST

    weak = _arms_change_sides(24.0)  # saves 0.06 person heights: more than a switch costs
    assert SWITCH_COST < 24.0 / 400 < EDGE_EVIDENCE
    assert not detect_flips(weak)[:, 1].any()
    strong = _arms_change_sides(80.0)  # 0.2: a frontal swap
    found = detect_flips(strong)
    assert found[40:, 1].all() and not found[:40, 1].any() and not found[:, 0].any()


def test_a_swap_at_the_clip_start_is_still_repaired(records):
    """A run of swapped frames from the first frame, with the jump of a real swap at its end."""
    kp = _with_scores(records[0].keypoints_2d)
    truth = np.zeros((len(kp), 2), bool)
    truth[:8] = True  # the whole body, frames 0-7
    np.testing.assert_array_equal(detect_flips(swap_groups(kp, truth)), truth)
    truth[:] = False
    truth[-6:] = True  # and at the end
    np.testing.assert_array_equal(detect_flips(swap_groups(kp, truth)), truth)


def test_bad_shape():
    with pytest.raises(ValueError, match=r"expected Human3.6M-17 keypoints \(F, 17, 3\)"):
        detect_flips(np.zeros((5, 33, 3)))
