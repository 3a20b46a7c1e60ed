"""Presets, recipes, overrides (keyword, dotted, CLI) and the error messages for bad keys and types."""

from __future__ import annotations

import pytest
import yaml

from dualaction_lib.config import (
    RECIPE_DIR,
    Config,
    ConfigError,
    list_presets,
    load_config,
    override,
)
from dualaction_lib.engine.cli import parse_cli_overrides
from dualaction_lib.rundir import RunDir

PAPER = ["paper_hmdb51_16f", "paper_hmdb51_64f", "paper_ucf101_16f", "paper_ucf101_64f"]


def test_all_presets_load():
    assert {"smoke", "cpu", *PAPER} <= set(list_presets())
    for name in list_presets():
        cfg = load_config(name)
        assert isinstance(cfg, Config) and cfg.preset == name


def test_mars_recipe_defaults():
    cfg = load_config("paper_ucf101_16f", recipe="mars")
    assert cfg.optim.dampening == 0.9 and cfg.optim.scheduler == "plateau" and cfg.optim.patience == 10
    ft = load_config("cpu", recipe="mars_finetune")
    assert (
        ft.optim.lr == 0.001 and ft.model.finetune_from == "layer4"
    )  # recipe asked for wins over the preset
    assert set(list_presets(RECIPE_DIR)) >= {"paper", "mars", "mars_finetune", "cpu"}


def test_recipes_inherit_with_base_like_presets():
    finetune = yaml.safe_load((RECIPE_DIR / "mars_finetune.yaml").read_text())
    assert finetune["base"] == "mars_sgd" and "dampening" not in finetune["optim"]
    cfg = load_config("smoke", recipe="mars_finetune")
    assert (cfg.optim.dampening, cfg.optim.lr, cfg.optim.batch_size) == (0.9, 0.001, 4)  # preset's batch


def test_cpu_and_smoke_are_small():
    cpu, smoke = load_config("cpu"), load_config("smoke")
    assert (
        cpu.model.widths
        and max(cpu.model.widths) <= 128
        and cpu.data.clip_len <= 16
        and cpu.data.crop_size <= 64
    )
    assert smoke.optim.epochs <= 2 and smoke.data.synthetic["num_classes"] == 4
    assert smoke.data.frames_root != cpu.data.frames_root


def test_overrides_keyword_dotted_nested():
    cfg = load_config(
        "cpu", method="mars", seed=2, data={"split": 2}, **{"optim.lr": 0.01, "model.widths": [8, 8, 8, 8]}
    )
    assert (cfg.method, cfg.seed, cfg.data.split, cfg.optim.lr, cfg.model.widths) == (
        "mars",
        2,
        2,
        0.01,
        (8,) * 4,
    )
    assert cfg.data.clip_len == load_config("cpu").data.clip_len  # untouched siblings survive
    assert str(RunDir.of(cfg).path) == "runs/cpu/mars_seed2"
    assert RunDir.of(override(cfg, name="x")).path.name == "x"
    assert load_config("cpu", **{"optim.epochs": 3.0}).optim.epochs == 3  # integral float is fine


def test_cli_strings_are_parsed_against_field_types():
    tokens = [
        "--optim.lr",
        "0.01",
        "--data.flip=false",
        "--model.widths",
        "8,16,32,64",
        "--model.options",
        "{shortcut: A}",
        "--distill.teacher_widths",
        "none",
        "--data.clip_len",
        "16",
    ]
    cfg = load_config("cpu", **parse_cli_overrides(tokens))
    assert cfg.optim.lr == 0.01 and cfg.data.flip is False and cfg.model.widths == (8, 16, 32, 64)
    assert (
        cfg.model.options == {"shortcut": "A"}
        and cfg.distill.teacher_widths is None
        and cfg.data.clip_len == 16
    )
    with pytest.raises(ConfigError, match="missing value"):
        parse_cli_overrides(["--optim.lr"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"optim.lrr": 1}, r"optim\.lrr: unknown config key \(did you mean lr\?\)"),
        ({"nosuch": 1}, r"nosuch: unknown config key"),
        ({"optim.lr": "fast"}, r"^optim\.lr: 'fast' is not a valid number"),
        ({"data.clip_len": 1.5}, r"^data\.clip_len: 1\.5 is not a valid integer"),
        ({"data.flip": 3}, r"^data\.flip: 3 is not a valid boolean"),
        ({"model.widths": [8, "x"]}, r"^model\.widths\[1\]: 'x' is not a valid integer"),
        ({"data": 3}, r"^data: 3 is not a valid dictionary"),
        (
            {"method": "dss"},
            r"^method: 'dss' is not one of 'flow', 'rgb', .* or 'ds_gram' \(did you mean ds\?\)$",
        ),
        ({"recipe": "fast"}, r"recipe: no recipe 'fast'"),
        (
            {"optim.scheduler": "linear"},
            r"^optim\.scheduler: 'linear' is not one of 'plateau', 'cosine', 'step' or 'none'$",
        ),
        ({"distill.layers": ["layer1", "layer9"]}, r"distill\.layers\[1\]: 'layer9' is not one of"),
        ({"data.norm": "imagenet"}, r"^data\.norm: 'imagenet' is not one of 'mars' or 'kinetics'$"),
        ({"optim.epochs": -1}, r"optim\.epochs: -1 is out of range; expected an integer >= 0"),
        ({"eval.crops": 2}, r"^eval\.crops: 2 is not one of 1 or 3$"),
        ({"optim.schedular": "step"}, r"^optim\.schedular: unknown config key \(did you mean scheduler\?\)$"),
        (
            {"optim.scheduler": "plateu"},
            r"^optim\.scheduler: 'plateu' is not one of .* \(did you mean plateau\?\)$",
        ),
        ({"optimizer.lr": 1}, r"^optimizer: unknown config key \(did you mean optim\?\)$"),
        ({"device": "tpu"}, r"^device: got 'tpu'; string should match pattern '\^\(auto\|cpu\|cuda"),
    ],
)
def test_bad_keys_and_types_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("smoke", **overrides)


# (key, a value just outside the range, the range as the message states it, a value on its edge)
RANGE_CASES = [
    ("distill.alpha", -5, r"a number >= 0", 0),
    ("optim.lr", 0, r"a number > 0", 1e-9),
    ("optim.lr", -0.1, r"a number > 0", 1e-9),
    ("optim.lr", ".nan", r"a number > 0", 1e-9),
    ("optim.lr", ".inf", r"a number > 0", 1e-9),
    ("data.clip_len", 0, r"an integer >= 1", 1),
    ("optim.epochs", -1, r"an integer >= 0", 0),
    ("optim.batch_size", 0, r"an integer >= 1", 1),
    ("optim.weight_decay", -1e-4, r"a number >= 0", 0),
    ("optim.momentum", 1.0, r"a number >= 0 and < 1", 0),
    ("optim.momentum", -0.1, r"a number >= 0 and < 1", 0.99),
    ("model.dropout", 1.0, r"a number >= 0 and < 1", 0),
    ("data.crop_size", 0, r"an integer >= 1", 1),
    ("data.scales", "[1.0, 1.5]", r"less than or equal to 1", "[1.0]"),
    ("log_every", 0, r"an integer >= 1", 1),
    ("data.split", 4, r"an integer >= 1 and <= 3", 3),
]


@pytest.mark.parametrize(("key", "bad", "allowed", "edge"), RANGE_CASES)
def test_values_out_of_range_name_key_value_and_range(key, bad, allowed, edge):
    shown = key + (r"\[1\]" if key == "data.scales" else "")
    with pytest.raises(ConfigError, match=rf"^{shown}: .* is out of range; expected {allowed} "):
        load_config("smoke", **{key: bad})
    load_config("smoke", **{key: edge})  # the edge of the range is allowed


def test_rules_between_fields_name_the_key():
    with pytest.raises(
        ConfigError,
        match=r"^optim.nesterov: needs momentum > 0 and dampening 0 \(got 0.0 and 0.0\)$",
    ):
        load_config("smoke", **{"optim.nesterov": True, "optim.momentum": 0.0})


def test_unknown_preset_and_yaml_path(tmp_path):
    with pytest.raises(ConfigError, match="no preset 'nope'"):
        load_config("nope")
    path = tmp_path / "mine.yaml"
    path.write_text("base: smoke\nmethod: rgb\noptim: {epochs: 5}\n")
    cfg = load_config(path)
    assert (cfg.preset, cfg.method, cfg.optim.epochs, cfg.model.widths) == ("mine", "rgb", 5, (4, 8, 8, 16))
    path.write_text("optim: {lrr: 5}\n")
    with pytest.raises(ConfigError, match="optim.lrr"):
        load_config(path)


def test_save_read_round_trip(tmp_path):
    cfg = load_config("paper_hmdb51_64f", seed=3, **{"model.options": {"shortcut": "A"}})
    RunDir(tmp_path).write_config(cfg)
    assert RunDir(tmp_path).read_config() == cfg


def test_unknown_synthetic_key_is_a_config_error_naming_it():
    from dualaction_lib.engine.data import synthetic_spec

    assert synthetic_spec({"videos_per_class_train": 3, "frame_size": [32, 32]}).frame_size == (32, 32)
    with pytest.raises(
        ConfigError, match=r"data.synthetic: unknown key\(s\) \['videos_per_class_train:60'\]"
    ):
        synthetic_spec({"videos_per_class_train:60": None})  # YAML '{a:60}' without a space after the colon
    with pytest.raises(ConfigError, match="data.synthetic.num_frames: must be >= 2"):
        synthetic_spec({"num_frames": 1})
    assert synthetic_spec({"task": "objects"}).classes[0] == "BallMoveLeft"
    tasks = r"\['motion', 'objects', 'mixed'\]"
    with pytest.raises(ConfigError, match=rf"^data.synthetic.task: must be one of {tasks}"):
        synthetic_spec({"task": "object"})
