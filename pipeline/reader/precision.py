"""Which precision the reader computes in: what `reader.precision: auto` picks, and why.

Torch-free, so that `docqa config` can say it without loading torch; the reader calls the
same function when it loads the model, and logs the reason.

On a CPU, auto picks the fastest mode whose SQuAD F1 loss against fp32 is at most
MAX_F1_LOSS, as measured with the trained fixture (BENCHMARKS.md, Reader, "Precision"):

| mode | F1 loss vs fp32 (fixture) | speed vs fp32 (full-size stand-in, AMD EPYC, avx512_bf16) |
| --- | ---: | ---: |
| int8 (dynamic) | 5.55 | 2.2-2.9x (about as fast as bf16 here) |
| bf16 | 0.03 | 2.2-2.8x where the CPU has AVX512-BF16 or AMX; far slower elsewhere (emulated) |
| fp32 | 0 | 1x |

So int8 is never picked (its loss is over the limit), bf16 is picked where the CPU computes
it natively (checked at run time from the CPU's flags), and fp32 everywhere else. On CUDA
auto is fp16 (tensor cores); on Apple MPS fp32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MAX_F1_LOSS = 0.5

# Measured F1 loss against fp32 with the trained fixture on the public half of SQuAD v1.1 dev
# (5,397 questions; fp32 F1 51.52, bf16 51.49, int8 45.97; BENCHMARKS.md): fastest first.
CPU_F1_LOSS = {"int8": 5.55, "bf16": 0.03, "fp32": 0.0}
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # x86 flags in /proc/cpuinfo for native bf16 arithmetic


def cpu_bf16_flag(cpuinfo: str | None = None) -> str | None:
    """The CPU flag that gives native bf16 matrix arithmetic (AMX or AVX512-BF16), or None.

    Read from /proc/cpuinfo (Linux); None where it cannot be read, so elsewhere bf16 is not
    assumed to be fast.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            flags = set(line.partition(":")[2].split())
            return next((flag for flag in _BF16_FLAGS if flag in flags), None)
    return None


def resolve_precision(precision: str, device_type: str, bf16_flag: str | None) -> tuple[str, str]:
    """(precision, why) for the configured `precision` on a device of `device_type` (cpu, cuda, mps)."""
    if precision != "auto":
        return precision, "set in reader.precision"
    if device_type == "cuda":
        return "fp16", "auto on a CUDA GPU: fp16 (tensor cores)"
    if device_type != "cpu":
        return "fp32", f"auto on {device_type}: fp32"
    lossy = ", ".join(f"{mode} loses {loss:g}" for mode, loss in CPU_F1_LOSS.items() if loss > MAX_F1_LOSS)
    if bf16_flag is not None:
        return "bf16", (
            f"auto on this CPU: bf16, the fastest mode within {MAX_F1_LOSS:g} F1 of fp32 (bf16 loses "
            f"{CPU_F1_LOSS['bf16']:g}; {lossy}), computed natively here (CPU flag {bf16_flag})"
        )
    return "fp32", (
        f"auto on this CPU: fp32, as it has neither AMX nor AVX512-BF16 (bf16 would be emulated "
        f"and slow) and the faster int8 loses too much F1 ({lossy}; the limit is {MAX_F1_LOSS:g})"
    )


def describe_precision(config: Any) -> str:
    """What `reader.precision` resolves to for a ReaderConfig, and why, without importing torch.

    For `docqa config`. With device auto the device is only known once torch looks for a GPU,
    so both cases are named.
    """
    device = config.device
    if device == "auto":
        cpu, why = resolve_precision(config.precision, "cpu", cpu_bf16_flag())
        if config.precision != "auto":
            return f"{cpu} ({why})"
        gpu, gpu_why = resolve_precision(config.precision, "cuda", None)
        return f"{cpu} on the CPU ({why}); {gpu} if a CUDA GPU is found ({gpu_why})"
    device_type = "cuda" if device.startswith("cuda") else device
    chosen, why = resolve_precision(config.precision, device_type, cpu_bf16_flag() if device_type == "cpu" else None)
    return f"{chosen} ({why})"
