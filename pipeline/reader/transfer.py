"""Moving a batch's tensors to the model's device and its spans back: the GPU-path switches.

Both switches are off by default and change nothing off CUDA (no pinned memory, no events
without a GPU): their benefit can only be measured on a GPU, and bench/gpu.py measures each
both ways before either becomes a default.

- pinned: inputs are copied into page-locked memory and sent with non_blocking=True, so the
  host-to-device copy is a DMA that does not stall the CPU;
- asynchronous results (the reader's `overlap`): a batch's spans are copied back into
  page-locked memory behind a CUDA event, so the reader can launch the next batch's forward
  pass before it waits for them, and the GPU computes while the CPU maps the previous
  batch's spans to characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


def to_device(tensors: Sequence[torch.Tensor], device: torch.device, pinned: bool = False) -> list[torch.Tensor]:
    """The tensors on `device`; through pinned memory, without blocking, when `pinned` and it is CUDA."""
    if pinned and device.type == "cuda":
        return [t.pin_memory().to(device, non_blocking=True) for t in tensors]
    return [t.to(device) for t in tensors]


@dataclass
class HostCopy:
    """Tensors on their way to the CPU: `lists()` waits for them (only them) and gives plain Python lists."""

    tensors: list[torch.Tensor]
    event: Any = None  # a torch.cuda.Event recorded after the copies, or None (already on the CPU)

    def lists(self) -> list[Any]:
        if self.event is not None:
            self.event.synchronize()
        return [t.tolist() for t in self.tensors]


def to_host(tensors: Sequence[torch.Tensor], asynchronous: bool = False) -> HostCopy:
    """Start copying `tensors` to the CPU. Asynchronous on CUDA only: into pinned buffers, behind
    an event, so that waiting for them does not wait for work queued after them."""
    if not (asynchronous and tensors and tensors[0].device.type == "cuda"):
        return HostCopy(list(tensors))
    host = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for t in tensors]
    for target, source in zip(host, tensors):
        target.copy_(source, non_blocking=True)
    event = torch.cuda.Event()
    event.record()
    return HostCopy(host, event)
