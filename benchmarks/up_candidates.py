"""Compare learnt-up training sets on ``val``'s novel cameras, several seeds each.

    python benchmarks/train_up.py --cache /tmp/up/c8.npz --out /tmp/up/w.npz --results /tmp/up/r.json
    python benchmarks/train_up.py --cameras 16 --cache /tmp/up/c16.npz --out /tmp/up/w.npz --results /tmp/up/r.json
    python benchmarks/train_up.py --cameras 0 --low-cameras 4 --cache /tmp/up/low4.npz \
        --out /tmp/up/w.npz --results /tmp/up/r.json
    python benchmarks/up_candidates.py c8=/tmp/up/c8.npz c16+low4=/tmp/up/c16.npz,/tmp/up/low4.npz

Each candidate is ``NAME=CACHE[,CACHE...]``: the lifted training sets that ``train_up.py --cache``
keeps, joined (and mirrored, as ``train_up.py`` does). Per seed, a regressor is fitted with
``train_up.py``'s settings (vMF loss, 6 epochs, ``--hidden``) and put in place of the shipped one
in this process only (the package's ``up_regressor.npz`` is not touched); ``world_frame.py``'s
``synthetic`` part then scores it on the ``val`` subject's 60 novel-camera clips, lifted as ``skelgnn
infer`` lifts them (levelling on). The identical retraining of the shipped set is the control:
single runs differ by ~0.1 degrees with the seed, so candidates are compared as seed means.
Prints each run and writes ``benchmarks/results/up_candidates.json`` (one torch thread, about a
minute per run).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def load_sets(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Training features and targets of the cached lifted sets, joined and mirrored."""
    import train_up

    xs, ys = [], []
    for path in paths:
        with np.load(path) as d:
            xs.append(d["train_x"])
            ys.append(d["train_y"])
    x, y = np.concatenate(xs), np.concatenate(ys)
    xm, ym = train_up.mirror(x, y)
    return np.concatenate([x, xm]), np.concatenate([y, ym])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidates", nargs="+", metavar="NAME=CACHE[,CACHE...]")
    ap.add_argument("--seeds", type=int, nargs="+", default=[27, 28, 29])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "up_candidates.json"))
    args = ap.parse_args(argv)
    import torch

    import train_up
    import world_frame
    from skelgnn.fileio import atomic_write_text
    from skelgnn.motion import gravity

    torch.set_num_threads(1)
    specs = []
    for item in args.candidates:
        name, sep, paths = item.partition("=")
        if not sep or not paths:
            ap.error(f"expected NAME=CACHE[,CACHE...], got {item!r}")
        missing = [p for p in paths.split(",") if not Path(p).is_file()]
        if missing:
            ap.error(f"{name}: no cached lifted set at {', '.join(missing)} (make it with train_up.py --cache)")
        specs.append((name, paths.split(",")))
    result = {"seeds": args.seeds, "hidden": args.hidden, "epochs": args.epochs,
              "scored_on": "val subject, 60 novel-camera clips (world_frame.py --parts synthetic), levelled",
              "candidates": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, paths in specs:
            x, y = load_sets(paths)
            runs = []
            for seed in args.seeds:
                reg, _ = train_up.train(x, y, args.hidden, args.epochs, seed, loss_kind="vmf",
                                        log=lambda *_: None)
                gravity._SHIPPED[:] = [reg]
                out = Path(tmp) / f"{name}-{seed}.json"
                world_frame.main(["--parts", "synthetic", "--out", str(out)])
                syn = json.loads(out.read_text())["synthetic"]
                run = {"seed": seed, "up_deg": syn["levelled"]["up_deg_mean"],
                       "world_mpjpe_mm": syn["levelled"]["world_mpjpe_mm"],
                       "up_deg_per_kind": {k: v["levelled"]["up_deg_mean"] for k, v in syn["per_kind"].items()}}
                runs.append(run)
                print(f"{name} seed {seed}: up {run['up_deg']:.2f} deg, world MPJPE {run['world_mpjpe_mm']:.1f} mm",
                      flush=True)
            ups = np.array([r["up_deg"] for r in runs])
            mp = np.array([r["world_mpjpe_mm"] for r in runs])
            result["candidates"][name] = {
                "caches": [Path(p).name for p in paths], "frames": int(len(x)), "runs": runs,
                "up_deg_mean": float(ups.mean()), "up_deg_sd": float(ups.std(ddof=1)) if len(ups) > 1 else 0.0,
                "world_mpjpe_mm_mean": float(mp.mean())}
    gravity._SHIPPED.clear()
    print("\ncandidate | up deg (mean +- sd over seeds) | world MPJPE mm")
    for name, c in result["candidates"].items():
        print(f"{name} | {c['up_deg_mean']:.2f} +- {c['up_deg_sd']:.2f} | {c['world_mpjpe_mm_mean']:.1f}")
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
