"""Shared pytest setup: CPU only, few threads, deterministic; the smoke plan's runs, built once."""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# No OMP_WAIT_POLICY here: the tests see the library's own choice (dualaction_lib/threads.py); the test
# process itself runs torch on one thread, where the policy does not matter.

import pytest  # noqa: E402
import torch  # noqa: E402
from fakes import fake_data  # noqa: E402, F401 (fixture: the in-memory data package of the engine tests)

torch.set_num_threads(1)  # the test models are tiny: threads cost more than they bring

ROOT = Path(__file__).resolve().parent.parent
SMOKE_PLAN = ROOT / "configs" / "plans" / "smoke.yaml"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def smoke_plan(tmp_path_factory) -> dict:
    """The whole smoke plan through papermill (all five notebooks, batch), once per test session.

    Runs, executed notebooks and figures go to a temp ``out_dir``: ``preset_dir`` is ``<out_dir>/smoke``.
    Used by the batch-notebook tests and, as trained runs, by the browser test.
    """
    from dualaction_lib import workbook

    out_dir = tmp_path_factory.mktemp("smoke_runs")
    start = time.perf_counter()
    results = workbook.run_plan(
        SMOKE_PLAN, ROOT, overrides={"out_dir": str(out_dir)}, log=lambda *a, **k: None
    )
    seconds = time.perf_counter() - start
    print(f"\nsmoke plan: {len(results)} notebooks in {seconds:.0f}s")
    print(workbook.summary_table(results, ROOT))
    return {"results": results, "preset_dir": out_dir / "smoke", "seconds": seconds}
