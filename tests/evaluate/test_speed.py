"""The speed benchmark reports every figure it promises (no timing assertions)."""
from __future__ import annotations

import math

import pytest

from skelgnn.evaluate.speed import _ratios, bench_preset, format_bench


def test_bench_preset_reports_positive_figures():
    row = bench_preset("skelgnn-9f", threads=1, quick=True)
    for key in ("parameters", "macs_per_frame", "fps_b1", "fps_b1024", "latency_ms_b1",
                "macs_per_s_b1024", "train_samples_per_s_b256", "peak_rss_mib",
                "sequence_fps_1000", "sequence_macs_per_frame"):
        assert row[key] > 0 and math.isfinite(row[key]), key
    assert row["receptive_field"] == 9
    # achieved MACs/s is consistent with the MAC count and the frame rate
    assert math.isclose(row["macs_per_s_b1024"], row["macs_per_frame"] * row["fps_b1024"],
                        rel_tol=1e-9)


def test_ratios_and_table_from_rows():
    rows = {"skelgnn-1f": {"macs_per_s_b1024": 2.0, "fps_b1024": 300.0, "latency_ms_b1": 1.5},
            "fcn-1f": {"macs_per_s_b1024": 4.0},
            "semgcn-1f": {"fps_b1024": 100.0}}
    r = _ratios(rows)
    assert r["skelgnn1f_over_fcn1f_macs_per_s_b1024"] == 0.5
    assert r["skelgnn1f_over_semgcn1f_fps_b1024"] == 3.0
    assert r["skelgnn27f_sequence_fps_1000"] is None
    full = {"receptive_field": 1, "parameters": 1e6, "macs_per_frame": 4e6, "fps_b1": 500.0,
            "latency_ms_b1": 2.0, "fps_b1024": 1e4, "macs_per_s_b1024": 4e10,
            "train_samples_per_s_b256": 1e3, "peak_rss_mib": 300.0}
    text = format_bench({"machine": {"cpu": "X", "cores": 2}, "threads": 2, "date": "d",
                         "presets": {"skelgnn-1f": full}, "ratios": r})
    assert "| skelgnn-1f | 1 | 1.00M | 4.00M | 500 | 2.00 | 10000 | 40.00 |" in text
    assert "skelgnn1f_over_fcn1f_macs_per_s_b1024: 0.5" in text


def test_table_lists_video_stages():
    full = {"receptive_field": 1, "parameters": 1e6, "macs_per_frame": 4e6, "fps_b1": 500.0,
            "latency_ms_b1": 2.0, "fps_b1024": 1e4, "macs_per_s_b1024": 4e10,
            "train_samples_per_s_b256": 1e3, "peak_rss_mib": 300.0}
    secs = {"decode": 0.5, "detect": 4.0, "decode+detect": 4.5, "lift": 0.2, "lift_warm": 0.1,
            "render": 2.0}
    video = {"video": "/x/clip.mp4", "checkpoint": "c.pt", "frames": 100,
             "frame_size": [1080.0, 1920.0], "seconds": secs,
             "fps": {k: 100 / v for k, v in secs.items()}, "lift_over_detect": 0.05}
    text = format_bench({"machine": {"cpu": "X", "cores": 2}, "threads": 2, "date": "d",
                         "presets": {"skelgnn-1f": full}, "ratios": {}, "video": video})
    assert "clip.mp4, 100 frames, 1080 x 1920, checkpoint c.pt" in text
    assert "| detect | 4.000 | 25.0 |" in text and "| render | 2.000 | 50.0 |" in text


def test_bench_cli_rejects_a_missing_video(tmp_path, capsys):
    from skelgnn.cli import main

    rc = main(["bench", "--preset", "skelgnn-1f", "--video", str(tmp_path / "none.mp4"),
               "--out", str(tmp_path)])
    assert rc != 0
    assert "none.mp4" in capsys.readouterr().err
    assert not (tmp_path / "speed.json").exists()


@pytest.mark.slow
def test_bench_video_on_the_sample():
    from pathlib import Path

    pytest.importorskip("mediapipe")
    from skelgnn.evaluate.speed import bench_video

    sample = Path(__file__).resolve().parents[3] / "shared/data/video/person_balance_cam01.mp4"
    res = bench_video(sample, threads=1)
    assert res["frames"] == 100
    for k in ("decode", "detect", "lift", "lift_warm", "render"):
        assert res["fps"][k] > 0 and math.isfinite(res["fps"][k]), k
    assert 0 < res["lift_over_detect"] < 10


def test_cpu_flags_name_the_instruction_sets():
    from skelgnn.evaluate.speed import cpu_flags

    text = ("processor\t: 0\nmodel name\t: Test CPU @ 2GHz\nflags\t\t: fpu avx avx2 avx512f "
            "avx512bw amx_tile amx_int8\nprocessor\t: 1\nmodel name\t: other\nflags\t: sse\n")
    assert cpu_flags(text) == ("Test CPU @ 2GHz", ["AVX2", "AVX-512", "AMX"])
    assert cpu_flags("flags : sse sse2\n") == ("", [])


def test_machine_info_records_torch_and_threads():
    import torch

    from skelgnn.evaluate.speed import machine_info

    before = torch.get_num_threads()
    try:
        m = machine_info(threads=1)
    finally:
        torch.set_num_threads(before)
    assert m["torch_threads"] == 1
    assert m["torch"] == torch.__version__.split("+")[0]
    assert m["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    if torch.backends.mkldnn.is_available():
        assert m["onednn"] and m["onednn"][0].isdigit()
    text = format_bench({"machine": m, "threads": 1, "date": "d", "presets": {}, "ratios": {}})
    assert f"torch {m['torch']} (1 threads), oneDNN {m['onednn']}" in text


def test_table_lists_backends_and_clock():
    full = {"receptive_field": 1, "parameters": 1e6, "macs_per_frame": 4e6, "fps_b1": 500.0,
            "latency_ms_b1": 2.0, "fps_b1024": 1e4, "macs_per_s_b1024": 4e10,
            "train_samples_per_s_b256": 1e3, "peak_rss_mib": 300.0, "bf16_fps_b1024": 2e4,
            "bf16_latency_ms_b1": 3.0, "ort_fps_b1024": 1.5e4, "ort_latency_ms_b1": 1.0}
    text = format_bench({"machine": {"cpu": "X", "cores": 2}, "threads": 1, "clock": "cpu",
                         "date": "d", "presets": {"skelgnn-1f": full}, "ratios": {}})
    assert "d, cpu clock." in text
    assert "| skelgnn-1f | 10000 | 2.00 | 20000 | 15000 | 3.00 | 1.00 |" in text


def test_cpu_clock_counts_work_not_waiting():
    import time

    import skelgnn.evaluate.speed as bench

    old = bench._clock
    bench._clock = bench.CLOCKS["cpu"]
    try:
        assert bench._median_time(lambda: time.sleep(0.02), 3) < 0.01  # sleeping is no work
    finally:
        bench._clock = old
