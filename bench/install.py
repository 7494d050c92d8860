"""Benchmark the actions' install: prints figures, asserts nothing.

Runs the validate action (validate/action.yml) on a simulated runner
(tests/fakes/actions_runner.py) with the cache stored as actions/cache stores it (a zstd
tar):
1. cold: an empty cache, a fresh job: venv + pip install of requirements/runtime.txt;
2. again in the same job: the venv is found, nothing is fetched;
3. warm: a new job restoring the cache saved by the first.
For each: wall time of the whole action use, of the install steps alone, and the CPU
seconds of the install's processes (wall time depends on how busy the machine is); then
the venv's size on disk and the cache archive's size.
The package index is whatever pip is configured with (here a local one: no download time).

Run: .venv/bin/python bench/install.py [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fakes.actions_runner import Cache, Job  # noqa: E402

MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop}\ndata: {a: '1'}\n"
INSTALL_STEPS = ("Find Python", "Locate", "Restore", "Install")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def use(job: Job, label: str) -> None:
    (job.workspace / "cm.yaml").write_text(MANIFEST)
    started, cpu_started = time.monotonic(), cpu()
    result = job.use(ROOT / "validate", {"paths": "cm.yaml"})
    wall, used = time.monotonic() - started, cpu() - cpu_started
    install = sum(result.seconds(name) for name in INSTALL_STEPS)
    assert result.outputs["resources"] == "1"
    print(f"{label:<22} action {wall:6.1f} s   install steps {install:6.1f} s   CPU {used:6.1f} s")


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="cold/warm rounds")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env |= {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            cache = Cache(Path(tmp) / "cache", archive=True)
            job = Job(Path(tmp) / "job1", cache, env=env)
            use(job, "cold (empty cache)")
            use(job, "again in the same job")
            job.finish()
            venv = next((job.temp / "gitops-actions").iterdir())
            archive = next(cache.root.iterdir())
            warm = Job(Path(tmp) / "job2", cache, env=env)
            use(warm, "warm (cache restored)")
            print(
                f"venv {size(venv) / 1e6:.0f} MB, cache archive {archive.stat().st_size / 1e6:.0f}"
                f" MB, {sum(1 for _ in venv.glob('lib/python*/site-packages/*.dist-info'))}"
                " packages"
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
