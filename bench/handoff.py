"""Benchmark handoff: prints figures, asserts nothing.

A config repo (a bare git remote), a new commit pushed to it, then ``handoff --wait`` to a
local Argo CD stand-in that applies a new commit 1 s after it is asked (the refresh).
Handoff's overhead is its wall time minus that second: for 1 app and for 50 apps, in-process
(``cli.main``) and as a whole CLI process (interpreter start and imports included). The CLI
process may cache bytecode, as an installed package has it (``PYTHONDONTWRITEBYTECODE`` is
not passed on), and one round per mode runs first, unmeasured, to warm that cache.

Run: .venv/bin/python bench/handoff.py [--apps 1 50] [--rounds 3] [--delay 1.0]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

from gitops_actions import cli, git
from gitops_actions.demo.argocd import StandInArgoCD


def push(seed: git.Repo, remote: Path, n: int) -> float:
    start = time.perf_counter()
    (seed.path / "apps.yaml").write_text(f"round: {n}\n")
    seed.add()
    seed.commit(f"round {n}")
    seed.push(str(remote), "main")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=1.0)
    args = parser.parse_args()
    token = "bench_" + secrets.token_hex(16)
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        remote = Path(tmp) / "config.git"
        git.init(remote, bare=True)
        seed = git.init(Path(tmp) / "seed")
        push(seed, remote, 0)
        n = 0
        for count in args.apps:
            names = [f"app-{i:03d}" for i in range(count)]
            with StandInArgoCD(remote, names, token, delay=args.delay) as agent:
                env = {
                    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
                    "ARGOCD_SERVER": agent.url,
                    "ARGOCD_AUTH_TOKEN": token,
                    "GITOPS_APP": "\n".join(names),
                }
                for mode in ("in-process", "process"):
                    walls, pushes, cpus = [], [], []
                    for counted in range(-1, args.rounds):  # round -1 warms up
                        n += 1
                        pushes.append(push(seed, remote, n))
                        sha = git.Repo(remote).head_sha("main")
                        argv = ["handoff", "--agent", "argocd", "--revision", sha]
                        argv += ["--ci", "terminal", "--timeout", "60"]
                        start = time.perf_counter()
                        used = resource.getrusage(resource.RUSAGE_CHILDREN)
                        if mode == "in-process":
                            with redirect_stdout(io.StringIO()):
                                code = cli.main(argv, env=env)
                        else:
                            code = subprocess.run(
                                [sys.executable, "-m", "gitops_actions", *argv],
                                env=env,
                                capture_output=True,
                                check=False,
                            ).returncode
                        wall = time.perf_counter() - start
                        after = resource.getrusage(resource.RUSAGE_CHILDREN)
                        cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
                        if code != 0:
                            print(f"  handoff exited {code}")
                        if counted >= 0:
                            walls.append(wall)
                            cpus.append(cpu)
                    over = [w - args.delay for w in walls]
                    print(
                        f"{count:3d} app(s), {mode:10s}: "
                        f"push median {statistics.median(pushes):.3f}s"
                        f"; handoff median {statistics.median(walls):.3f}s, overhead over the "
                        f"agent's {args.delay:g}s: median {statistics.median(over):.3f}s, "
                        f"max {max(over):.3f}s ({args.rounds} rounds)"
                        + (f"; CPU {statistics.median(cpus):.2f}s" if mode == "process" else "")
                    )
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
