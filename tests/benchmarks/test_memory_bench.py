"""benchmarks/memory.py reports every figure it promises, on a tiny synthetic set (no figure is
asserted beyond being positive and plausible: memory depends on the machine and allocator)."""
from __future__ import annotations

import json
import math


def _memory_module():
    from conftest import load_benchmark_script

    return load_benchmark_script("memory")


def test_memory_benchmark_on_a_tiny_synthetic_set(tmp_path):
    memory = _memory_module()
    out = tmp_path / "memory.json"
    result = memory.run(["synthetic"], frames=1000, steps=4, epochs=2, batch_size=64, threads=1,
                        out=out, command="test")
    assert json.loads(out.read_text()) == result
    assert {"machine", "date", "command", "config", "cases"} <= set(result)
    row = result["cases"]["synthetic"]
    assert row["samples"] == 4 * 1000 and row["frames"] == 4 * 1000 and row["records"] == 600
    assert row["steps"] == 4 and row["batch_size"] == 64 and row["stride"] == 1
    d = row["dataset_bytes"]
    assert d["inputs"] == 4000 * 17 * 2 * 4 and d["targets"] == 4000 * 17 * 3 * 4  # float32
    assert d["total"] == d["inputs"] + d["targets"] + d["index"] and d["index"] > 0
    for key in ("rss_before_build_mib", "rss_records_mib", "rss_after_build_mib",
                "peak_rss_after_build_mib", "rss_after_steps_mib", "peak_rss_mib",
                "build_seconds", "steps_seconds", "samples_per_s", "batch_alloc_peak_bytes",
                "batch_bytes", "record_bytes", "final_loss_mm"):
        assert row[key] > 0 and math.isfinite(row[key]), key
    # plausible: torch alone takes tens of MiB, nothing here needs more than a few GiB
    assert 20 < row["rss_before_build_mib"] <= row["peak_rss_mib"] < 4096
    assert row["peak_rss_mib"] >= row["rss_after_steps_mib"] - 1
    assert len(row["rss_after_epoch_mib"]) == 2 and len(row["epoch_setup_alloc_bytes"]) == 2
    # one batch allocates about a batch, not the dataset
    assert row["batch_bytes"] == 64 * 17 * (2 + 3) * 4
    assert row["batch_alloc_peak_bytes"] < 4 * row["batch_bytes"] + 65536
    assert row["buffers_unchanged"] is True
    assert row["rss_after_trim_mib"] > 0 and isinstance(row["trimmed"], bool)
    text = memory.format_result(result)
    assert "synthetic" in text and "one copy" in text
