"""Device, AMP, seeding and torchrun/DDP helpers (all no-ops on a single process)."""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    amp_dtype: torch.dtype | None = None  # autocast dtype on CUDA, None = off

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_runtime(device: str = "auto", amp: str = "auto") -> Runtime:
    """Resolve the device; join the process group when started by torchrun (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank if world_size > 1 else torch.cuda.current_device())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Runtime(dev, rank, world_size, local_rank, resolve_amp(amp, dev))


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or amp == "off":
        return None  # CPU autocast is slower than fp32 for 3D convs; keep fp32
    if amp == "fp16":
        return torch.float16
    if amp == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def autocast(rt: Runtime) -> contextlib.AbstractContextManager:
    if rt.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=rt.device.type, dtype=rt.amp_dtype)


def grad_scaler(rt: Runtime) -> torch.amp.GradScaler:
    """A real scaler only for fp16 (bf16 and fp32 need none)."""
    return torch.amp.GradScaler(rt.device.type, enabled=rt.amp_dtype == torch.float16)


CUBLAS_WORKSPACE = ":4096:8"  # cuBLAS's deterministic workspace setting (":16:8" is the other valid one)


@contextlib.contextmanager
def determinism(enabled: bool, warn_only: bool = True) -> Iterator[None]:
    """PyTorch's documented reproducibility switches for the duration of a run (then restored).

    ``enabled``: ``CUBLAS_WORKSPACE_CONFIG`` (cuBLAS reads it when CUDA starts, so this runs before any
    CUDA work), ``torch.use_deterministic_algorithms(True, warn_only=warn_only)`` (an op without a
    deterministic kernel warns, or raises with ``warn_only=False``), cuDNN deterministic and not
    benchmarking. ``False`` leaves every switch as it is.
    """
    cudnn = torch.backends.cudnn
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
    )
    if enabled:
        if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in (CUBLAS_WORKSPACE, ":16:8"):
            if torch.cuda.is_initialized():
                print(
                    "[dualaction] warning: CUDA started before deterministic mode; set "
                    f"CUBLAS_WORKSPACE_CONFIG={CUBLAS_WORKSPACE} before starting Python for deterministic "
                    "cuBLAS",
                    file=sys.stderr,
                )
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
        torch.use_deterministic_algorithms(True, warn_only=warn_only)
        cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        cudnn.deterministic, cudnn.benchmark = saved[2], saved[3]


def seed_everything(seed: int, deterministic: bool = True) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - datasets may draw from the global RNG
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def rng_state() -> dict:
    """RNG states as tensors / primitive containers (loadable with weights_only=True)."""
    np_state = np.random.get_state()  # noqa: NPY002
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "python": _python_state_to_list(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))  # noqa: NPY002
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state_to_list(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def barrier(rt: Runtime) -> None:
    if rt.distributed:
        dist.barrier()


def all_sum(values: list[float], rt: Runtime) -> list[float]:
    if not rt.distributed:
        return values
    t = _tensor(values, rt)
    dist.all_reduce(t)
    return t.tolist()


def weight_checksums(model: torch.nn.Module, rt: Runtime) -> list[float]:
    """Each rank's sum of |parameters| (gathered to all ranks); equal values mean the replicas agree."""
    local = float(sum(p.detach().double().abs().sum() for p in model.parameters()))
    if not rt.distributed:
        return [local]
    out = [_tensor([0.0], rt) for _ in range(rt.world_size)]
    dist.all_gather(out, _tensor([local], rt))
    return [float(t.item()) for t in out]


def _tensor(values: list[float], rt: Runtime) -> torch.Tensor:
    """float64 on the collective backend's device (NCCL needs CUDA tensors)."""
    return torch.tensor(values, dtype=torch.float64, device=rt.device)


def cleanup(rt: Runtime) -> None:
    if rt.distributed and dist.is_initialized():
        dist.destroy_process_group()
