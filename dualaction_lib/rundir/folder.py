"""A run folder: its files, its identity record (``run.json``), its lock; finding runs by identity.

``<out_dir>/<group>/<name>/`` (``name``: :func:`dualaction_lib.rundir.naming.run_name`) holds

- ``run.json``       what the run is: method, seed, variant, preset, init, teacher, α (written at claim);
- ``config.yaml``    the full config (a rerun resumes only with the same config);
- ``metrics.jsonl``  one record per logged interval, epoch and loss balance;
- ``checkpoint.pt``  model, optimizer, scheduler, RNG (atomic, every epoch);
- ``eval.json``, ``scores.pt``  the evaluation and the per-video scores (``eval_<protocol>.json`` and
  ``scores_<protocol>.pt`` for another protocol than the run's own).

A fusion folder holds ``run.json`` (kind ``fusion``), ``eval.json`` and ``fusion.pt``. Tables select runs
by ``run.json``, never by parsing folder names; a folder without it (written before identities were
recorded) is left out with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dualaction_lib.config import FREEFORM_KEYS, Config, ConfigError, build
from dualaction_lib.io import (
    append_jsonl,
    atomic_save,
    atomic_write_json,
    atomic_write_text,
    atomic_write_yaml,
    read_jsonl,
    read_yaml,
)
from dualaction_lib.locks import DirLock

from .naming import fusion_name, run_name

FORMAT = 1  # version of run.json
IDENTITY, CONFIG, METRICS, CHECKPOINT = "run.json", "config.yaml", "metrics.jsonl", "checkpoint.pt"
EVAL, SCORES, FUSION = "eval.json", "scores.pt", "fusion.pt"
# What a run writes after its claim: a fresh start (resume=False) deletes them.
RESULT_FILES = (METRICS, CHECKPOINT, EVAL, SCORES)
# Keys a resumed run may change: they say how to run, not what is trained.
_IGNORED_ON_RESUME = ("resume", "progress", "progress_interval", "log_every", "threads", "device", "amp")
_IGNORED_ON_RESUME += ("data.check",)  # how thoroughly the files are checked, not which are read
_IGNORED_ON_RESUME += ("name",)  # where the run lives: the folder being resumed is that place


def source_run(cfg: Config) -> Path | None:
    """The checkpoint file or run folder a run starts from (``model.pretrained``); None: random init.

    ``auto`` is the pretraining stage's main run of the same modality,
    ``<out_dir>/<model.source_preset>/<rgb|flow>_seed<model.source_seed>``.
    """
    m = cfg.model
    if m.init == "scratch":
        return None
    if m.pretrained == "auto":
        return Path(cfg.out_dir) / m.source_preset / run_name(cfg.input_modality, m.source_seed)
    return Path(m.pretrained)


def teacher_run(cfg: Config) -> Path:
    """``distill.teacher``: 'auto' is the group's main flow run of ``Config.teacher_seed``."""
    if cfg.distill.teacher == "auto":
        return Path(cfg.out_dir) / cfg.run_group / run_name("flow", cfg.teacher_seed)
    return Path(cfg.distill.teacher)


def identity_of(cfg: Config) -> dict[str, Any]:
    """The record ``run.json`` holds: what the run is, as the tables select it."""
    source = source_run(cfg)
    return {
        "format": FORMAT,
        "kind": "run",
        "method": cfg.method,
        "seed": cfg.seed,
        "variant": cfg.variant,
        "preset": cfg.preset,
        "group": cfg.run_group,
        "init": cfg.model.init,
        "init_from": "" if source is None else str(source),
        "teacher": str(teacher_run(cfg)) if cfg.is_distill else "",
        "teacher_seed": cfg.teacher_seed,  # the flow stream fused with this run (and its teacher)
        "alpha": float(cfg.distill.alpha),
        "normalize": cfg.distill.normalize,
    }


@dataclass(frozen=True)
class RunDir:
    """One run (or fusion) folder; every file name of a run folder is spelled here only."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # ------------------------------------------------------------------------------- where a run lives
    @classmethod
    def of(cls, cfg: Config) -> RunDir:
        """The folder of the run ``cfg`` trains: ``<out_dir>/<run group>/<name or the naming rule>``."""
        name = cfg.name or run_name(cfg.method, cfg.seed, cfg.variant, cfg.distill.alpha)
        return cls(Path(cfg.out_dir) / cfg.run_group / name)

    @classmethod
    def fusion_of(cls, run_a: RunDir, run_b: RunDir, method: str) -> RunDir:
        """The folder of a fusion of two runs: next to ``run_a``."""
        return cls(run_a.path.parent / fusion_name(run_a.name, run_b.name, method))

    @property
    def name(self) -> str:
        return self.path.name

    # ------------------------------------------------------------------------------------- its files
    @property
    def identity_path(self) -> Path:
        return self.path / IDENTITY

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def fusion_path(self) -> Path:
        return self.path / FUSION

    def eval_path(self, protocol: str = "") -> Path:
        """``eval.json``; ``eval_<protocol>.json`` for a protocol other than the run's own."""
        return self.path / (f"eval_{protocol}.json" if protocol else EVAL)

    def scores_path(self, protocol: str = "") -> Path:
        """``scores.pt``; ``scores_<protocol>.pt`` for a protocol other than the run's own."""
        return self.path / (f"scores_{protocol}.pt" if protocol else SCORES)

    def is_run(self) -> bool:
        """A folder written by ``train`` (it holds the run's config)."""
        return self.config_path.is_file()

    def is_evaluated(self) -> bool:
        return self.eval_path().is_file()

    def is_complete(self) -> bool:
        """Trained and evaluated: its eval.json and scores.pt exist."""
        return self.is_evaluated() and self.scores_path().is_file()

    def read_config(self) -> Config:
        """The run's config.yaml back as a Config; a damaged or outdated file is one line naming it."""
        data = read_yaml(self.config_path, ConfigError)
        if not isinstance(data, dict):
            raise ConfigError(
                f"{self.config_path}: expected a run's config (a mapping), found {type(data).__name__}"
            )
        try:
            return build(data)
        except ConfigError as err:
            raise ConfigError(f"{self.config_path}: {err}") from None

    def write_config(self, cfg: Config) -> None:
        atomic_write_yaml(self.config_path, cfg.to_dict())

    def identity(self) -> dict[str, Any] | None:
        """The run.json record, or None for a folder without one."""
        if not self.identity_path.is_file():
            return None
        return json.loads(self.identity_path.read_text(encoding="utf-8"))

    def read_eval(self, protocol: str = "") -> dict[str, Any]:
        """The evaluation result, or ``{}`` before the run has been evaluated."""
        path = self.eval_path(protocol)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def write_eval(self, result: dict[str, Any], protocol: str = "") -> None:
        atomic_write_json(self.eval_path(protocol), result)

    def save_scores(self, writer: Callable[[IO[bytes]], None], protocol: str = "") -> None:
        """Write scores.pt atomically; ``writer(f)`` saves the payload into the open file."""
        atomic_save(self.scores_path(protocol), writer)

    def read_metrics(self, kind: str | None = None) -> list[dict[str, Any]]:
        """metrics.jsonl's records (of one ``kind``: step, epoch, balance, ddp); [] before the first one."""
        records = read_jsonl(self.metrics_path) if self.metrics_path.is_file() else []
        return records if kind is None else [r for r in records if r.get("kind") == kind]

    def append_metrics(self, record: dict[str, Any]) -> None:
        append_jsonl(self.metrics_path, record)

    def truncate_metrics(self, start_epoch: int) -> None:
        """Drop records logged after the checkpoint a run resumes from (an interrupted epoch)."""
        if not self.metrics_path.is_file():
            return
        keep = [r for r in self.read_metrics() if r.get("epoch", -1) < start_epoch and r.get("kind") != "ddp"]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))

    def write_fusion(
        self, writer: Callable[[IO[bytes]], None], result: dict[str, Any], streams: list
    ) -> None:
        """A fusion's fusion.pt (``writer``), eval.json and identity (kind ``fusion``, its two streams)."""
        atomic_save(self.fusion_path, writer)
        atomic_write_json(self.eval_path(), result)
        identity = {"format": FORMAT, "kind": "fusion", "method": result["method"], "streams": streams}
        atomic_write_json(self.identity_path, identity)

    # ------------------------------------------------------------------------- owning the folder
    @contextlib.contextmanager
    def lock(self, purpose: str, held_here: bool = True) -> Iterator[None]:
        """The folder's lock (``locks.DirLock``; ``held_here=False``, DDP ranks > 0: none). A folder the
        lock created and nothing was written to (a run refused before its claim) is removed again."""
        if not held_here:
            yield
            return
        created = not self.path.exists()
        try:
            with DirLock(self.path, purpose):
                yield
        finally:
            if created:
                with contextlib.suppress(OSError):  # not empty: the run claimed it
                    self.path.rmdir()

    def check_resume(self, cfg: Config) -> bool:
        """Read-only: refuse a folder holding a run of another config; True when that run is complete."""
        if not (cfg.resume and self.is_run()):
            return False
        old, new = self.read_config().to_dict(), cfg.to_dict()
        if not cfg.is_distill:  # distillation settings do not change a flow or rgb run
            old.pop("distill", None), new.pop("distill", None)
        if self.identity() is None:  # written before variants were recorded: its name said it
            old.pop("variant", None), new.pop("variant", None)
        diff = sorted(_diff_keys(old, new))
        if diff:
            raise ConfigError(
                f"{self.path}: holds a run with another config (keys differ: {', '.join(diff)}); "
                f"overwrite it with --fresh (resume=False), or choose another --name"
            )
        return self.is_complete()

    def claim(self, cfg: Config) -> None:
        """Make the folder ``cfg``'s run: called once every check has passed, so a refused run leaves
        nothing behind. A fresh start (resume=False) deletes the previous run's results; a resumed run
        keeps its config.yaml. run.json is written when missing (also for a run that predates it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not cfg.resume:
            for name in (*RESULT_FILES, IDENTITY):
                (self.path / name).unlink(missing_ok=True)
        if not (cfg.resume and self.is_run()):
            self.write_config(cfg)
        if not self.identity_path.is_file():
            atomic_write_json(self.identity_path, identity_of(cfg))

    # ---------------------------------------------------------------------------- runs of a group
    @staticmethod
    def runs_in(group: str | os.PathLike, kind: str = "run") -> list[RunDir]:
        """The runs (``kind="fusion"``: fusions) of a group folder, by their run.json, sorted by name.

        A run folder without run.json (written before identities were recorded) is left out with one
        warning naming it.
        """
        found, legacy = [], []
        for folder in sorted(p for p in Path(group).iterdir() if p.is_dir()) if Path(group).is_dir() else []:
            rd = RunDir(folder)
            identity = rd.identity()
            if identity is None:
                if rd.is_run() or rd.is_evaluated():
                    legacy.append(rd.name)
                continue
            if identity.get("kind", "run") == kind:
                found.append(rd)
        if legacy and kind == "run":
            warnings.warn(
                f"{group}: left out {len(legacy)} run folder(s) without {IDENTITY} ({', '.join(legacy)}); "
                f"rerun their train command to record what they are (a complete run is not retrained)",
                stacklevel=2,
            )
        return found

    @staticmethod
    def find(group: str | os.PathLike, method: str, seed: int, variant: str = "main") -> RunDir | None:
        """The run of ``group`` whose identity is (method, seed, variant); None if there is none."""
        for rd in RunDir.runs_in(group):
            identity = rd.identity() or {}
            if (identity["method"], int(identity["seed"]), identity["variant"]) == (method, seed, variant):
                return rd
        return None


def _diff_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(old) | set(new)):
        if f"{prefix}{k}" in _IGNORED_ON_RESUME:
            continue
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict) and k not in FREEFORM_KEYS:
            keys += _diff_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            keys.append(f"{prefix}{k}")
    return keys
