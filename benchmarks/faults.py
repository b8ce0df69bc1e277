"""The fault tally: interrupts, store failures and secret boundaries, tried for real.

Runs the fault tests (each makes its faults for real: a SIGINT at every point of a scripted ask
on every dialect and at every line of every store write, a store damaged, deleted, replaced or on
a full disk, a long key pushed at every boundary) and prints what they tried and how it went.
The goal is 100% / 0 / 0:

    interrupts tried N, threads left usable N
    store faults tried N, one-line errors N, turns lost 0
    secret boundaries tried N, leaks 0

    .venv/bin/python benchmarks/faults.py [pytest options, e.g. -k responses]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAULT_TESTS = [
    "tests/test_interrupt_sweep.py",
    "tests/test_store_faults.py",
    "tests/test_secrets.py",
    "tests/test_hostile_shapes.py",
]


def main() -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FAULT_TESTS]
    finished = subprocess.run([*command, *sys.argv[1:]], cwd=ROOT, capture_output=True, text=True)
    lines = finished.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if " faults " in line), None)
    tally = [] if start is None else [line for line in lines[start + 1 :] if " tried " in line]
    if not tally:
        print(finished.stdout[-3000:], finished.stderr[-3000:], sep="\n")
        return finished.returncode or 1
    print("\n".join(tally))
    print(lines[-1])  # pytest's own summary: how many tests passed
    return finished.returncode


if __name__ == "__main__":
    raise SystemExit(main())
