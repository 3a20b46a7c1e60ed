"""Run configuration: pydantic models (``schema``), presets and recipes from YAML (``load``), one-line
errors (``explain``) and CLI overrides (``cli``). See docs/architecture.md, "config".

    from dualaction_lib.config import load_config
    cfg = load_config("cpu", method="ds", seed=1, **{"optim.lr": 0.05})
"""

from dualaction_lib.config.cli import parse_cli_overrides
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
    FREEFORM_KEYS,
    Config,
    ConfigError,
    DataConfig,
    DistillConfig,
    EvalConfig,
    ModelConfig,
    OptimConfig,
)

__all__ = [
    "CONFIG_DIR",
    "FREEFORM_KEYS",
    "RECIPE_DIR",
    "Config",
    "ConfigError",
    "DataConfig",
    "DistillConfig",
    "EvalConfig",
    "ModelConfig",
    "OptimConfig",
    "list_presets",
    "list_recipes",
    "load_config",
    "override",
    "parse_cli_overrides",
    "read_config",
    "save_config",
    "validate",
]
