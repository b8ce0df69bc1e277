"""How much `%load_ext assistant_magic` adds to a bare IPython start-up.

Each sample is a fresh interpreter, so nothing is cached in-process. Bare and loaded runs
alternate, so machine noise hits both alike; the script prints medians and their ratio.
Goal: `%load_ext` itself takes at most 5 ms, and imports none of openai, ipywidgets, PIL or
pydantic.

    .venv/bin/python benchmarks/load_time.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

HEAVY = ("openai", "ipywidgets", "PIL", "pydantic", "httpx", "httpx2")

PROGRAM = """
import json, sys, time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
t1 = time.perf_counter()
if {load}:
    shell.run_line_magic("load_ext", "assistant_magic")
t2 = time.perf_counter()
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"startup": t1 - t0, "total": t2 - t0, "load": t2 - t1, "heavy": heavy}}))
"""


def sample(load: bool) -> dict[str, object]:
    code = PROGRAM.format(load=load, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    bare: list[float] = []
    loaded: list[float] = []
    load_only: list[float] = []
    heavy: set[str] = set()
    sample(True)  # warm the OS file cache for both variants
    for _ in range(runs):
        bare.append(float(sample(False)["total"]))  # type: ignore[arg-type]
        result = sample(True)
        loaded.append(float(result["total"]))  # type: ignore[arg-type]
        load_only.append(float(result["load"]))  # type: ignore[arg-type]
        heavy.update(result["heavy"])  # type: ignore[arg-type]
    b, w, only = (statistics.median(x) * 1000 for x in (bare, loaded, load_only))
    print(f"bare IPython start-up        {b:8.1f} ms (median of {runs})")
    print(f"start-up + %load_ext         {w:8.1f} ms")
    print(f"%load_ext alone (in-process) {only:8.1f} ms")
    print(f"ratio loaded / bare          {w / b:8.3f}")
    print(f"added by %load_ext           {only:8.1f} ms   (goal <= 5 ms)")
    print(f"heavy modules imported       {', '.join(sorted(heavy)) or 'none'}")


if __name__ == "__main__":
    main()
