"""``python tests/train/fsdp_cpu_launch.py ARGS`` = ``python -m prover.cli ARGS``, with FSDP let onto
CPU processes (gloo). accelerate only puts FSDP on accelerator devices: with ``cpu=True`` it
keeps the data-parallel ``MULTI_CPU`` type and drops the plugin (``AcceleratorState.__init__``
lists the GPU-like types). torch's FSDP2 (``fully_shard``) itself shards on CPU over gloo, so the
tests restore the plugin after accelerate decided — the rest of the run is the FSDP path a GPU
launch (``accelerate launch --config_file scripts/accelerate/fsdp.yaml``) takes."""

from __future__ import annotations

import sys
from pathlib import Path


def allow_fsdp_on_cpu() -> None:
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin
            PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    AcceleratorState.__init__ = init


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    allow_fsdp_on_cpu()
    from prover.cli.main import cli

    cli(prog_name="prover")
