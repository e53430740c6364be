"""Train the learnt camera up direction (:mod:`skelgnn.motion.gravity`) and ship its weights.

    python benchmarks/train_up.py                       # writes src/skelgnn/resources/up_regressor.npz
    python benchmarks/train_up.py --cache /tmp/up.npz   # keep the lifted training set for reruns

Data: every sequence of the CMU ``train`` subjects except the ``val`` subject, seen through
``--cameras`` cameras each of :class:`skelgnn.data.cameras.CameraSampler` (every device kind,
telephoto included; raised and lowered; rolls ~ N(0, ``--roll-std``) clipped to ``--roll-max``
degrees, as a phone held askew is rolled; camera heights up to
``--max-height`` m, as raised footage cameras sit) with 2D noise alternately the training
augmentation's :class:`skelgnn.data.detnoise.DetectorNoise` and the benchmark's synthetic
detector scaled to the person (as :mod:`skelgnn.evaluate.cross_camera` uses it), lifted by the default checkpoint
exactly as ``skelgnn infer`` lifts (``Lifter.predict_full``, reframed) and placed by
:func:`skelgnn.motion.trajectory.estimate_trajectory` with the default intrinsics, so the regressor sees
what it will see at inference. Targets: the virtual cameras' exact world up ``R^T e_z`` in camera
coordinates. Every ``--step``-th frame is kept; a left/right mirror of every sample doubles the set.
``--low-cameras N`` adds N cameras a sequence 0.2-1 m high, looking level to 20 degrees up (a phone
on a table); with ``--cameras 0`` it builds only those, to join with another cached set in
``benchmarks/up_candidates.py`` (it then needs ``--out``). The shipped weights do not use it
(docs/DESIGN.md, "World frame").

Choice: the epoch count, width and the clip robustness are chosen on the ``val`` subject (its own
cameras, another seed), never on test; the roll range (5 / 15 degrees against 3 / 8 and 8 / 20)
with the levelling threshold by ``benchmarks/level.py`` on ``val``. Prints the val figures (mean /
median up error of the old torso method and the regressor, per clip and per frame) and writes the weights and
``benchmarks/results/train_up.json``. One torch thread, a few minutes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "cmu"
WEIGHTS = REPO / "src" / "skelgnn" / "resources" / "up_regressor.npz"

# cameras near the floor or a table top looking level or up (``--low-cameras``)
LOW_HEIGHT = (0.2, 1.0)
LOW_ELEVATION = (-20.0, 10.0)
# H36M-17 left/right swap (mirror augmentation)
_SWAP = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]


def camera_up(camera) -> np.ndarray:  # noqa: ANN001 - skelgnn.geometry.Camera
    """World up (+Z) in the camera's coordinates, ``(3,)``."""
    o = camera.world_to_camera(np.zeros((1, 3)))[0]
    z = camera.world_to_camera(np.array([[0.0, 0.0, 1.0]]))[0]
    return (z - o) / np.linalg.norm(z - o)


def lift_clip(lifter, uv: np.ndarray, image_size) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Root-relative poses ``(F, 17, 3)`` and camera-frame roots ``(F, 3)`` as ``skelgnn infer``
    produces them (reframed lift, default intrinsics)."""
    from skelgnn.motion.pipeline import MIN_WEIGHT
    from skelgnn.motion.trajectory import estimate_trajectory

    pred = lifter.predict_full(uv, image_size, "h36m17", reframe=True)
    w = np.clip(np.nan_to_num(pred.scores.astype(np.float64)), MIN_WEIGHT, None)
    roots = estimate_trajectory(pred.poses_3d, pred.keypoints_2d, image_size, weights=w)
    return pred.poses_3d.astype(np.float64), roots


def build_set(lifter, subjects, cameras: int, seed: int, step: int, max_height: float,
              tag: str, roll: tuple[float, float] = (3.0, 8.0),
              low_cameras: int = 0) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Features, targets, torso directions and clip ids of ``subjects`` (see the docstring)."""
    from skelgnn.data.cameras import DEVICE_KINDS, CameraSampler
    from skelgnn.data.detnoise import DetectorNoise
    from skelgnn.data.readers import read_positions_3d
    from skelgnn.data.virtual import sequence_rng, view_record
    from skelgnn.motion.gravity import up_features

    p3 = read_positions_3d(DATA / "data_3d_cmu.npz")
    from skelgnn.evaluate.cross_camera import _benchmark_noise

    sampler = CameraSampler(kinds=tuple(DEVICE_KINDS), height=(0.3, max_height),
                            roll_std=roll[0], roll_max=roll[1])
    low = CameraSampler(kinds=tuple(DEVICE_KINDS), height=LOW_HEIGHT, elevation=LOW_ELEVATION,
                        roll_std=roll[0], roll_max=roll[1])
    feats, targets, torso, clip = [], [], [], []
    n_clip = 0
    for subject in sorted(subjects):
        for action in sorted(p3[subject]):
            world = np.asarray(p3[subject][action], dtype=np.float64)
            rng = sequence_rng(seed, subject, action, tag)
            views = sampler.sample_many(world, cameras, rng)
            if low_cameras:
                views += low.sample_many(world, low_cameras, sequence_rng(seed, subject, action, tag + "-low"), "low")
            for i, (cam, _) in enumerate(views):
                if i % 2 == 0:  # the training augmentation's detector noise
                    rec = view_record(subject, action, 0, world, cam, DetectorNoise(), rng)
                else:  # the benchmark's synthetic detector, scaled to the person
                    rec = view_record(subject, action, 0, world, cam)
                    rec = dataclasses.replace(rec, keypoints_2d=np.asarray(
                        _benchmark_noise(rec.keypoints_2d, rng), np.float32))
                poses, roots = lift_clip(lifter, rec.keypoints_2d, rec.image_size)
                keep = slice(None, None, step)
                f = up_features(poses[keep], roots[keep])
                feats.append(f)
                targets.append(np.repeat(camera_up(cam)[None], len(f), 0))
                t = poses[keep, 8] - poses[keep, 0]
                torso.append(t / np.linalg.norm(t, axis=-1, keepdims=True))
                clip.append(np.full(len(f), n_clip))
                n_clip += 1
    return {"x": np.concatenate(feats).astype(np.float32), "y": np.concatenate(targets).astype(np.float32),
            "torso": np.concatenate(torso), "clip": np.concatenate(clip)}


def mirror(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The left/right mirror of feature rows and targets (camera X negated, sides swapped)."""
    pose = np.concatenate([np.zeros((len(x), 1, 3), x.dtype), x[:, :48].reshape(-1, 16, 3)], 1)
    pose = pose[:, _SWAP] * np.array([-1.0, 1.0, 1.0], dtype=x.dtype)
    ray = x[:, 48:] * np.array([-1.0, 1.0, 1.0], dtype=x.dtype)
    return (np.concatenate([pose[:, 1:].reshape(len(x), -1), ray], 1),
            y * np.array([-1.0, 1.0, 1.0], dtype=y.dtype))


def clip_errors(up: np.ndarray, target: np.ndarray, clip: np.ndarray,
                weights: np.ndarray | None = None) -> np.ndarray:
    """Per-clip up error (degrees) of :func:`skelgnn.motion.gravity.clip_up` over each clip's frames."""
    from skelgnn.motion.gravity import angle_deg, clip_up

    w = np.ones(len(up)) if weights is None else weights
    return np.array([float(angle_deg(clip_up(up[clip == c], w[clip == c]), target[clip == c][0]))
                     for c in np.unique(clip)])


def train(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, seed: int, lr: float = 2e-3,
          dropout: float = 0.0, weight_decay: float = 1e-5, loss_kind: str = "cos", val=None,
          log=print):  # noqa: ANN001
    """An :class:`skelgnn.motion.gravity.UpRegressor` fitted with Adam on ``1 - cos``."""
    import torch

    from skelgnn.motion.gravity import UpRegressor

    torch.manual_seed(seed)
    mean = x.mean(0)
    std = x.std(0) + 1e-3
    xt = torch.from_numpy((x - mean) / std).float()
    yt = torch.from_numpy(y).float()
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
                              torch.nn.Dropout(dropout),
                              torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                              torch.nn.Dropout(dropout),
                              torch.nn.Linear(hidden, 3))
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    gen = torch.Generator().manual_seed(seed)
    history = []

    def export() -> UpRegressor:
        lin = [m for m in net if isinstance(m, torch.nn.Linear)]
        return UpRegressor(mean=mean.astype(np.float64), std=std.astype(np.float64),
                           weights=tuple(m.weight.detach().numpy().T.astype(np.float64) for m in lin),
                           biases=tuple(m.bias.detach().numpy().astype(np.float64) for m in lin),
                           confidence=loss_kind == "vmf")

    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), 512):
            idx = order[i:i + 512]
            raw = net(xt[idx])
            if loss_kind == "vmf":  # von Mises-Fisher: direction raw/|raw|, concentration |raw|
                kappa = raw.norm(dim=-1).clamp_min(1e-3)
                log_sinh = kappa + torch.log1p(-torch.exp(-2.0 * kappa) + 1e-12) - math.log(2.0)
                loss = (log_sinh - torch.log(kappa) - (raw * yt[idx]).sum(-1)).mean()
            else:
                out = torch.nn.functional.normalize(raw, dim=-1)
                loss = (1.0 - (out * yt[idx]).sum(-1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        row = {"epoch": epoch + 1, "train_loss": total / len(xt)}
        net.eval()
        if val is not None:
            reg = export()
            up, conf = reg.predict_with_confidence(val["x"])
            row["val_clip_deg"] = float(clip_errors(up, val["y"], val["clip"], conf).mean())
            from skelgnn.motion.gravity import angle_deg
            row["val_frame_deg"] = float(angle_deg(up, val["y"]).mean())
        history.append(row)
        log(json.dumps(row))
    return export(), history


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=8, help="cameras per training sequence")
    ap.add_argument("--low-cameras", type=int, default=0,
                    help="extra cameras per training sequence placed 0.2-1 m high, looking up to 20 degrees up")
    ap.add_argument("--step", type=int, default=2, help="keep every STEP-th frame")
    ap.add_argument("--max-height", type=float, default=3.5)
    ap.add_argument("--roll-std", type=float, default=5.0,
                    help="camera roll ~ N(0, STD) degrees, clipped to --roll-max")
    ap.add_argument("--roll-max", type=float, default=15.0)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--loss", default="vmf", choices=("cos", "vmf"),
                    help="1 - cos, or the von Mises-Fisher likelihood (a confidence per frame)")
    ap.add_argument("--weight-decay", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=27)
    ap.add_argument("--cache", default=None, help="npz to keep / reuse the lifted sets")
    ap.add_argument("--out", default=str(WEIGHTS))
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "train_up.json"))
    args = ap.parse_args(argv)
    if args.cameras == 0 and Path(args.out) == WEIGHTS:
        ap.error("--cameras 0 builds a set to join with another (benchmarks/up_candidates.py), not weights "
                 "to ship: give --out")
    import torch

    from skelgnn.data.benchmark import read_split
    from skelgnn.fileio import atomic_open, atomic_write_text
    from skelgnn.motion.gravity import angle_deg
    from skelgnn.infer.lifter import Lifter, default_checkpoint

    torch.set_num_threads(1)
    split = read_split(DATA / "split.json")
    val_subjects = list(split["val"])
    train_subjects = [s for s in split["train"] if s not in val_subjects]
    t0 = time.perf_counter()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.is_file():
        with np.load(cache) as d:
            sets = {k: {n: d[f"{k}_{n}"] for n in ("x", "y", "torso", "clip")} for k in ("train", "val")}
    else:
        lifter = Lifter.from_checkpoint(default_checkpoint())
        sets = {"train": build_set(lifter, train_subjects, args.cameras, args.seed, args.step,
                                   args.max_height, "up-train", (args.roll_std, args.roll_max),
                                   args.low_cameras),
                "val": build_set(lifter, val_subjects, 2, args.seed + 1, args.step,
                                 args.max_height, "up-val", (args.roll_std, args.roll_max))}
        if cache is not None:
            with atomic_open(cache) as fh:
                np.savez(fh, **{f"{k}_{n}": v for k, s in sets.items() for n, v in s.items()})
    print(f"lifted sets in {time.perf_counter() - t0:.0f} s: train {len(sets['train']['x'])} frames, "
          f"val {len(sets['val']['x'])} frames ({len(np.unique(sets['val']['clip']))} clips)", flush=True)
    xm, ym = mirror(sets["train"]["x"], sets["train"]["y"])
    x = np.concatenate([sets["train"]["x"], xm])
    y = np.concatenate([sets["train"]["y"], ym])
    t1 = time.perf_counter()
    reg, history = train(x, y, args.hidden, args.epochs, args.seed, dropout=args.dropout,
                         weight_decay=args.weight_decay, loss_kind=args.loss, val=sets["val"])
    val = sets["val"]
    up, conf = reg.predict_with_confidence(val["x"])
    res = {
        "train_subjects": train_subjects, "val_subjects": val_subjects,
        "train_frames": int(len(x)), "val_frames": int(len(val["x"])),
        "val_clips": int(len(np.unique(val["clip"]))),
        "settings": {k: getattr(args, k) for k in ("cameras", "step", "max_height", "roll_std", "roll_max",
                                                   "hidden", "epochs",
                                                   "dropout", "loss", "weight_decay", "seed")},
        "val_up_error_deg": {
            "torso_clip_mean": float(clip_errors(val["torso"], val["y"], val["clip"]).mean()),
            "torso_frame_mean": float(angle_deg(val["torso"], val["y"]).mean()),
            "learnt_clip_mean": float(clip_errors(up, val["y"], val["clip"], conf).mean()),
            "learnt_clip_median": float(np.median(clip_errors(up, val["y"], val["clip"], conf))),
            "learnt_frame_mean": float(angle_deg(up, val["y"]).mean())},
        "history": history, "train_seconds": round(time.perf_counter() - t1, 1)}
    print(json.dumps(res["val_up_error_deg"], indent=2))
    with atomic_open(args.out) as fh:
        np.savez(fh, **reg.arrays())
    atomic_write_text(args.results, json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.out} and {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
