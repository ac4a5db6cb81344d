from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ReaderConfig
from pipeline.reader import precision
from pipeline.reader.precision import cpu_bf16_flag, describe_precision, resolve_precision

REPO = Path(__file__).resolve().parents[1]

AMD_EPYC = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
SAPPHIRE_RAPIDS = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
SKYLAKE = "flags\t\t: fpu avx2 avx512f avx512bw\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n"


@pytest.mark.parametrize(
    "cpuinfo, flag",
    [(AMD_EPYC, "avx512_bf16"), (SAPPHIRE_RAPIDS, "amx_bf16"), (SKYLAKE, None), (ARM, None), ("", None)],
)
def test_native_bf16_is_read_from_the_cpu_flags(cpuinfo, flag):
    assert cpu_bf16_flag(cpuinfo) == flag


def test_auto_picks_bf16_only_where_the_cpu_computes_it_natively():
    chosen, why = resolve_precision("auto", "cpu", "avx512_bf16")
    assert chosen == "bf16"
    assert why == (
        "auto on this CPU: bf16, the fastest mode within 0.5 F1 of fp32 (bf16 loses "
        f"{precision.CPU_F1_LOSS['bf16']:g}; int8 loses {precision.CPU_F1_LOSS['int8']:g}), computed natively here (CPU flag avx512_bf16)"
    )
    chosen, why = resolve_precision("auto", "cpu", None)
    assert chosen == "fp32"
    assert why.startswith("auto on this CPU: fp32, as it has neither AMX nor AVX512-BF16 (bf16 would be emulated and slow)")


def test_auto_never_picks_a_mode_that_loses_more_than_the_limit():
    # The measured losses decide: int8 is over the limit, bf16 within it.
    assert precision.CPU_F1_LOSS["int8"] > precision.MAX_F1_LOSS >= precision.CPU_F1_LOSS["bf16"]


@pytest.mark.parametrize(
    "setting, device, flag, expected",
    [
        ("auto", "cuda", None, ("fp16", "auto on a CUDA GPU: fp16 (tensor cores)")),
        ("auto", "mps", None, ("fp32", "auto on mps: fp32")),
        ("int8", "cpu", "avx512_bf16", ("int8", "set in reader.precision")),
        ("fp32", "cpu", "amx_bf16", ("fp32", "set in reader.precision")),
    ],
)
def test_other_devices_and_explicit_settings(setting, device, flag, expected):
    assert resolve_precision(setting, device, flag) == expected


def test_describe_precision_names_both_cases_of_device_auto(monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_flag", lambda: "avx512_bf16")
    text = describe_precision(ReaderConfig())
    assert text.startswith("bf16 on the CPU (auto on this CPU: bf16, the fastest mode within 0.5 F1 of fp32")
    assert text.endswith("; fp16 if a CUDA GPU is found (auto on a CUDA GPU: fp16 (tensor cores))")
    monkeypatch.setattr(precision, "cpu_bf16_flag", lambda: None)
    assert describe_precision(ReaderConfig(device="cpu")).startswith("fp32 (auto on this CPU: fp32, as it has neither AMX")
    assert describe_precision(ReaderConfig(device="cuda:1")) == "fp16 (auto on a CUDA GPU: fp16 (tensor cores))"
    assert describe_precision(ReaderConfig(precision="int8")) == "int8 (set in reader.precision)"


def test_describe_precision_does_not_import_torch():
    code = (
        "import sys\n"
        "from pipeline.config import ReaderConfig\n"
        "from pipeline.reader import describe_precision\n"
        "print(describe_precision(ReaderConfig()))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ")[0] in ("bf16", "fp32")


def test_loading_logs_what_was_picked_and_why(tiny_model, caplog):
    from pipeline.reader import Reader

    reader = Reader(ReaderConfig(model=str(tiny_model), device="cpu"))
    with caplog.at_level(logging.INFO, logger="pipeline.reader.loading"):
        reader.warm_up()
    chosen, why = resolve_precision("auto", "cpu", cpu_bf16_flag())
    assert reader._loaded.precision == chosen and reader._loaded.precision_reason == why
    assert f"reader: {tiny_model} on cpu, {chosen} ({why})" in caplog.text


def test_docqa_config_says_what_precision_auto_picks_here_and_why():
    from click.testing import CliRunner

    from pipeline.cli import cli
    from pipeline.config import ReaderConfig
    from pipeline.reader.precision import describe_precision

    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-2] == "# reader.batch_tokens here: 1024 on the CPU; 16384 if a GPU is found (null: by device)"
    assert result.stdout.splitlines()[-1] == f"# reader.precision here: {describe_precision(ReaderConfig())}"
    assert "auto on this CPU: " in result.stdout.splitlines()[-1]
