"""The run folder (``dualaction_lib.rundir``): the naming rule, the identity record, finding runs by it.

Tables select runs by what run.json says they are, never by their folder names: the cases below give
folders names that lie and check that the identity wins. The last test holds the package to it: no module
outside ``rundir`` spells a run folder's file names or builds ``<method>_seed<k>``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from dualaction_lib.config import ConfigError, load_config, override
from dualaction_lib.rundir import RunDir, identity_of, run_name
from dualaction_lib.study import collect

PACKAGE = Path(__file__).resolve().parent.parent / "dualaction_lib"


def _cfg(tmp_path: Path, **overrides):
    return load_config("smoke", out_dir=str(tmp_path), **{"distill.teacher_seeds": 3, **overrides})


def _evaluated(tmp_path: Path, name: str, top1: float, **overrides) -> RunDir:
    """A claimed run folder called ``name`` (whatever its config would name it) with an evaluation."""
    cfg = _cfg(tmp_path, **overrides)
    rd = RunDir(tmp_path / "smoke" / name)
    rd.claim(cfg)
    rd.write_eval({"video_top1": top1, "num_classes": 4, "num_videos": 8})
    return rd


# ------------------------------------------------------------------------------------- naming
def test_the_naming_rule() -> None:
    assert run_name("ds", 3) == "ds_seed3"
    assert run_name("mars", 1, "norm") == "mars_norm_seed1"
    assert run_name("rgb", 2, "scratch") == "rgb_scratch_seed2"
    assert run_name("ds", 1, "sweep", 0.0) == "ds_alpha0_seed1"
    assert run_name("ds", 1, "sweep", 0.5) == "ds_alpha0.5_seed1"
    assert run_name("ds", 1, "sweep", 50) == "ds_alpha50_seed1"
    assert run_name("ds", 4, "other") == "ds_other_seed4"
    with pytest.raises(ValueError, match="a sweep run's name needs its alpha"):
        run_name("ds", 1, "sweep")
    with pytest.raises(
        ValueError, match="variant must be one of main, scratch, norm, nopool, sweep, other, got 'x'"
    ):
        run_name("ds", 1, "x")


def test_a_config_names_its_folder(tmp_path: Path) -> None:
    assert RunDir.of(_cfg(tmp_path, method="ds", seed=2)).path == tmp_path / "smoke" / "ds_seed2"
    sweep = _cfg(tmp_path, method="ds", seed=2, variant="sweep", **{"distill.alpha": 10})
    assert RunDir.of(sweep).name == "ds_alpha10_seed2"
    assert RunDir.of(override(sweep, name="mine")).name == "mine"  # an explicit name wins
    fusion = RunDir.fusion_of(RunDir(tmp_path / "ds_seed1"), RunDir(tmp_path / "flow_seed0"), "average")
    assert fusion.path == tmp_path / "fusion_ds_seed1+flow_seed0_average"
    with pytest.raises(ConfigError, match="variant"):
        _cfg(tmp_path, variant="nope")


# ----------------------------------------------------------------------------------- identity
def test_claim_writes_the_identity_record(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, method="ds", seed=4, variant="norm", **{"distill.normalize": "step0"})
    rd = RunDir.of(cfg)
    rd.claim(cfg)
    assert sorted(p.name for p in rd.path.iterdir()) == ["config.yaml", "run.json"]
    recorded = json.loads(rd.identity_path.read_text())
    assert recorded == rd.identity() == identity_of(cfg)
    assert recorded == {
        "format": 1,
        "kind": "run",
        "method": "ds",
        "seed": 4,
        "variant": "norm",
        "preset": "smoke",
        "group": "smoke",
        "init": cfg.model.init,
        "init_from": str(tmp_path / cfg.model.source_preset / "rgb_seed0"),
        "teacher": str(tmp_path / "smoke" / "flow_seed1"),  # seed 4 mod 3 teacher seeds
        "teacher_seed": 1,
        "alpha": float(cfg.distill.alpha),
        "normalize": "step0",
    }
    assert rd.read_config() == cfg


def test_a_fresh_claim_clears_the_previous_results(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, method="rgb")
    rd = RunDir.of(cfg)
    rd.claim(cfg)
    rd.append_metrics({"kind": "epoch", "epoch": 0})
    rd.write_eval({"video_top1": 0.5})
    rd.save_scores(lambda f: f.write(b"scores"))
    assert rd.is_complete() and rd.check_resume(cfg)  # same config: complete, nothing to train
    rd.claim(override(cfg, resume=False))
    assert sorted(p.name for p in rd.path.iterdir()) == ["config.yaml", "run.json"]


def test_resuming_another_config_is_refused_in_one_line(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, method="rgb")
    rd = RunDir.of(cfg)
    rd.claim(cfg)
    other = override(cfg, **{"optim.lr": 0.5, "progress": False})  # progress: how to run, not what
    with pytest.raises(ConfigError) as err:
        rd.check_resume(other)
    assert str(err.value) == (
        f"{rd.path}: holds a run with another config (keys differ: optim.lr); overwrite it with --fresh "
        f"(resume=False), or choose another --name"
    )


def test_the_metrics_log_round_trip_and_truncation(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    assert rd.read_metrics() == [] and rd.read_eval() == {}
    rd.path.mkdir()
    for epoch in range(3):
        rd.append_metrics({"kind": "step", "epoch": epoch, "step": 10 * epoch})
        rd.append_metrics({"kind": "epoch", "epoch": epoch})
    rd.append_metrics({"kind": "ddp", "agree": True})
    assert [r["epoch"] for r in rd.read_metrics("epoch")] == [0, 1, 2]
    rd.truncate_metrics(2)  # resuming after epoch 1: epoch 2's records and the ddp record go
    assert [(r["kind"], r["epoch"]) for r in rd.read_metrics()] == [
        ("step", 0), ("epoch", 0), ("step", 1), ("epoch", 1),
    ]  # fmt: skip


def test_a_lock_on_a_new_folder_leaves_nothing_when_nothing_was_claimed(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "smoke" / "rgb_seed0")
    with pytest.raises(RuntimeError, match="refused"), rd.lock("training"):
        assert (rd.path / ".lock").is_file()
        raise RuntimeError("refused")
    assert not rd.path.exists()
    cfg = _cfg(tmp_path, method="rgb")
    with rd.lock("training"):
        rd.claim(cfg)
    assert sorted(p.name for p in rd.path.iterdir()) == ["config.yaml", "run.json"]


# ----------------------------------------------------------------------- finding runs by identity
def test_find_and_runs_in_read_identities_not_names(tmp_path: Path) -> None:
    group = tmp_path / "smoke"
    main = _evaluated(tmp_path, "ds_seed1", 0.5, method="ds", seed=1)
    liar = _evaluated(tmp_path, "ds_seed2", 0.4, method="ds", seed=2, variant="norm")  # name says main
    _evaluated(tmp_path, "x", 0.3, method="rgb", seed=1)
    assert [rd.name for rd in RunDir.runs_in(group)] == ["ds_seed1", "ds_seed2", "x"]
    assert RunDir.find(group, "ds", 1) == main
    assert RunDir.find(group, "ds", 2) is None
    assert RunDir.find(group, "ds", 2, "norm") == liar
    assert RunDir.find(group, "rgb", 1).name == "x"
    assert RunDir.find(tmp_path / "missing", "ds", 1) is None


def test_tables_select_runs_by_their_identity(tmp_path: Path) -> None:
    _evaluated(tmp_path, "ds_seed1", 0.5, method="ds", seed=1)
    _evaluated(tmp_path, "ds_seed2", 0.4, method="ds", seed=2, variant="sweep", **{"distill.alpha": 0})
    _evaluated(tmp_path, "renamed", 0.3, method="rgb", seed=1, variant="scratch", **{"model.init": "scratch"})
    runs = collect.collect_runs(tmp_path / "smoke").set_index("run")
    assert runs.loc["ds_seed1", ["method", "seed", "variant"]].tolist() == ["ds", 1, "main"]
    assert runs.loc["ds_seed2", ["variant", "alpha"]].tolist() == ["sweep", 0.0]
    assert runs.loc["renamed", ["method", "variant", "init"]].tolist() == ["rgb", "scratch", "scratch"]


def test_folders_without_an_identity_are_left_out_with_a_warning(tmp_path: Path) -> None:
    _evaluated(tmp_path, "ds_seed1", 0.5, method="ds", seed=1)
    legacy = tmp_path / "smoke" / "ds_seed2"  # written before run.json existed
    legacy.mkdir()
    RunDir(legacy).write_config(_cfg(tmp_path, method="ds", seed=2))
    (legacy / "eval.json").write_text(json.dumps({"video_top1": 0.9}))
    (tmp_path / "smoke" / "results").mkdir()  # a notebook's results folder is not a run: no warning
    with pytest.warns(UserWarning) as caught:
        runs = collect.collect_runs(tmp_path / "smoke")
    assert runs.run.tolist() == ["ds_seed1"]
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'smoke'}: left out 1 run folder(s) without run.json (ds_seed2); rerun their train "
        f"command to record what they are (a complete run is not retrained)"
    ]
    cfg = _cfg(tmp_path, method="ds", seed=2)
    rd = RunDir(legacy)
    assert not rd.check_resume(cfg)  # not complete (no scores): a rerun would train it and claim it
    rd.claim(cfg)
    assert rd.identity()["variant"] == "main" and rd.read_eval() == {"video_top1": 0.9}


def test_a_legacy_folder_resumes_without_its_variant_recorded(tmp_path: Path) -> None:
    """A run trained before variants existed has no ``variant`` in config.yaml (reading it gives the default),
    and the old plans named it with ``name``: the plan's rerun with ``variant: norm`` resumes it."""
    cfg = _cfg(tmp_path, method="ds", seed=1, variant="norm", **{"distill.normalize": "step0"})
    rd = RunDir.of(cfg)
    rd.path.mkdir(parents=True)
    rd.write_config(override(cfg, variant="main", name="ds_norm_seed1"))
    assert rd.check_resume(cfg) is False
    rd.claim(cfg)
    assert rd.identity()["variant"] == "norm"


# ------------------------------------------------------------------ one module knows the files
RUN_FILES = (
    "eval.json",
    "config.yaml",
    "metrics.jsonl",
    "scores.pt",
    "checkpoint.pt",
    "fusion.pt",
    "run.json",
)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they may describe a run folder)."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def test_only_the_run_folder_spells_its_files_and_names() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "rundir":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                offenders += [f"{path.name}:{node.lineno} {f}" for f in RUN_FILES if f in node.value]
            if isinstance(node, ast.JoinedStr):  # f"..._seed{k}"
                parts = node.values
                for text, nxt in zip(parts, parts[1:], strict=False):
                    literal = isinstance(text, ast.Constant) and str(text.value).endswith("_seed")
                    if literal and isinstance(nxt, ast.FormattedValue):
                        offenders.append(f"{path.name}:{node.lineno} builds <name>_seed<k>")
    assert not offenders, offenders


def test_a_hand_typed_train_is_filed_under_the_experiment_its_overrides_make():
    from dualaction_lib.engine.cli import implied_variant

    preset = load_config("cpu", method="ds")  # init pretrained, normalize none, five levels, alpha 3

    def variant(**changes):
        return implied_variant(preset, override(preset, **changes))

    assert variant(seed=4) == "main"
    assert variant(**{"model.init": "scratch"}) == "scratch"
    assert variant(**{"distill.normalize": "step0", "distill.alpha": 1}) == "norm"
    assert variant(**{"distill.alpha": 10}) == "sweep"
    assert variant(**{"distill.layers": ["layer1", "layer2", "layer3", "layer4"]}) == "nopool"
    assert variant(**{"distill.layers": ["layer4", "pool"]}) == "other"
    assert variant(**{"model.init": "scratch", "distill.alpha": 10}) == "other"
    assert implied_variant(preset, override(preset, **{"model.init": "pretrained"})) == "main"


def test_train_command_records_the_implied_variant(monkeypatch, capsys):
    import importlib

    from dualaction_lib.__main__ import main

    engine_train = importlib.import_module("dualaction_lib.engine.train")  # the module, not the function

    seen = []
    monkeypatch.setattr(engine_train, "train", lambda cfg: seen.append(cfg) or RunDir.of(cfg).path)
    assert (
        main(["train", "--preset", "smoke", "--method", "ds", "--seed", "1", "--model.init", "scratch"]) == 0
    )
    assert (seen[0].variant, RunDir.of(seen[0]).name) == ("scratch", "ds_scratch_seed1")
    assert capsys.readouterr().err == ""  # a refusal stays one line: nothing else is printed
    assert (
        main(["train", "--preset", "smoke", "--seed", "1", "--model.init", "scratch", "--variant", "other"])
        == 0
    )
    assert seen[1].variant == "other"
