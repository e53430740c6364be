"""Speed benchmark of the presets on the CPU (``skelgnn bench``).

For each preset, in a fresh subprocess (so peak memory is its own): parameters, MACs per output
frame (``torch.utils.flop_counter``), inference frames/s at batch 1 and batch 1024 (forward only,
eval mode, no grad, median of repeated timed runs after warm-up), the MACs/s that achieves,
training samples/s (forward, backward, Adam step) and peak resident memory. Temporal presets also
report sequence-mode frames/s on a 1000-frame clip. With a video (:func:`bench_video`, also in its
own subprocess) the frames/s of each stage of ``skelgnn video``: decoding, 2D detection
(MediaPipe BlazePose), lifting, rendering.

Absolute times depend on the machine and its load; compare presets as ratios measured in one run
(the JSON records the ratios the project tracks).
"""
from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from skelgnn.tables import format_table

__all__ = ["DEFAULT_PRESETS", "bench_preset", "bench_video", "run_bench", "format_bench",
           "machine_info"]

DEFAULT_PRESETS = ("skelgnn-1f", "fcn-1f", "semgcn-1f", "tcn-1f", "skelgnn-27f", "tcn-27f")


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""``wall``: elapsed time (the default); ``cpu``: CPU time of the process, the honest figure with
one thread on a loaded machine, where elapsed time mostly measures the wait for a core."""

_clock: Callable[[], float] = time.perf_counter


def _median_time(fn: Callable[[], Any], repeats: int, min_time: float = 0.0) -> float:
    """Median seconds of ``fn`` over ``repeats`` timed runs (after two warm-up runs), on the
    clock :func:`bench_preset` selected."""
    fn()
    fn()
    times: list[float] = []
    t_start = _clock()
    while len(times) < repeats or _clock() - t_start < min_time:
        t0 = _clock()
        fn()
        times.append(_clock() - t0)
        if len(times) >= 10 * repeats:
            break
    return statistics.median(times)


def bench_preset(name: str, threads: int = 2, quick: bool = False,
                 clock: str = "wall") -> dict[str, Any]:
    """Measure one preset in this process (``clock``: a key of :data:`CLOCKS`)."""
    global _clock
    import torch

    _clock = CLOCKS[clock]

    from skelgnn.models import build_model, count_parameters, macs_per_frame

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(name)
    r, j = model.receptive_field, model.num_joints
    macs = macs_per_frame(model)
    out: dict[str, Any] = {"preset": name, "receptive_field": r,
                           "parameters": count_parameters(model), "macs_per_frame": macs}
    model.eval()
    reps = 5 if quick else 15
    for batch in (1, 1024):
        x = torch.randn(batch, r, j, 2)
        with torch.inference_mode():
            t = _median_time(lambda: model(x), reps, min_time=0.2 if batch == 1 else 0.0)
        out[f"fps_b{batch}"] = batch / t
        out[f"latency_ms_b{batch}"] = 1000 * t
        out[f"macs_per_s_b{batch}"] = macs * batch / t
    out.update(_bench_backends(model, r, j, threads, reps))
    if r > 1:
        clip = torch.randn(1, 1000 + r - 1, j, 2)
        with torch.inference_mode():
            t = _median_time(lambda: model.forward_sequence(clip), max(3, reps // 3))
        out["sequence_fps_1000"] = 1000 / t
        out["sequence_macs_per_frame"] = macs_per_frame(model, frames=1000)
    model.train()
    opt = torch.optim.Adam(model.parameters(), 1e-3, amsgrad=True)
    batch = 256
    x, y = torch.randn(batch, r, j, 2), torch.randn(batch, j, 3)

    def step() -> None:
        loss = torch.linalg.vector_norm(model(x) - y, dim=-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out["train_samples_per_s_b256"] = batch / _median_time(step, 3 if quick else 8)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def bf16_supported() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX BF16)."""
    return bool({"AVX-512 BF16", "AMX BF16"} & set(cpu_flags()[1]))


def _bench_backends(model: Any, r: int, j: int, threads: int, reps: int) -> dict[str, Any]:
    """Inference in bf16 (``torch.autocast``, where the CPU has bf16) and through ONNX Runtime
    (CPU provider, ``threads`` intra-op threads, where it and ``onnx`` are installed): frames/s
    at batch 1024 and latency at batch 1. Empty entries are simply left out."""
    import tempfile

    import torch

    out: dict[str, Any] = {}
    if bf16_supported():
        for batch in (1, 1024):
            x = torch.randn(batch, r, j, 2)
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
                t = _median_time(lambda: model(x), reps, min_time=0.2 if batch == 1 else 0.0)
            out[f"bf16_fps_b{batch}"] = batch / t
            out[f"bf16_latency_ms_b{batch}"] = 1000 * t
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxruntime as ort
    except ImportError:
        return out
    import warnings

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "model.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros(2, r, j, 2),), path, input_names=["x"],
                              output_names=["y"], opset_version=17,
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, dynamo=False)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    for batch in (1, 1024):
        x_np = torch.randn(batch, r, j, 2).numpy()
        t = _median_time(lambda: sess.run(None, {"x": x_np}), reps,
                         min_time=0.2 if batch == 1 else 0.0)
        out[f"ort_fps_b{batch}"] = batch / t
        out[f"ort_latency_ms_b{batch}"] = 1000 * t
    return out


def bench_video(path: str | Path, checkpoint: Optional[str | Path] = None,
                threads: int = 2) -> dict[str, Any]:
    """Frames/s of each stage of the video path on ``path``, in this process.

    Decoding alone is timed first (every frame read and dropped); :func:`skelgnn.video.pipeline.
    process_video` then times decoding + detection, lifting and rendering; detection is the
    difference. Lifting is also timed once more with a warm model (``lift_warm``), since the
    first call pays for one-off set-up.
    """
    import tempfile

    import torch

    from skelgnn.infer.lifter import Lifter, default_checkpoint
    from skelgnn.video.pipeline import iter_frames, process_video

    torch.set_num_threads(threads)
    ckpt = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    lifter = Lifter.from_checkpoint(ckpt)
    t0 = time.perf_counter()
    frames = sum(1 for _ in iter_frames(path))
    decode = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        res = process_video(path, tmp, lifter)
    seq = res.keypoints
    if seq.image_size is None or seq.layout is None:  # a video's detections carry both
        raise ValueError(f"{path}: the detections lack the image size or the layout")
    t0 = time.perf_counter()
    lifter.predict_full(seq.keypoints, seq.image_size, seq.layout, 0.3, reframe=True)
    lift_warm = time.perf_counter() - t0
    t = res.timings
    stages = {"decode": decode, "detect": max(t["decode+detect"] - decode, 1e-9),
              "decode+detect": t["decode+detect"], "lift": t["lift"], "lift_warm": lift_warm,
              "render": t["render"]}
    return {"video": str(path), "checkpoint": ckpt.name, "frames": frames,
            "frame_size": list(seq.image_size), "seconds": stages,
            "fps": {k: frames / v for k, v in stages.items()},
            "lift_over_detect": stages["lift"] / stages["detect"],
            "lift_warm_over_detect": lift_warm / stages["detect"]}


_ISA_FLAGS = (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX-512 BF16"),
              ("amx_tile", "AMX"), ("amx_bf16", "AMX BF16"))


def cpu_flags(cpuinfo: Optional[str] = None) -> tuple[str, list[str]]:
    """CPU model name and the instruction sets the benchmark cares about, from
    ``/proc/cpuinfo`` text (read when not given; empty model and list where it is missing)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model = ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, [name for flag, name in _ISA_FLAGS if flag in flags]


def machine_info(threads: Optional[int] = None) -> dict[str, Any]:
    """CPU model, core count, instruction sets (AVX2 / AVX-512 / AMX from ``/proc/cpuinfo``, and
    the level torch dispatches to, ``torch.backends.cpu.get_cpu_capability()``), torch threads,
    torch and oneDNN (mkldnn) versions, Python and OS of this machine."""
    import torch

    model, isa = cpu_flags()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # older torch
        capability = None
    onednn = None
    if torch.backends.mkldnn.is_available():
        m = re.search(r"(?:oneDNN|MKL-DNN) v([0-9][0-9.]*)", torch.__config__.show())
        onednn = m.group(1) if m else "available"
    try:
        import onnxruntime

        ort: Optional[str] = onnxruntime.__version__
    except ImportError:
        ort = None
    return {"cpu": model or platform.machine(), "cores": os.cpu_count(), "isa": isa,
            "torch_cpu_capability": capability, "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__.split("+")[0], "onednn": onednn, "onnxruntime": ort,
            "python": platform.python_version(), "system": platform.platform()}


def _ratios(rows: dict[str, dict[str, Any]]) -> dict[str, Optional[float]]:
    def get(name: str, key: str) -> Optional[float]:
        return rows.get(name, {}).get(key)

    def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
        return None if a is None or b in (None, 0) else a / b

    return {
        "skelgnn1f_over_fcn1f_macs_per_s_b1024": ratio(get("skelgnn-1f", "macs_per_s_b1024"),
                                                       get("fcn-1f", "macs_per_s_b1024")),
        "skelgnn1f_over_semgcn1f_fps_b1024": ratio(get("skelgnn-1f", "fps_b1024"),
                                                   get("semgcn-1f", "fps_b1024")),
        "skelgnn1f_latency_ms_b1": get("skelgnn-1f", "latency_ms_b1"),
        "skelgnn27f_sequence_fps_1000": get("skelgnn-27f", "sequence_fps_1000"),
    }


def run_bench(presets: Sequence[str] = DEFAULT_PRESETS, threads: int = 2, quick: bool = False,
              progress: bool = True, video: Optional[str | Path] = None,
              clock: str = "wall") -> dict[str, Any]:
    """Measure each preset in its own subprocess; returns ``{"machine", "threads", "presets",
    "ratios"}`` (and ``"video"``, the per-stage figures of :func:`bench_video`, when a video is
    given)."""
    rows: dict[str, dict[str, Any]] = {}
    items: Any = presets
    if progress:
        from tqdm import tqdm

        items = tqdm(presets, desc="bench", unit="preset")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    for name in items:
        cmd = [sys.executable, "-m", "skelgnn.evaluate.speed", "--one", name, "--threads", str(threads),
               "--clock", clock]
        if quick:
            cmd.append("--quick")
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            raise ValueError(f"bench of {name} failed: {res.stderr.strip()[-2000:]}")
        rows[name] = json.loads(res.stdout.strip().splitlines()[-1])
    ratios: dict[str, Optional[float]] = _ratios(rows)
    out: dict[str, Any] = {"machine": machine_info(threads), "threads": threads, "clock": clock,
                           "date": time.strftime("%Y-%m-%d"), "presets": rows, "ratios": ratios}
    if video is not None:
        cmd = [sys.executable, "-m", "skelgnn.evaluate.speed", "--video", str(video), "--threads",
               str(threads)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            raise ValueError(f"bench of the video path failed: {res.stderr.strip()[-2000:]}")
        vid: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
        out["video"] = vid
        ratios["video_lift_over_detect"] = vid["lift_over_detect"]
        ratios["video_render_fps"] = vid["fps"]["render"]
    return out


def format_bench(result: dict[str, Any]) -> str:
    """Markdown table of :func:`run_bench` output."""
    m = result["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, {result['threads']} threads, "
             f"{result['date']}, {result.get('clock', 'wall')} clock.", ""]
    if "torch" in m:
        isa = ", ".join(m.get("isa") or []) or "none of AVX2/AVX-512/AMX"
        lines[-1:-1] = [f"Instruction sets: {isa} (torch dispatches {m.get('torch_cpu_capability')}"
                        f"); torch {m['torch']} ({m.get('torch_threads')} threads), oneDNN "
                        f"{m.get('onednn')}, ONNX Runtime {m.get('onnxruntime') or 'absent'}."]
    rows = [[name, r["receptive_field"], f"{r['parameters'] / 1e6:.2f}M", f"{r['macs_per_frame'] / 1e6:.2f}M",
             f"{r['fps_b1']:.0f}", f"{r['latency_ms_b1']:.2f}", f"{r['fps_b1024']:.0f}",
             f"{r['macs_per_s_b1024'] / 1e9:.2f}", f"{r['train_samples_per_s_b256']:.0f}",
             f"{r['sequence_fps_1000']:.0f}" if "sequence_fps_1000" in r else "-", f"{r['peak_rss_mib']:.0f}"]
            for name, r in result["presets"].items()]
    lines.append(format_table(["preset", "frames", "params", "MACs/frame", "fps b1", "latency b1 (ms)",
                               "fps b1024", "GMAC/s b1024", "train samples/s (b256)",
                               "seq. fps (1000 frames)", "peak RSS (MiB)"], rows, markdown=True))
    backends = [[name, f"{r['fps_b1024']:.0f}", f"{r['latency_ms_b1']:.2f}",
                 *(f"{r[f'{k}_fps_b1024']:.0f}" if f"{k}_fps_b1024" in r else "-"
                   for k in ("bf16", "ort")),
                 *(f"{r[f'{k}_latency_ms_b1']:.2f}" if f"{k}_latency_ms_b1" in r else "-"
                   for k in ("bf16", "ort"))]
                for name, r in result["presets"].items()
                if "bf16_fps_b1024" in r or "ort_fps_b1024" in r]
    if backends:
        lines += ["", "Inference backends (eager fp32, bf16 autocast, ONNX Runtime CPU):", "",
                  format_table(["preset", "fp32 fps b1024", "fp32 ms b1", "bf16 fps b1024",
                                "ORT fps b1024", "bf16 ms b1", "ORT ms b1"], backends,
                               markdown=True)]
    v = result.get("video")
    if v:
        lines += ["", f"Video path (`skelgnn video`, {v['video'].rsplit('/', 1)[-1]}, "
                  f"{v['frames']} frames, {v['frame_size'][0]:.0f} x {v['frame_size'][1]:.0f}, "
                  f"checkpoint {v['checkpoint']}):", "",
                  format_table(["stage", "seconds", "frames/s"],
                               [[k, f"{v['seconds'][k]:.3f}", f"{v['fps'][k]:.1f}"]
                                for k in ("decode", "detect", "lift", "lift_warm", "render")], markdown=True)]
    lines += ["", "Ratios (measured in this run):", ""]
    for k, v in result["ratios"].items():
        lines.append(f"- {k}: {'n/a' if v is None else f'{v:.3g}'}")
    return "\n".join(lines)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="measure one preset (internal; use `skelgnn bench`)")
    ap.add_argument("--one")
    ap.add_argument("--video")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = ap.parse_args(argv)
    if args.video:
        print(json.dumps(bench_video(args.video, threads=args.threads)))
    else:
        print(json.dumps(bench_preset(args.one, args.threads, args.quick, args.clock)))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
