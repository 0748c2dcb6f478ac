"""benchmarks/operator_cli.py end to end, small: both start-up figures and both redrives."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from constructs_lib.testing import Emulator

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_benchmark_measures_start_up_and_both_redrives(emulator: Emulator) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        bench = importlib.import_module("operator_cli")
    finally:
        sys.path.remove(str(BENCHMARKS))

    started = dict(bench.startup(runs=1))
    assert set(started) == {
        "python -c pass",
        'python -c "import boto3"',
        "fanout --help",
        "fanout dlq list --help",
    }
    assert all(0 < seconds < 10 for seconds in started.values())

    figures = bench.redrive(messages=12, emulator=emulator)
    assert [(label.split(" (")[0], count) for label, count, _ in figures] == [
        ("fanout dlq redrive", 12),
        ("SQS message move task", 12),
    ]
    assert all(seconds > 0 for _, _, seconds in figures)
