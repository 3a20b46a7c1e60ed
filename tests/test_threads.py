"""OMP_WAIT_POLICY=PASSIVE only for children that share the cores: extraction workers, parallel kernels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from dualaction_lib.data import extract
from dualaction_lib.threads import children_share_cores
from dualaction_lib.workbook import execute

POLICY = "OMP_WAIT_POLICY"


@pytest.fixture(autouse=True)
def _no_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from an environment without a wait policy, as a user's shell has."""
    monkeypatch.delenv(POLICY, raising=False)


def test_set_inside_the_block_and_removed_after() -> None:
    with children_share_cores():
        assert os.environ[POLICY] == "PASSIVE"
    assert POLICY not in os.environ


def test_not_set_when_children_do_not_share() -> None:
    with children_share_cores(sharing=False):
        assert POLICY not in os.environ
    assert POLICY not in os.environ


def test_a_policy_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLICY, "ACTIVE")
    with children_share_cores():
        assert os.environ[POLICY] == "ACTIVE"
    assert os.environ[POLICY] == "ACTIVE"


def test_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), children_share_cores():
        raise RuntimeError("boom")
    assert POLICY not in os.environ


def report_policy(job: extract.VideoJob, out: Path, settings, threads: int | None) -> dict:
    """Stands in for the extraction worker: what the process that runs the job sees."""
    return {"video_id": job.video_id, "policy": os.environ.get(POLICY), "pid": os.getpid()}


@pytest.mark.parametrize(("workers", "expected"), [(1, None), (2, "PASSIVE")])
def test_extraction_workers_share_cores_a_single_extraction_does_not(
    workers: int, expected: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pool spawns real processes; they import this module to run report_policy.
    monkeypatch.setattr(extract, "_run_job", report_policy)
    jobs = [extract.VideoJob(f"v{k}", tmp_path / f"v{k}.avi") for k in range(2)]
    results = list(extract._run_all(jobs, tmp_path, extract.ExtractSettings(), workers, progress=False))
    assert sorted(r["video_id"] for r in results) == ["v0", "v1"]
    assert {r["policy"] for r in results} == {expected}
    in_process = {r["pid"] for r in results} == {os.getpid()}
    assert in_process == (workers == 1), "one worker extracts in the calling process"
    assert POLICY not in os.environ, "the caller's own environment is left as it was"


@pytest.mark.parametrize(("jobs", "expected"), [(1, None), (2, "PASSIVE")])
def test_kernels_run_at_once_share_cores_a_single_kernel_does_not(
    jobs: int, expected: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tiny.ipynb").write_text("{}")
    plan = {"name": "t", "steps": [{"name": "grid", "notebook": "tiny.ipynb", "grid": {"x": [1, 2]}}]}
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    seen = []

    def launch(job, root, kernel, timeout, guard) -> execute.Result:
        seen.append(os.environ.get(POLICY))  # the environment the kernel's process would inherit
        return execute.Result(job, "ok")

    monkeypatch.setattr(execute, "execute_job", launch)
    results = execute.run_plan(tmp_path / "plan.yaml", root=tmp_path, jobs=jobs, log=lambda *a, **k: None)
    assert [r.status for r in results] == ["ok", "ok"]
    assert seen == [expected, expected]
    assert POLICY not in os.environ
