"""Training, evaluation and fusion (docs/architecture.md, "Runs").

from dualaction_lib.engine import train, evaluate, fuse
run_dir = train("cpu", method="ds", seed=0)
"""

from dualaction_lib.engine.evaluate import evaluate
from dualaction_lib.engine.fuse import fuse
from dualaction_lib.engine.train import NonFiniteLossError, train

__all__ = ["NonFiniteLossError", "evaluate", "fuse", "train"]
