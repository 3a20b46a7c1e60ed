"""OpenMP's wait policy for child processes that share CPU cores (docs/architecture.md, "Threads").

By default an OpenMP thread that reaches a barrier spins for a while before it sleeps: the fast choice for
a process that has the cores to itself. When several processes share the cores, each one's spinning threads
take the cores the others need, and ``OMP_WAIT_POLICY=PASSIVE`` (sleep at once) keeps them fast. Both ways,
measured: ``bench/threads.py`` → ``bench/results/threads.json``.

The policy is read once, when a process loads its OpenMP runtime (the first ``import torch``), so it can only
be chosen for processes not yet started: :func:`children_share_cores` sets it for the children a block
starts, only where several of them run at once (the extraction worker pool, the workbook runner with
``jobs`` > 1), never for a single train or a single extraction. A policy the user set is left as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

WAIT_POLICY = "OMP_WAIT_POLICY"
SHARED_CORES_POLICY = "PASSIVE"


@contextmanager
def children_share_cores(sharing: bool = True) -> Iterator[None]:
    """Within the block, processes started inherit ``OMP_WAIT_POLICY=PASSIVE`` when ``sharing`` (several
    run at once); the environment is restored on exit. An ``OMP_WAIT_POLICY`` already set is kept."""
    if not sharing or WAIT_POLICY in os.environ:
        yield
        return
    os.environ[WAIT_POLICY] = SHARED_CORES_POLICY
    try:
        yield
    finally:
        os.environ.pop(WAIT_POLICY, None)
