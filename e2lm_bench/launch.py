"""Which process of a launch this one is, read from the launchers users already have.

The package has no scheduler of its own: ``torchrun``, ``accelerate launch`` and ``srun`` start the processes
and say in the environment which one each is. ``torchrun`` and ``accelerate launch`` (which starts its processes
through torchrun's machinery) set ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; ``srun`` sets ``SLURM_PROCID``,
``SLURM_LOCALID`` and, for the job step it starts, ``SLURM_STEP_NUM_TASKS``. A batch script itself also sees
``SLURM_NTASKS`` and ``SLURM_PROCID=0`` without being one of several processes, so only a step's task count
counts. torchrun's variables win over SLURM's: they are the ones set inside a step that runs torchrun.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from e2lm_bench.errors import UserError


@dataclass(frozen=True)
class Launch:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launcher: str | None = None  # "torchrun" (also accelerate launch) or "srun"; None: started on its own

    @property
    def launched(self) -> bool:
        """Several processes were started together for this command."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return f"process {self.rank} of {self.world_size} ({self.launcher})" if self.launched else "one process"


# What accelerate and torch.distributed read to join a process group (torchrun's, MPI's, SLURM's step).
GROUP_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                   "PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE",
                   "MV2_COMM_WORLD_RANK", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "ACCELERATE_USE_CPU")


@contextlib.contextmanager
def alone():
    """This process seen as started on its own while inside: a model built here joins no process group.

    For a process of a launch that works on parts of its own (another checkpoint than its peers'): lm-eval's HFLM
    builds an ``Accelerator``, which under a launch waits for every process to join a group and then splits each
    task's documents across processes that are not evaluating the same thing. accelerate keeps its first state
    for the rest of the process, so building the first model here is enough; later ones reuse that state.
    """
    saved = {name: os.environ.pop(name) for name in GROUP_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def current_launch(environ: dict | None = None) -> Launch:
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" in env and "RANK" in env:
        return _launch(env, "RANK", "WORLD_SIZE", "LOCAL_RANK", "torchrun")
    if "SLURM_STEP_NUM_TASKS" in env and "SLURM_PROCID" in env:
        return _launch(env, "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "srun")
    return Launch()


def _launch(env, rank: str, size: str, local: str, launcher: str) -> Launch:
    values = {}
    for name in (rank, size, local):
        text = env.get(name, "0")
        try:
            values[name] = int(text)
        except ValueError:
            raise UserError(f"environment variable {name}={text!r}: expected an integer (set by {launcher})") from None
    if not 0 <= values[rank] < values[size]:
        raise UserError(f"{rank}={values[rank]} with {size}={values[size]}: the rank must be in 0..{values[size] - 1}")
    return Launch(values[rank], values[size], values[local], launcher)
