"""Run folders: the naming rule (``naming``) and the folder with its files and identity (``folder``).

from dualaction_lib.rundir import RunDir
rd = RunDir.of(cfg)                     # <out_dir>/<group>/<method>_seed<k> (or its variant's name)
rd.read_eval(), rd.read_metrics("epoch"), rd.identity()
RunDir.find("runs/cpu", "ds", 1, "main")
"""

from dualaction_lib.rundir.folder import RunDir, identity_of, source_run, teacher_run
from dualaction_lib.rundir.naming import VARIANTS, fusion_name, run_name

__all__ = ["VARIANTS", "RunDir", "fusion_name", "identity_of", "run_name", "source_run", "teacher_run"]
