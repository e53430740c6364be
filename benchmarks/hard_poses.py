"""Which poses does one lifter win or lose on against another? (docs/DESIGN.md, "Where the flagship wins and loses")

    python benchmarks/hard_poses.py --a checkpoints/skelgnn-1f-cmu-det.pt \\
        --b runs/tcn-1f-det/last.pt --source det

Both checkpoints predict every test frame of one 2D source (flip TTA on, as in the benchmark
rows). Per sample, ``gain = P1(b) - P1(a)`` in mm (positive: ``a`` is better). The samples are
then grouped, and each group described by three things that make a pose hard:

- **2D noise**: mean per-joint distance between the source's 2D keypoints and the projected
  ground truth (pixels; zero on the ``gt`` source);
- **pose rarity**: mean per-joint distance (mm) from the root-relative 3D pose to its nearest
  neighbour among a random subsample of the training poses (``--train-poses``, all cameras);
- **action category** shares.

Groups: the 5% of samples where ``a`` beats ``b`` most, the 5% where it beats ``b`` least (or
loses most), and all samples; and the mean gain in deciles of 2D noise, of rarity and of
``b``'s own error. Writes ``<out>/pose_gain.json`` and ``<out>/pose_gain.png`` and prints a
table. Test subjects only, scored once; nothing here is used to choose a setting.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _predict(checkpoint: Path, records: list, progress: bool, skeleton) -> tuple[np.ndarray, np.ndarray, object, str]:
    from skelgnn.data import WindowDataset
    from skelgnn.models.predict import predict_sequences
    from skelgnn.models.checkpoint import load_model

    model, codec, info = load_model(checkpoint)
    dataset = WindowDataset(records, model.receptive_field, stride=1, codec=codec)
    pred, target = predict_sequences(model, dataset, flip_test=True, progress=progress, skeleton=skeleton)
    return pred, target, dataset, str(info.get("preset", info.get("arch", "?")))


def decile_means(key: np.ndarray, value: np.ndarray) -> list[dict]:
    """Mean of ``value`` within each decile of ``key``."""
    edges = np.quantile(key, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, key, side="right") - 1, 0, 9)
    return [{"decile": int(d), "key_lo": float(edges[d]), "key_hi": float(edges[d + 1]),
             "mean": float(value[bins == d].mean()), "samples": int((bins == d).sum())}
            for d in range(10)]


def describe(mask: np.ndarray, gain: np.ndarray, e_a: np.ndarray, e_b: np.ndarray,
             noise: np.ndarray, rarity: np.ndarray, cats: np.ndarray) -> dict:
    names, counts = np.unique(cats[mask], return_counts=True)
    share = {str(n): float(c / mask.sum()) for n, c in zip(names, counts)}
    return {"samples": int(mask.sum()), "gain_mm": float(gain[mask].mean()),
            "p1_a": float(e_a[mask].mean()), "p1_b": float(e_b[mask].mean()),
            "noise_2d_px": float(noise[mask].mean()), "rarity_mm": float(rarity[mask].mean()),
            "action_share": dict(sorted(share.items(), key=lambda kv: -kv[1]))}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b = result["a"]["model"], result["b"]["model"]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for ax, key, label in zip(axes[:3], ("by_noise", "by_rarity", "by_b_error"),
                              ("2D noise (px)", "pose rarity (mm to nearest train pose)",
                               f"{b} error (mm)")):
        rows = result[key]
        mids = [0.5 * (r["key_lo"] + r["key_hi"]) for r in rows]
        ax.bar(range(10), [r["mean"] for r in rows], color=["tab:green" if r["mean"] > 0 else "tab:red" for r in rows])
        ax.set_xticks(range(10), [f"{m:.0f}" for m in mids], fontsize=7)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlabel(f"decile of {label}")
        ax.set_ylabel(f"P1({b}) - P1({a}) (mm)")
    groups = result["groups"]
    cats = sorted(groups["all"]["action_share"], key=lambda c: -groups["all"]["action_share"][c])
    width = 0.27
    for n, (g, color) in enumerate((("all", "0.6"), ("a_wins_most", "tab:green"),
                                    ("a_wins_least", "tab:red"))):
        share = [groups[g]["action_share"].get(c, 0.0) for c in cats]
        axes[3].bar(np.arange(len(cats)) + (n - 1) * width, share, width, color=color,
                    label={"all": "all samples", "a_wins_most": f"5% {a} wins most",
                           "a_wins_least": f"5% {a} wins least"}[g])
    axes[3].set_xticks(range(len(cats)), cats, rotation=60, ha="right", fontsize=7)
    axes[3].set_ylabel("share of samples")
    axes[3].legend(fontsize=7)
    fig.suptitle(f"{a} vs {b}, {result['source']} 2D, test subjects: where the gain comes from",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="checkpoint of the model under study")
    ap.add_argument("--b", required=True, help="checkpoint of the reference model")
    ap.add_argument("--source", choices=("det", "gt"), default="det")
    ap.add_argument("--data", default=None, help="benchmark directory")
    ap.add_argument("--train-poses", type=int, default=20000,
                    help="training poses sampled for the rarity measure (default 20000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "pose_gain"))
    args = ap.parse_args(argv)

    from skelgnn.data import load_benchmark, read_skeleton, read_split, resolve_data_dir
    from skelgnn.evaluate.hard_free import nearest_pose_distance

    root = resolve_data_dir(args.data)
    split = read_split(root / "split.json")
    records = load_benchmark(root, args.source, subjects=split["test"])
    progress = sys.stderr.isatty()
    skeleton = read_skeleton(root, args.source)
    pred_a, target, dataset, name_a = _predict(Path(args.a), records, progress, skeleton)
    pred_b, target_b, _, name_b = _predict(Path(args.b), records, progress, skeleton)
    if not np.array_equal(target, target_b):
        raise SystemExit("the two models' test samples differ (receptive fields pad differently?)")
    e_a = np.linalg.norm(pred_a - target, axis=-1).mean(-1) * 1000.0  # (N,) mm
    e_b = np.linalg.norm(pred_b - target, axis=-1).mean(-1) * 1000.0
    gain = e_b - e_a

    if args.source == "gt":
        noise = np.zeros_like(e_a)
    else:
        gt_records = load_benchmark(root, "gt", subjects=split["test"])
        noise = np.concatenate([np.linalg.norm(r.keypoints_2d - g.keypoints_2d, axis=-1).mean(-1)
                                for r, g in zip(records, gt_records)])
    train_subjects = [s for s in split["train"]]
    bank = np.concatenate([r.poses_3d for r in load_benchmark(root, "gt", subjects=train_subjects)])
    rng = np.random.default_rng(args.seed)
    bank = bank[rng.choice(len(bank), size=min(args.train_poses, len(bank)), replace=False)]
    rarity = nearest_pose_distance(target, bank) * 1000.0

    cats = dataset.labels.category
    k = int(np.ceil(0.05 * len(gain)))
    order = np.argsort(gain)
    most = np.zeros(len(gain), bool)
    most[order[-k:]] = True
    least = np.zeros(len(gain), bool)
    least[order[:k]] = True
    everything = np.ones(len(gain), bool)
    result = {
        "a": {"checkpoint": args.a, "model": name_a}, "b": {"checkpoint": args.b, "model": name_b},
        "source": args.source, "samples": int(len(gain)), "train_poses": int(len(bank)),
        "a_better_fraction": float((gain > 0).mean()),
        "groups": {g: describe(m, gain, e_a, e_b, noise, rarity, cats) for g, m in
                   (("all", everything), ("a_wins_most", most), ("a_wins_least", least))},
        "by_noise": decile_means(noise, gain) if args.source == "det" else [],
        "by_rarity": decile_means(rarity, gain),
        "by_b_error": decile_means(e_b, gain),
        "corr_gain_noise": float(np.corrcoef(gain, noise)[0, 1]) if args.source == "det" else None,
        "corr_gain_rarity": float(np.corrcoef(gain, rarity)[0, 1]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pose_gain.json").write_text(json.dumps(result, indent=2) + "\n")
    if result["by_noise"]:
        plot(result, out / "pose_gain.png")

    print(f"{name_a} (a) vs {name_b} (b), {args.source} 2D, {len(gain)} test samples; "
          f"a better on {100 * result['a_better_fraction']:.1f}% of samples")
    print(f"{'group':16s} {'gain mm':>8s} {'P1 a':>7s} {'P1 b':>7s} {'2D px':>7s} {'rarity':>7s}  top actions")
    for g, row in result["groups"].items():
        top = ", ".join(f"{c} {100 * s:.0f}%" for c, s in list(row["action_share"].items())[:3])
        print(f"{g:16s} {row['gain_mm']:8.1f} {row['p1_a']:7.1f} {row['p1_b']:7.1f} "
              f"{row['noise_2d_px']:7.1f} {row['rarity_mm']:7.1f}  {top}")
    for key, label in (("by_noise", "2D noise px"), ("by_rarity", "rarity mm"), ("by_b_error", "P1 b mm")):
        if result[key]:
            print(f"gain by decile of {label}: " + " ".join(f"{r['mean']:+.1f}" for r in result[key]))
    print(f"wrote {out / 'pose_gain.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
