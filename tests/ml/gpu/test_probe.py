"""Gathering what the machine has: nvidia-smi's CSV rows parsed, and nvidia-smi itself run, found
missing, failing or printing something unexpected. A script on PATH stands in for nvidia-smi,
which a machine without an NVIDIA driver does not have."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ml.gpu.probe import SMI_QUERY, SmiParseError, parse_smi, query_smi

# As `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` prints two H100s.
TWO_GPUS = (
    "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 81004\n"
    "1, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 80990\n"
)


def test_parse_smi_reads_each_gpu():
    first, second = parse_smi(TWO_GPUS)
    assert (first.index, first.name, first.driver_version) == (
        0,
        "NVIDIA H100 80GB HBM3",
        "550.54.15",
    )
    assert (second.memory_total_mib, second.memory_free_mib) == (81559, 80990)
    assert parse_smi("\n") == []


@pytest.mark.parametrize(
    "text", ["0, Tesla T4, 535.1\n", "0, Tesla T4, 535.104.05, [N/A], 15000\n"]
)
def test_parse_smi_rejects_unexpected_rows(text):
    with pytest.raises(SmiParseError, match=r"nvidia-smi row|5 comma-separated"):
        parse_smi(text)


@pytest.fixture
def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put an `nvidia-smi` on PATH that records its arguments, prints `output` and exits with
    `status`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    calls = tmp_path / "calls"

    def install(output: str, status: int = 0) -> Path:
        (tmp_path / "output").write_text(output)
        script = bin_dir / "nvidia-smi"
        script.write_text(
            f'#!/bin/sh\necho "$@" >> "{calls}"\ncat "{tmp_path / "output"}"\nexit {status}\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return calls

    return install


def test_query_smi_asks_for_the_csv_rows_and_parses_them(fake_smi):
    calls = fake_smi(TWO_GPUS)
    found, error, gpus = query_smi()
    assert (found, error) == (True, None)
    assert [gpu.memory_free_mib for gpu in gpus] == [81004, 80990]
    assert calls.read_text().split() == [
        f"--query-gpu={SMI_QUERY}",
        "--format=csv,noheader,nounits",
    ]


def test_a_failing_nvidia_smi_reports_its_first_line(fake_smi):
    fake_smi("NVIDIA-SMI has failed because it couldn't communicate with the driver.\nMore.\n", 9)
    found, error, gpus = query_smi()
    assert found and gpus == []
    assert error == "NVIDIA-SMI has failed because it couldn't communicate with the driver."


def test_a_silent_failure_reports_the_exit_status(fake_smi):
    fake_smi("", 6)
    assert query_smi() == (True, "exit status 6", [])


def test_unexpected_output_is_an_error_not_a_crash(fake_smi):
    fake_smi("No devices were found, sorry\n")
    found, error, gpus = query_smi()
    assert found and gpus == []
    assert error is not None and error.startswith("expected 5 comma-separated fields")


def test_no_nvidia_smi_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert query_smi() == (False, None, [])
