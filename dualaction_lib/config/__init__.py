"""Run configuration: schema (``schema``), presets and recipes from YAML (``load``), typed coercion
(``coerce``) and CLI overrides (``cli``).

    from dualaction_lib.config import load_config
    cfg = load_config("cpu", method="ds", seed=1, **{"optim.lr": 0.05})
"""

from dualaction_lib.config.cli import parse_cli_overrides
from dualaction_lib.config.coerce import coerce, from_dict
from dualaction_lib.config.load import (
    CONFIG_DIR,
    RECIPE_DIR,
    list_presets,
    list_recipes,
    load_config,
    override,
    read_config,
    save_config,
    validate,
)
from dualaction_lib.config.schema import (
    DISTILL_METHODS,
    FREEFORM_KEYS,
    METHODS,
    STAGES,
    Config,
    ConfigError,
    DataConfig,
    DistillConfig,
    EvalConfig,
    ModelConfig,
    OptimConfig,
    to_dict,
)

__all__ = [
    "CONFIG_DIR",
    "DISTILL_METHODS",
    "FREEFORM_KEYS",
    "METHODS",
    "RECIPE_DIR",
    "STAGES",
    "Config",
    "ConfigError",
    "DataConfig",
    "DistillConfig",
    "EvalConfig",
    "ModelConfig",
    "OptimConfig",
    "coerce",
    "from_dict",
    "list_presets",
    "list_recipes",
    "load_config",
    "override",
    "parse_cli_overrides",
    "read_config",
    "save_config",
    "to_dict",
    "validate",
]
