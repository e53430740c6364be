"""Tests of skelgnn.train.config: defaults, TOML parsing, ``--set`` overrides and validation."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from skelgnn.train.config import (DataConfig, ExperimentConfig, TrainConfig, apply_overrides,
                            experiment_from_dict, load_config)
from skelgnn.models import PRESETS, TCNConfig


def test_load_config_none_gives_the_defaults():
    cfg = load_config(None)
    assert cfg == ExperimentConfig()
    assert cfg.preset == "skelgnn-1f"
    assert cfg.model == PRESETS["skelgnn-1f"]
    assert cfg.data == DataConfig()
    assert (cfg.data.source, cfg.data.split, cfg.data.frame_stride) == ("det", "val", 2)
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr) == (20, 256, 1e-3)
    assert cfg.train.amsgrad is True and cfg.train.flip_augment is True


def test_toml_file_is_parsed(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('[model]\npreset = "tcn-9f"\nchannels = 64\n\n'
                    '[data]\nsource = "gt"\nsplit = "test"\nframe_stride = 1\n\n'
                    '[train]\nepochs = 3\nlr = 5e-4\nflip_augment = false\n')
    cfg = load_config(path)
    assert cfg.preset == "tcn-9f"
    assert cfg.model == TCNConfig(channels=64, filter_widths=(3, 3))
    assert cfg.data == DataConfig(source="gt", split="test", frame_stride=1)
    assert cfg.train == TrainConfig(epochs=3, lr=5e-4, flip_augment=False)


def test_mini_config_file():
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "mini.toml")
    assert cfg.model == dataclasses.replace(PRESETS["skelgnn-1f"], channels=32, blocks=1)
    assert (cfg.data.split, cfg.data.frame_stride) == ("test", 1)
    assert (cfg.train.epochs, cfg.train.batch_size) == (3, 64)


def test_set_overrides_coerce_types():
    cfg = load_config(None, ["train.lr=1", "train.amsgrad=false", "train.epochs=4",
                             "model.filter_widths=[3, 3]", "model.squeeze=1",
                             "data.source=gt", "train.grad_clip=2"])
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)  # int -> float
    assert cfg.train.grad_clip == 2.0 and isinstance(cfg.train.grad_clip, float)
    assert cfg.train.amsgrad is False
    assert cfg.train.epochs == 4 and isinstance(cfg.train.epochs, int)
    assert cfg.model.filter_widths == (3, 3)  # TOML list -> tuple
    assert cfg.model.receptive_field == 9
    assert cfg.model.squeeze == 1.0 and isinstance(cfg.model.squeeze, float)
    assert cfg.data.source == "gt"  # a bare word is a string


def test_set_overrides_win_over_the_file(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text("[train]\nepochs = 3\nlr = 5e-4\n")
    cfg = load_config(path, ["train.epochs=7"])
    assert cfg.train.epochs == 7 and cfg.train.lr == 5e-4


def test_apply_overrides_does_not_modify_its_input():
    raw = {"train": {"epochs": 3}}
    out = apply_overrides(raw, ["train.epochs=5", "model.channels=32"])
    assert raw == {"train": {"epochs": 3}}
    assert out == {"train": {"epochs": 5}, "model": {"channels": 32}}


@pytest.mark.parametrize("override, words", [
    ("train.amsgrad=1", ["train.amsgrad", "true or false"]),
    ("train.epochs=2.5", ["train.epochs", "int"]),
    ("train.lr=fast", ["train.lr", "float"]),
    ("data.source=true", ["data.source", "str"]),
    ("train.epochs=true", ["train.epochs", "int"]),  # bool is an int subclass in Python
    ("train.seed=false", ["train.seed", "int"]),
    ("data.frame_stride=true", ["data.frame_stride", "int"]),
    ("model.filter_widths=3", ["model.filter_widths", "tuple"]),
    ("data.root=5", ["data.root", "string"]),
])
def test_set_overrides_reject_wrong_types(override, words):
    with pytest.raises(ValueError) as exc:
        load_config(None, [override])
    for w in words:
        assert w in str(exc.value)


def test_unknown_key_is_rejected_with_a_suggestion():
    with pytest.raises(ValueError, match=r"unknown config key 'train\.lrr'.*did you mean 'lr'"):
        load_config(None, ["train.lrr=0.1"])
    with pytest.raises(ValueError, match=r"'model\.chanels'.*did you mean 'channels'"):
        load_config(None, ["model.chanels=32"])
    with pytest.raises(ValueError, match=r"'data\.sorce'.*did you mean 'source'"):
        load_config(None, ["data.sorce=gt"])


def test_unknown_section_and_malformed_set():
    with pytest.raises(ValueError, match=r"unknown section 'trian'.*did you mean 'train'"):
        load_config(None, ["trian.lr=0.1"])
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["lr=0.1"])
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["train.lr"])


def test_unknown_toml_section_is_rejected(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text("[trainn]\nepochs = 3\n")
    with pytest.raises(ValueError, match=r"'<top>\.trainn'.*did you mean 'train'"):
        load_config(path)


def test_unknown_preset_suggestion():
    with pytest.raises(ValueError, match=r"unknown model preset 'skelgnn-27'.*did you mean"):
        load_config(None, ["model.preset=skelgnn-27"])
    with pytest.raises(ValueError, match=r"did you mean 'tcn-9f'"):
        load_config(None, ["model.preset=tcn-9"])


@pytest.mark.parametrize("override, field", [
    ("data.source=foo", "data.source"),
    ("data.split=train", "data.split"),
    ("data.frame_stride=0", "data.frame_stride"),
    ("data.normalization=pixels", "data.normalization"),
    ("train.epochs=0", "train.epochs"),
    ("train.batch_size=1", "train.batch_size"),
    ("train.lr=0", "train.lr"),
    ("train.lr_decay=1.5", "train.lr_decay"),
    ("train.loss=l2", "train.loss"),
    ("train.threads=0", "train.threads"),
    ("train.bn_momentum_end=0", "train.bn_momentum_end"),
    ("train.bn_momentum_end=nan", "train.bn_momentum_end"),
    ("train.grad_clip=nan", "train.grad_clip"),
    ("train.grad_clip=-1", "train.grad_clip"),
    ("train.validate_every=-1", "train.validate_every"),
    ("train.lr=nan", "train.lr"),
    ("train.lr=inf", "train.lr"),
    ("train.weight_decay=nan", "train.weight_decay"),
    ("train.weight_decay=-1e-4", "train.weight_decay"),
    ("train.seed=-1", "train.seed"),
    ("train.max_samples=-1", "train.max_samples"),
    ("train.threads=100000", "train.threads"),
])
def test_invalid_values_name_the_field(override, field):
    with pytest.raises(ValueError) as exc:
        load_config(None, [override])
    assert field in str(exc.value)


def test_invalid_model_value_is_rejected():
    with pytest.raises(ValueError, match="squeeze"):
        load_config(None, ["model.squeeze=0"])


def test_missing_and_malformed_config_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = 3\n")
    with pytest.raises(ValueError, match="not valid TOML") as exc:
        load_config(bad)
    assert str(bad) in str(exc.value)


@pytest.mark.parametrize("overrides", [
    [],
    ["model.preset=tcn-9f", "model.channels=32", "data.source=gt", "train.epochs=2",
     "train.lr=2e-4", "train.flip_augment=false"],
    ["model.preset=skelgnn-27f", "model.filter_widths=[3, 3]", "data.normalization=box"],
])
def test_to_dict_round_trip(overrides):
    cfg = load_config(None, overrides)
    back = experiment_from_dict(cfg.to_dict())
    assert back == cfg
    assert back.to_dict() == cfg.to_dict()


def test_to_dict_holds_plain_values_only():
    d = load_config(None, ["model.preset=skelgnn-27f"]).to_dict()
    assert d["preset"] == "skelgnn-27f"
    assert d["model"]["arch"] == "skelgnn"
    assert d["model"]["filter_widths"] == [3, 3, 3]  # a list, not a tuple (JSON / weights_only)
    assert d["train"]["epochs"] == 20 and d["data"]["source"] == "det"


def test_model_override_applies_to_the_preset():
    cfg = load_config(None, ["model.channels=32"])
    assert cfg.model == dataclasses.replace(PRESETS["skelgnn-1f"], channels=32)
    assert cfg.model.channels == 32 and cfg.model.blocks == PRESETS["skelgnn-1f"].blocks
    cfg = load_config(None, ["model.preset=skelgnn-27f", "model.channels=32"])
    assert cfg.model == dataclasses.replace(PRESETS["skelgnn-27f"], channels=32)
    assert cfg.model.receptive_field == 27


CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_is_the_recipe_plus_its_declared_differences(path):
    """A config file resolves to the dataclass defaults except for the fields it sets, and it
    sets no field to the value the default already has (one recipe, stated once)."""
    import tomllib

    raw = tomllib.loads(path.read_text())
    cfg = load_config(path)
    for section, cls in (("data", DataConfig), ("train", TrainConfig)):
        declared = raw.get(section, {})
        resolved = getattr(cfg, section)
        default = cls()
        for f in dataclasses.fields(cls):
            if f.name in declared:
                assert getattr(resolved, f.name) == declared[f.name]
                assert declared[f.name] != getattr(default, f.name), \
                    f"{path.name} restates the default {section}.{f.name}"
            else:
                assert getattr(resolved, f.name) == getattr(default, f.name), (section, f.name)


def test_the_default_schedule_is_the_benchmark_recipe():
    t, d = TrainConfig(), DataConfig()
    assert (t.epochs, t.batch_size, t.lr, t.lr_decay, t.bn_momentum_end) == (20, 256, 1e-3, 0.95,
                                                                             0.01)
    assert (d.source, d.split, d.frame_stride) == ("det", "val", 2)
    # every benchmark row (benchmarks/run.py: a preset from the registry, or a config file where
    # the row carries more settings); the footage (video) configs add virtual cameras and detector
    # noise on purpose and are no benchmark row
    from conftest import load_benchmark_script

    bench = load_benchmark_script("run")
    assert len(bench.ROWS) >= 12
    # A benchmark row differs from the recipe in its model only, and in the per-model fields
    # chosen on val that do not change the budget (batch-norm statistics re-estimated after the
    # last epoch: the graph baselines, configs/semgcn-1f.toml).
    # The "-tuned" rows also carry the learning rate their own val search chose
    # (benchmarks/val.py, round b1-baselines): the budget (epochs, samples, schedule) is the same.
    per_model = {"precise_bn_batches"}
    for name in bench.ROWS:
        cfg = bench.row_config(name)
        assert cfg.preset == name
        chosen = per_model | ({"lr"} if name.endswith("-tuned") else set())
        same_budget = dataclasses.replace(
            cfg.train, **{f: getattr(TrainConfig(), f) for f in chosen})
        assert same_budget == TrainConfig(), name
        assert cfg.data == DataConfig(), name


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_file_carries_settings_beyond_its_preset(path):
    """A file that would only name a preset is not kept: presets come from the registry."""
    import tomllib

    raw = tomllib.loads(path.read_text())
    beyond = {k for k in raw.get("model", {}) if k != "preset"} | set(raw.get("data", {})) \
        | set(raw.get("train", {}))
    assert beyond, f"{path.name} only names a preset: use --set model.preset=NAME instead"


def test_allowed_values_are_one_literal_each():
    from skelgnn.cli import build_parser
    from skelgnn.data.codec import CODEC_MODES
    from skelgnn.options import Device, Normalization, Source, choices

    assert CODEC_MODES == choices(Normalization) == ("screen", "box")
    sub = {a.dest: a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions}
    assert tuple(sub["device"].choices) == choices(Device)
    ev = build_parser()._subparsers._group_actions[0].choices["evaluate"]
    assert tuple(next(a for a in ev._actions if a.dest == "source").choices) == choices(Source)
    with pytest.raises(ValueError, match="data.source must be 'det' or 'gt', got 'foo'"):
        DataConfig(source="foo")
    with pytest.raises(ValueError, match="'none', 'framewise' or 'temporal'"):
        dataclasses.replace(PRESETS["skelgnn-1f"], dynamic="static")


def test_thread_bound_follows_the_machine(monkeypatch):
    import skelgnn.train.config as config_mod

    monkeypatch.setattr(config_mod.os, "cpu_count", lambda: 2)
    assert TrainConfig(threads=8).threads == 8
    with pytest.raises(ValueError, match="between 1 and 8"):
        TrainConfig(threads=9)
    assert TrainConfig(validate_every=0).validate_every == 0  # 0: never validate


def test_train_cli_refuses_bad_fields_without_traceback(capsys):
    from skelgnn.cli import main

    assert main(["train", "--set", "train.grad_clip=nan", "--run-dir", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "train.grad_clip" in err and "Traceback" not in err
