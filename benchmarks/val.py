"""Model selection on the ``val`` subject: train named variants side by side and table them.

    python benchmarks/val.py --list
    python benchmarks/val.py --round r3-embedding --jobs 2
    python benchmarks/val.py --round r3-embedding --table      # collect only

Every variant trains on ``train`` minus ``val`` (``data.split = "val"``) and is scored on every
frame of the val subject with flip test-time augmentation (``PROTOCOL`` gives rounds run
shorter, e.g. ``r5-grading``: 3 epochs of 10,000 samples). The short protocol compresses the
benchmark's learning-rate schedule: ``EPOCHS`` epochs with the per-epoch decay chosen so that the
last epoch's learning rate equals the 20-epoch schedule's (``0.95 ** 19``), so a short run ends
annealed instead of mid-descent, on ``SAMPLES`` random training samples per epoch (about 2.8
passes over the set in all: a comparison, not a converged model). Runs resume from their run
directory; results are written to
``benchmarks/results/val/<round>.json`` with each variant's config and history. The test
subjects are never read.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from skelgnn.tables import format_table

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "val"
EPOCHS = 6
SAMPLES = 40_000  # per epoch, a fresh random subset each epoch (about half the val-split set)
LR_DECAY = round((0.95 ** 19) ** (1 / (EPOCHS - 1)), 4)  # 0.8228: same final lr as 20 epochs

# round -> variant -> (model preset, overrides)
_S = "skelgnn-1f"
_T = "tcn-1f"
ROUNDS: dict[str, dict[str, tuple[str, list[str]]]] = {
    # input embedding and a pose-level pathway (docs/DESIGN.md, "The flagship and the paper's network"), det and gt
    "r3-embedding": {
        f"{name}-{src}": (cfg, [f"data.source={src}", *sets])
        for name, cfg, sets, src in [
            ("joint", _S, [], "det"),
            ("pose", _S, ["model.embedding=pose"], "det"),
            ("pose", _S, ["model.embedding=pose"], "gt"),
            ("tcn-1f", _T, [], "gt"),
            ("pose-mix128", _S, ["model.embedding=pose", "model.global_channels=128"], "gt"),
            ("tcn-1f", _T, [], "det"),
            ("pose-mix128", _S, ["model.embedding=pose", "model.global_channels=128"], "det"),
            ("joint", _S, [], "gt"),
            ("pose-readout", _S, ["model.embedding=pose", "model.readout=global"], "gt"),
        ]
    },
    # squeeze ratio d: the flagship's 0.5 against the ratios `skelgnn analyze hops` derives
    # (benchmarks/results/hops/det/hops.json: target-aware 0.79 fitted on k = 1..5, 0.57 on
    # k = 1..8) and no squeezing
    "r4-squeeze": {
        **{f"d{d}-det": (_S, ["data.source=det", f"model.squeeze={d}"])
           for d in ("0.5", "0.79", "0.57", "1.0")},
        # a second seed of the chosen and the derived ratio, for the run-to-run spread
        **{f"d{d}-det-seed2": (_S, ["data.source=det", f"model.squeeze={d}", "train.seed=2"])
           for d in ("0.5", "0.79")},
    },
    # learnable hop grading: a gate per hop-group channel against the fixed grading, and the
    # widths the gates imply (skelgnn.layers.grading)
    "r5-grading": {
        "fixed-det": (_S, ["data.source=det"]),
        "gated-det": (_S, ["data.source=det", "model.grading=gated"]),
        # no squeezing to start from: every group full width, the gates alone grade the hops
        "gated-d1.0-det": (_S, ["data.source=det", "model.grading=gated", "model.squeeze=1.0"]),
        # a second seed of each, for the run-to-run spread
        **{f"{v}-seed2": (_S, ["data.source=det", *sets, "train.seed=2"]) for v, sets in [
            ("fixed-det", []), ("gated-det", ["model.grading=gated"]),
            ("gated-d1.0-det", ["model.grading=gated", "model.squeeze=1.0"])]},
    },
    # learnable grading with sparsity pressure: every group starts full width (d = 1) and an L1
    # on the gates (train.gate_l1, network slimming) lets the loss decide which hop groups keep
    # their channels; the widths the gates imply give a squeeze ratio, compared with r4's
    # P1 at fixed ratios. Scale: at the start the loss gradient on a gate
    # logit is about 5e-5 (median over the 1,728 gates, one det batch of 256), the penalty's
    # 3.7e-3 x gate_l1, so 0.01 matches them and 0.001 / 0.1 are a tenth / ten times that
    # (computed once with a throwaway script; not a test)
    "r6-gate-l1": {
        f"gated-d1.0-l1{lam}-det": (_S, ["data.source=det", "model.grading=gated",
                                          "model.squeeze=1.0", f"train.gate_l1={lam}"])
        for lam in ("0.001", "0.01", "0.1")
    },
    # equal tuning of the two strongest single-frame baselines (det): learning rate, dropout and
    # width around each one's published recipe, beside the flagship on the same short protocol;
    # the best variant of each is then trained on the full protocol and scored on test once
    "b1-baselines": {
        "skelgnn-1f-det": (_S, ["data.source=det"]),
        "tcn-1f-det": (_T, ["data.source=det"]),
        "tcn-1f-lr2e-3-det": (_T, ["data.source=det", "train.lr=2e-3"]),
        "tcn-1f-lr5e-4-det": (_T, ["data.source=det", "train.lr=5e-4"]),
        "tcn-1f-drop0.1-det": (_T, ["data.source=det", "model.dropout=0.1"]),
        "tcn-1f-drop0.4-det": (_T, ["data.source=det", "model.dropout=0.4"]),
        "tcn-1f-c2048-det": (_T, ["data.source=det", "model.channels=2048"]),
        "mgcn-1f-det": ("mgcn-1f", ["data.source=det", "train.precise_bn_batches=100"]),
        "mgcn-1f-lr2e-3-det": ("mgcn-1f", ["data.source=det", "train.precise_bn_batches=100", "train.lr=2e-3"]),
        "mgcn-1f-lr5e-4-det": ("mgcn-1f", ["data.source=det", "train.precise_bn_batches=100", "train.lr=5e-4"]),
        "mgcn-1f-drop0.2-det": ("mgcn-1f", ["data.source=det", "train.precise_bn_batches=100", "model.dropout=0.2"]),
        "mgcn-1f-c256-det": ("mgcn-1f", ["data.source=det", "train.precise_bn_batches=100", "model.channels=256"]),
    },
    # the same five-variant search for the two remaining single-frame baselines (recipe, learning
    # rate x2 and x0.5, dropout, width): Martinez's MLP and SemGCN (docs/CLAIMS.md, "Equal tuning")
    "b2-baselines": {
        "fcn-1f-det": ("fcn-1f", ["data.source=det"]),
        "fcn-1f-lr2e-3-det": ("fcn-1f", ["data.source=det", "train.lr=2e-3"]),
        "fcn-1f-lr5e-4-det": ("fcn-1f", ["data.source=det", "train.lr=5e-4"]),
        "fcn-1f-drop0.25-det": ("fcn-1f", ["data.source=det", "model.dropout=0.25"]),
        "fcn-1f-h2048-det": ("fcn-1f", ["data.source=det", "model.hidden=2048"]),
        # added once dropout 0.25 led the first five: the next steps down (0.1 was tcn-1f's choice)
        "fcn-1f-drop0.1-det": ("fcn-1f", ["data.source=det", "model.dropout=0.1"]),
        "fcn-1f-drop0-det": ("fcn-1f", ["data.source=det", "model.dropout=0.0"]),
        "semgcn-1f-det": ("semgcn-1f", ["data.source=det", "train.precise_bn_batches=100"]),
        "semgcn-1f-lr2e-3-det": ("semgcn-1f", ["data.source=det", "train.precise_bn_batches=100", "train.lr=2e-3"]),
        "semgcn-1f-lr5e-4-det": ("semgcn-1f", ["data.source=det", "train.precise_bn_batches=100", "train.lr=5e-4"]),
        "semgcn-1f-drop0.2-det": ("semgcn-1f", ["data.source=det", "train.precise_bn_batches=100",
                                                "model.dropout=0.2"]),
        "semgcn-1f-c256-det": ("semgcn-1f", ["data.source=det", "train.precise_bn_batches=100", "model.channels=256"]),
    },
    # the same five-variant search for SemGCN with its non-local blocks (the semgcn-nl-1f row)
    "b3-baselines": {
        f"semgcn-nl-1f{tag}-det": ("semgcn-nl-1f", ["data.source=det", "train.precise_bn_batches=100", *sets])
        for tag, sets in [("", []), ("-lr2e-3", ["train.lr=2e-3"]), ("-lr5e-4", ["train.lr=5e-4"]),
                          ("-drop0.2", ["model.dropout=0.2"]), ("-c256", ["model.channels=256"])]
    },
}

# rounds run on a shorter protocol than (EPOCHS, SAMPLES): round -> (epochs, samples per epoch).
# r5 ran while two benchmark trainings held both cores (about 45 samples/s per run at nice 10).
PROTOCOL: dict[str, tuple[int, int]] = {"r5-grading": (3, 10_000)}


def _protocol(round_name: str) -> tuple[int, int, float]:
    """``(epochs, samples per epoch, lr decay)``; the decay gives the 20-epoch schedule's final
    learning rate at the last epoch."""
    epochs, samples = PROTOCOL.get(round_name, (EPOCHS, SAMPLES))
    return epochs, samples, round((0.95 ** 19) ** (1 / max(1, epochs - 1)), 4)


def _run_dir(runs: Path, round_name: str, variant: str) -> Path:
    return runs / round_name / variant


def _done(run_dir: Path, epochs: int = EPOCHS) -> bool:
    hist = run_dir / "history.json"
    if not hist.exists():
        return False
    rows = json.loads(hist.read_text())
    return bool(rows) and rows[-1]["epoch"] >= epochs and "val_p1" in rows[-1]


def run_variant(round_name: str, variant: str, runs: Path, threads: int, data: str | None) -> str:
    cfg, sets = ROUNDS[round_name][variant]
    run_dir = _run_dir(runs, round_name, variant)
    epochs, samples, decay = _protocol(round_name)
    if _done(run_dir, epochs):
        return f"{variant}: done before"
    cmd = [sys.executable, "-m", "skelgnn.cli", "train", "--set", f"model.preset={cfg}",
           "--run-dir", str(run_dir), "--no-progress", "--set", "data.split=val",
           "--set", f"train.epochs={epochs}", "--set", f"train.lr_decay={decay}",
           "--set", f"train.threads={threads}", "--set", "train.validate_every=3",
           "--set", f"train.max_samples={samples}"]
    for s in sets:
        cmd += ["--set", s]
    if data:
        cmd += ["--data", data]
    if (run_dir / "last.pt").exists():
        cmd.append("--resume")
    t0 = time.time()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        return f"{variant}: FAILED ({res.returncode})\n{res.stderr[-2000:]}"
    return f"{variant}: {(time.time() - t0) / 60:.1f} min"


def collect(round_name: str, runs: Path) -> dict:
    epochs, samples, decay = _protocol(round_name)
    out: dict = {"protocol": (f"train on train minus val (S02), {epochs} epochs, lr 1e-3 x "
                              f"{decay} per epoch (the 20-epoch schedule's final lr), {samples} "
                              "random samples per epoch, every "
                              "frame of S02 scored with flip TTA, 1 thread per run, runs side by "
                              "side on the 2-core machine"),
                 "runs": {}}
    for variant, (cfg, sets) in ROUNDS[round_name].items():
        run_dir = _run_dir(runs, round_name, variant)
        if not _done(run_dir, epochs):
            continue
        conf = json.loads((run_dir / "config.json").read_text())
        hist = json.loads((run_dir / "history.json").read_text())
        out["runs"][variant] = {"preset": cfg, "overrides": sets,
                                "model": conf["model"], "train": conf["train"],
                                "data": conf["data"], "history": hist}
        if conf["model"].get("grading", "fixed") == "gated":
            out["runs"][variant]["grading"] = _gates(run_dir / "last.pt")
    return out


def keep_recorded(result: dict, path: Path) -> list[str]:
    """Keep the runs recorded in ``path`` (an earlier ``collect`` of the same round) that this
    collection lacks: run directories live outside git, so a fresh checkout (or another
    ``--runs``) has none, and rewriting the round without them would lose every figure.
    Returns the kept variants; the recorded runs come first in the merged result."""
    if not path.is_file():
        return []
    recorded = json.loads(path.read_text()).get("runs", {})
    kept = [v for v in recorded if v not in result["runs"]]
    merged = {v: result["runs"].get(v, recorded.get(v)) for v in [*recorded, *result["runs"]]}
    result["runs"] = merged
    return kept


def _gates(checkpoint: Path) -> dict:
    """The learnt hop gates of a gated run and the widths they imply (skelgnn.layers.grading), with the
    squeeze ratio of the information-gain fit next to them."""
    from skelgnn.models.checkpoint import load_model
    from skelgnn.layers.grading import gate_report
    from skelgnn.layers.hops import squeeze_from_json

    report = gate_report(load_model(checkpoint)[0]).to_dict()
    report["ig_squeeze"] = squeeze_from_json(REPO / "benchmarks" / "results" / "hops" / "det"
                                             / "hops.json")
    return report


def grading_table(result: dict) -> str:
    """Per gated run: each hop group's fixed width, mean gate over layers, derived width."""
    rows = []
    for variant, r in result["runs"].items():
        g = r.get("grading")
        if not g:
            continue
        for i, hops in enumerate(g["group_hops"]):
            mean = sum(m[i] for m in g["mean_gate"]) / len(g["mean_gate"])
            rows.append([variant, hops, g["fixed_widths"][i], f"{mean:.3f}",
                         f"{g['mass_ratio'][i]:.3f}", g["derived_widths"][i]])
        rows.append([variant, "d", f"{g['config_squeeze']:.2f}", "", "",
                     f"{g['derived_squeeze']:.3f} (IG fit {g['ig_squeeze']:.2f})"])
    return format_table(["variant", "hops", "fixed width", "mean gate", "mass / short",
                         "derived width"], rows, markdown=True) if rows else ""


def table(result: dict) -> str:
    rows = []
    for variant, r in result["runs"].items():
        last = r["history"][-1]
        sec = sum(h["seconds"] for h in r["history"]) / len(r["history"])
        rows.append([variant, r.get("params", ""), f"{last['train_loss_mm']:.1f}", f"{last['val_p1']:.1f}",
                     f"{last['val_p2']:.1f}", f"{last['val_p1_action']:.1f}",
                     f"{last['val_own_hard5_p1']:.1f}", f"{last['val_own_hard10_p1']:.1f}", f"{sec:.0f}"])
    return format_table(["variant", "params", "train loss", "P1", "P2", "P1 act.", "own 5%", "own 10%",
                         "s/epoch"], rows, markdown=True)


def _params(model_cfg: dict) -> str:
    from skelgnn.models import build_model, count_parameters

    return f"{count_parameters(build_model(model_cfg)) / 1e6:.2f}M"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--round", choices=sorted(ROUNDS))
    ap.add_argument("--only", action="append", default=[], help="variant (repeatable)")
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--runs", default=str(REPO / "runs" / "val"), help="run directories")
    ap.add_argument("--data", default=None, help="benchmark directory")
    ap.add_argument("--table", action="store_true", help="collect and print only")
    ap.add_argument("--list", action="store_true", help="list rounds and variants")
    args = ap.parse_args(argv)
    if args.list or not args.round:
        for name, variants in ROUNDS.items():
            print(name)
            for v, (cfg, sets) in variants.items():
                print(f"  {v}: {cfg} {' '.join(sets)}")
        return 0
    runs = Path(args.runs)
    variants = args.only or list(ROUNDS[args.round])
    unknown = sorted(set(variants) - set(ROUNDS[args.round]))
    if unknown:
        ap.error(f"unknown variant(s) {unknown} in round {args.round}")
    if not args.table:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for msg in pool.map(lambda v: run_variant(args.round, v, runs, args.threads,
                                                      args.data), variants):
                print(msg, flush=True)
    result = collect(args.round, runs)
    for r in result["runs"].values():
        r["params"] = _params(r["model"])
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{args.round}.json"
    kept = keep_recorded(result, path)
    if kept:
        print(f"kept {len(kept)} recorded runs whose run directories are not under {runs}: "
              f"{', '.join(kept)}")
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    if any("grading" in r for r in result["runs"].values()):
        print(grading_table(result))
    print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
