"""Memory of training: how much RAM the windowed dataset and a few training steps take.

    python benchmarks/memory.py                  # CMU benchmark + Human3.6M-sized synthetic set
    python benchmarks/memory.py --quick          # a 10x smaller synthetic set
    python benchmarks/memory.py --only synthetic --frames 100000

Each case runs in a fresh subprocess (so its peak RSS is its own) and does what
``skelgnn.train.loop._train`` (its ``_build_data`` step) does before and during its epochs:

1. builds the training :class:`~skelgnn.data.WindowDataset` from the records and drops the
   records, as the training loop does (``WindowDataset(load_benchmark(...), R, stride=...)``);
2. runs 50 training steps of the ``skelgnn-1f`` presets default recipe (batch 256, Adam, flip augmentation,
   the loop's own sample order), as 2 epochs of 25 steps so the per-epoch set-up runs twice.

Cases:

* ``cmu`` -- the full CMU benchmark (``load_benchmark`` on the data directory, ``det`` source,
  the ``train`` subjects of ``split.json``, every 2nd frame: ``data.frame_stride = 2``);
* ``synthetic`` -- a Human3.6M-sized training set generated in memory (random-walk poses seen by
  the four Human3.6M cameras of S1, 150 sequences per camera, 390 000 frames per camera by
  default, every frame a sample: 1.56 M samples); nothing is written to disk.

Figures (MiB = 2^20 bytes): RSS before building, after building (records dropped), after each
epoch; peak RSS (``ru_maxrss``) right after building and at the end; RSS after a final
``malloc_trim(0)`` (glibc keeps the pages of the dropped records unless asked; the figures before
it are what the training loop lives with); the dataset's array bytes
(inputs, targets, per-sample index arrays) so that RSS can be read as one copy of the data plus
the model / torch overhead; and two copy checks: the bytes one ``batch()`` call allocates
(``tracemalloc``; a batch, not the dataset) and whether the dataset's buffers are the same
objects after the steps (no per-epoch copy). Results go to ``benchmarks/results/memory.json``.
No figure is asserted on: memory depends on the allocator, the torch build and the machine.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PRESET = "skelgnn-1f"
H36M_FRAMES_PER_CAMERA = 390_000
"""Human3.6M's training subjects (S1, S5-S8) hold about 390 k frames per camera at 50 fps:
1.56 M samples over the four cameras when every frame is one."""
QUICK_FRAMES_PER_CAMERA = 39_000
MIB = 2.0 ** 20


# ---- measurements ------------------------------------------------------------------------------

def rss_bytes() -> int:
    """Current resident set size of this process (``VmRSS``), in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss_bytes()  # no /proc: the peak is the best we have


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (``ru_maxrss``: KiB on Linux, bytes on macOS).

    The kernel updates its high-water mark lazily, so it can trail the current ``VmRSS`` by a
    few pages; the larger of the two is returned."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = int(peak if sys.platform == "darwin" else peak * 1024)
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):  # the same high-water mark, read directly
                peak = max(peak, int(line.split()[1]) * 1024)
            elif line.startswith("VmRSS:"):
                peak = max(peak, int(line.split()[1]) * 1024)
    except OSError:
        pass
    return peak


def dataset_bytes(ds: Any) -> dict[str, int]:
    """Bytes of every array a :class:`WindowDataset` holds, by role."""
    import numpy as np

    index = sum(getattr(ds, name).nbytes for name in vars(ds)
                if isinstance(getattr(ds, name), np.ndarray)
                and name not in ("_inputs", "_targets"))
    out = {"inputs": int(ds._inputs.nbytes), "targets": int(ds._targets.nbytes),
           "index": int(index)}
    out["total"] = sum(out.values())
    return out


# ---- the records of each case ------------------------------------------------------------------

def synthetic_records(frames_per_camera: int, sequences: int = 150, seed: int = 0) -> list:
    """Human3.6M-like records: random-walk poses seen by the four Human3.6M S1 cameras.

    Each sequence is a person walking around the capture volume (a random walk of the root, kept
    inside a 4 m square) whose joints wobble around a fixed standing skeleton; the 2D is the
    projection through each camera, the 3D target the camera-frame pose minus its root, as
    :func:`skelgnn.data.load_benchmark` makes them.
    """
    import numpy as np

    from skelgnn.data import Sequence2D3D, h36m_cameras

    rng = np.random.default_rng(seed)
    cams = h36m_cameras()["S1"]
    # A standing skeleton (H36M17 order), metres, Z up; the hip at 0.9 m.
    template = np.array([
        [0, 0, 0.90], [-0.13, 0, 0.90], [-0.13, 0, 0.48], [-0.13, 0, 0.05], [0.13, 0, 0.90],
        [0.13, 0, 0.48], [0.13, 0, 0.05], [0, 0, 1.15], [0, 0, 1.40], [0, 0, 1.50],
        [0, 0, 1.62], [0.18, 0, 1.40], [0.45, 0, 1.40], [0.70, 0, 1.40], [-0.18, 0, 1.40],
        [-0.45, 0, 1.40], [-0.70, 0, 1.40]])  # (17, 3)
    lengths = np.full(sequences, frames_per_camera // sequences)
    lengths[: frames_per_camera % sequences] += 1
    records = []
    for s, f in enumerate(lengths):
        f = int(f)
        steps = rng.normal(scale=0.01, size=(f, 3)) * np.array([1.0, 1.0, 0.0])  # (F, 3)
        root = np.clip(np.cumsum(steps, axis=0), -2.0, 2.0)
        wobble = np.cumsum(rng.normal(scale=0.003, size=(f, 17, 3)), axis=0)
        wobble = 0.1 * np.tanh(wobble / 0.1)  # bounded joint motion
        world = template + root[:, None] + wobble  # (F, 17, 3)
        subject, action = f"S{1 + s % 5}", f"Synthetic {s:03d}"
        for c, cam in enumerate(cams):
            x_cam = cam.world_to_camera(world)  # (F, 17, 3)
            uv = cam.project(x_cam).astype(np.float32)  # (F, 17, 2)
            records.append(Sequence2D3D(
                subject=subject, action=action, camera=c, keypoints_2d=uv,
                poses_3d=(x_cam - x_cam[:, :1]).astype(np.float32),
                trajectory=x_cam[:, 0].astype(np.float32), image_size=cam.image_size,
                calibration=cam))
    return records


def cmu_records(data_dir: Optional[str], cfg: Any) -> tuple[list, list[str]]:
    """The training records exactly as ``skelgnn.train.loop._train`` loads them."""
    from skelgnn.data import load_benchmark, resolve_data_dir
    from skelgnn.train.loop import subjects_for

    root = resolve_data_dir(data_dir)
    train_subjects, _ = subjects_for(root / "split.json", cfg.data.split)
    return load_benchmark(root, cfg.data.source, subjects=train_subjects), train_subjects


# ---- one case ----------------------------------------------------------------------------------

def measure_case(case: str, frames: int = H36M_FRAMES_PER_CAMERA, steps: int = 50,
                 epochs: int = 2, batch_size: Optional[int] = None, threads: int = 1,
                 data_dir: Optional[str] = None) -> dict[str, Any]:
    """Build the training set of ``case`` and run ``steps`` training steps, in this process.

    Args:
        case: ``"cmu"`` or ``"synthetic"``.
        frames: frames per camera of the synthetic set.
        steps: training steps in all, split over ``epochs``.
        epochs: epochs the steps are spread over (each draws its sample order and flips).
        batch_size: default ``train.batch_size`` of the config (256).
        threads: ``torch.set_num_threads``.
        data_dir: CMU benchmark directory (default: ``--data`` rules of the package).
    """
    import numpy as np
    import torch

    from skelgnn.data.codec import PoseCodec
    from skelgnn.train.config import load_config
    from skelgnn.data import WindowDataset
    from skelgnn.models import build_model, count_parameters
    from skelgnn.skeleton import H36M17
    from skelgnn.train.batches import epoch_batches
    from skelgnn.train.loop import _loss, release_freed_memory

    if case not in ("cmu", "synthetic"):
        raise ValueError(f"unknown case {case!r}; expected 'cmu' or 'synthetic'")
    cfg = load_config(None, [f"model.preset={PRESET}", "data.split=test"])  # the benchmark's training set
    t_cfg = cfg.train
    batch = int(batch_size or t_cfg.batch_size)
    torch.set_num_threads(threads)
    torch.manual_seed(t_cfg.seed)
    model = build_model(cfg.model)
    r = model.receptive_field
    stride = cfg.data.frame_stride if case == "cmu" else 1
    codec = PoseCodec(mode=cfg.data.normalization)
    gc.collect()
    out: dict[str, Any] = {"case": case, "preset": cfg.preset, "receptive_field": r,
                           "stride": stride, "threads": threads, "batch_size": batch,
                           "parameters": count_parameters(model),
                           "rss_before_build_mib": rss_bytes() / MIB}

    t0 = time.perf_counter()
    if case == "cmu":
        records, subjects = cmu_records(data_dir, cfg)
        out["subjects"] = subjects
    else:
        records = synthetic_records(frames)
        out["frames_per_camera"] = frames
    out["records"] = len(records)
    out["record_bytes"] = int(sum(rec.keypoints_2d.nbytes + rec.poses_3d.nbytes
                                  + rec.trajectory.nbytes for rec in records))
    out["rss_records_mib"] = rss_bytes() / MIB
    train_set = WindowDataset(records, r, stride=stride, codec=codec)
    del records  # the training loop keeps only the dataset
    gc.collect()
    out["build_seconds"] = time.perf_counter() - t0
    out["samples"] = len(train_set)
    out["frames"] = int(train_set.target_offsets[-1])
    out["dataset_bytes"] = dataset_bytes(train_set)
    out["rss_after_build_mib"] = rss_bytes() / MIB
    out["peak_rss_after_build_mib"] = peak_rss_bytes() / MIB
    release_freed_memory()  # as the training loop does once the records are dropped
    out["rss_after_build_released_mib"] = rss_bytes() / MIB
    buffers = (train_set._inputs, train_set._targets)
    pointers = [a.__array_interface__["data"][0] for a in buffers]

    # One batch allocates a batch, not a copy of the dataset.
    idx = np.random.default_rng(0).integers(0, len(train_set), size=batch)
    tracemalloc.start()
    x, y = train_set.batch(idx)
    out["batch_alloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out["batch_bytes"] = int(x.numel() * x.element_size() + y.numel() * y.element_size())
    del x, y

    opt = torch.optim.Adam(model.parameters(), lr=t_cfg.lr, amsgrad=t_cfg.amsgrad,
                           weight_decay=t_cfg.weight_decay)
    per_epoch = max(1, math.ceil(steps / epochs))
    n_total = len(train_set)
    n_epoch = min(n_total, per_epoch * batch)  # as train.max_samples limits an epoch
    done, rss_epochs, epoch_alloc = 0, [], []
    t1 = time.perf_counter()
    for epoch in range(epochs):
        if done >= steps:
            break
        tracemalloc.start()
        rng = np.random.default_rng((t_cfg.seed, epoch))  # the training loop's epoch set-up
        order = rng.permutation(n_total)[:n_epoch]
        flips = torch.from_numpy(rng.random(n_epoch) < 0.5) if t_cfg.flip_augment else None
        epoch_alloc.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        model.train()
        # the training loop's batches: (B, R, J, 2), (B, J, 3), mirrored where flips says
        for _, _, x, y in epoch_batches(train_set, order, batch, skeleton=H36M17, flips=flips):
            if done >= steps:
                break
            loss = _loss(model(x).float(), y, t_cfg.loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if t_cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), t_cfg.grad_clip)
            opt.step()
            done += 1
        del order, flips
        rss_epochs.append(rss_bytes() / MIB)
    out["steps"] = done
    out["steps_seconds"] = time.perf_counter() - t1
    out["samples_per_s"] = done * batch / max(out["steps_seconds"], 1e-9)
    out["final_loss_mm"] = 1000 * float(loss.detach()) if done else float("nan")
    out["rss_after_epoch_mib"] = rss_epochs
    out["epoch_setup_alloc_bytes"] = epoch_alloc
    out["rss_after_steps_mib"] = rss_bytes() / MIB
    out["peak_rss_mib"] = peak_rss_bytes() / MIB
    gc.collect()
    out["trimmed"] = release_freed_memory()  # once more after the steps: what is really live
    out["rss_after_trim_mib"] = rss_bytes() / MIB
    out["freed_but_held_mib"] = out["rss_after_steps_mib"] - out["rss_after_trim_mib"]
    out["buffers_unchanged"] = bool(
        train_set._inputs is buffers[0] and train_set._targets is buffers[1]
        and [a.__array_interface__["data"][0] for a in buffers] == pointers
        and all(a.base is None for a in buffers))
    data = out["dataset_bytes"]["total"] / MIB
    out["build_growth_mib"] = out["rss_after_build_mib"] - out["rss_before_build_mib"]
    out["build_growth_over_dataset"] = out["build_growth_mib"] / data if data else float("nan")
    out["steps_growth_mib"] = out["rss_after_steps_mib"] - out["rss_after_build_mib"]
    return out


# ---- driver ------------------------------------------------------------------------------------

def run(cases: Sequence[str] = ("cmu", "synthetic"), frames: int = H36M_FRAMES_PER_CAMERA,
        steps: int = 50, epochs: int = 2, batch_size: Optional[int] = None, threads: int = 1,
        data_dir: Optional[str] = None, out: Optional[Path] = RESULTS / "memory.json",
        command: str = "") -> dict[str, Any]:
    """Measure each case in its own subprocess; write ``out`` (JSON) unless it is None."""
    from skelgnn.evaluate.speed import machine_info

    rows = {}
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    for case in cases:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", case, "--frames",
               str(frames), "--steps", str(steps), "--epochs", str(epochs), "--threads",
               str(threads)]
        if batch_size:
            cmd += ["--batch-size", str(batch_size)]
        if data_dir:
            cmd += ["--data", str(data_dir)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        if res.returncode != 0:
            raise RuntimeError(f"memory case {case!r} failed:\n{res.stderr.strip()[-3000:]}")
        rows[case] = json.loads(res.stdout.strip().splitlines()[-1])
    result = {"machine": machine_info(), "date": time.strftime("%Y-%m-%d"),
              "command": command, "steps": steps, "epochs": epochs, "threads": threads,
              "config": f"--set model.preset={PRESET}", "cases": rows}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def format_result(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`run`'s result."""
    lines = [f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
             f"{result['date']}; {result['config']}", "",
             f"{'case':10s} {'samples':>10s} {'frames':>10s} {'dataset MiB':>12s} "
             f"{'RSS pre':>8s} {'RSS built':>9s} {'peak build':>10s} {'RSS steps':>9s} "
             f"{'peak':>7s} {'RSS trim':>8s} {'growth/data':>11s} {'batch KiB':>9s} "
             f"{'one copy':>8s}"]
    for case, r in result["cases"].items():
        lines.append(
            f"{case:10s} {r['samples']:10d} {r['frames']:10d} "
            f"{r['dataset_bytes']['total'] / MIB:12.1f} {r['rss_before_build_mib']:8.0f} "
            f"{r['rss_after_build_mib']:9.0f} {r['peak_rss_after_build_mib']:10.0f} "
            f"{r['rss_after_steps_mib']:9.0f} {r['peak_rss_mib']:7.0f} "
            f"{r['rss_after_trim_mib']:8.0f} "
            f"{r['build_growth_over_dataset']:11.2f} {r['batch_alloc_peak_bytes'] / 1024:9.0f} "
            f"{'yes' if r['buffers_unchanged'] else 'NO':>8s}")
    lines += ["", "RSS in MiB: before building the dataset, after building it (records dropped), "
              "after the steps; peak = ru_maxrss right after building and at the end; RSS trim = "
              "after the steps and malloc_trim(0) (what is live once glibc returns the records' "
              "freed pages). growth/data = (RSS built - RSS pre) / dataset bytes (1.0 = one copy). "
              "batch KiB = bytes one batch() call allocates. one copy = the dataset's buffers are "
              "the same arrays after every epoch."]
    for case, r in result["cases"].items():
        d = r["dataset_bytes"]
        lines.append(f"{case}: inputs {d['inputs'] / MIB:.1f} MiB, targets {d['targets'] / MIB:.1f} "
                     f"MiB, index {d['index'] / MIB:.1f} MiB; records {r['record_bytes'] / MIB:.1f} "
                     f"MiB (freed after the build); {r['steps']} steps in "
                     f"{r['steps_seconds']:.1f} s; RSS after each epoch "
                     f"{', '.join(f'{v:.0f}' for v in r['rss_after_epoch_mib'])} MiB")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("cmu", "synthetic"), action="append",
                    help="run only this case (repeatable)")
    ap.add_argument("--quick", action="store_true",
                    help=f"a smaller synthetic set ({QUICK_FRAMES_PER_CAMERA} frames per camera)")
    ap.add_argument("--frames", type=int, default=None,
                    help=f"synthetic frames per camera (default {H36M_FRAMES_PER_CAMERA})")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default=None, help="CMU benchmark directory")
    ap.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    ap.add_argument("--one", choices=("cmu", "synthetic"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    frames = args.frames or (QUICK_FRAMES_PER_CAMERA if args.quick else H36M_FRAMES_PER_CAMERA)
    if args.one:  # child process: one case, one JSON line on stdout
        print(json.dumps(measure_case(args.one, frames, args.steps, args.epochs, args.batch_size,
                                      args.threads, args.data)))
        return 0
    command = " ".join(["python", "benchmarks/memory.py", *(sys.argv[1:] if argv is None else argv)])
    result = run(args.only or ("cmu", "synthetic"), frames, args.steps, args.epochs,
                 args.batch_size, args.threads, args.data, args.out, command)
    print(format_result(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
