"""Every fixed set of allowed values, written once as a ``Literal``.

The config schema annotates its fields with these aliases (pydantic checks them); every other module reads
the values with ``typing.get_args`` (``tests/test_choices.py`` refuses a copy spelled out elsewhere).
"""

from __future__ import annotations

from typing import Literal

Method = Literal["flow", "rgb", "mars", "ds", "ds_mae", "ds_gram"]  # what a run trains
DistillMethod = Literal["mars", "ds", "ds_mae", "ds_gram"]  # the students distilled from a flow teacher
Stage = Literal["stem", "layer1", "layer2", "layer3", "layer4", "fc"]  # trainable stages, forward order
WeightSource = Literal["auto", "mars", "hara", "torchvision", "native"]  # models.load_weights' key names
Init = Literal["scratch", "pretrained"]
# Which experiment of a plan a run is: its folder name and the tables' selection (dualaction_lib.rundir),
# in the order the tables list them (nopool: DS without the pooled level, Table 2's optional row).
Variant = Literal["main", "scratch", "norm", "nopool", "sweep", "other"]
Dataset = Literal["synthetic", "ucf101", "hmdb51"]  # a config's data set
PrepareDataset = Literal[Dataset, "folder"]  # prepare also takes any folder of class folders
Modality = Literal["rgb", "flow", "rgb+flow"]
FlowBackend = Literal["opencv", "torch"]
Rounding = Literal["round", "truncate"]  # flow → uint8: round (unbiased) or truncate (MARS's cast)
Naming = Literal["mars", "mmaction2"]  # frame and flow file names (data.layouts)
Resize = Literal["linear", "pil_bilinear"]
Norm = Literal["mars", "kinetics"]
Missing = Literal["skip", "error"]  # a listed video that cannot be read: leave it out, or refuse
CheckLevel = Literal["fast", "full", "off"]
SyntheticTask = Literal["motion", "objects", "mixed"]  # data.synthetic.task (SyntheticSpec)
Optimizer = Literal["sgd", "adamw"]
Scheduler = Literal["plateau", "cosine", "step", "none"]
Normalize = Literal["none", "step0"]  # distillation terms as in the paper, or rescaled to CE at step 0
Protocol = Literal["mars", "multiclip"]  # test clips: MARS's non-overlapping clips, or num_clips × crops
Crops = Literal[1, 3]
Amp = Literal["auto", "off", "bf16", "fp16"]
FusionMethod = Literal["average", "attention"]
