"""Shared pytest setup: CPU only, few threads, deterministic."""

from __future__ import annotations

import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# OpenMP's default spinning barriers make torch crawl when processes share the 2 cores (kernels, workers).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # the test models are tiny: threads cost more than they bring


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
