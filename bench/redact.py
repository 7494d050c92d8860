"""Benchmark redaction: prints figures, asserts nothing.

The redactor learns every value of every Secret a diff renders (each in its plain, line,
base64, URL-quoted and JSON forms) and then filters every output. This learns N values
and filters 1 MB of ordinary text (with one secret at its end), for several N.

Run: .venv/bin/python bench/redact.py [--values 50,500,2000] [--megabytes 1]
"""

from __future__ import annotations

import argparse
import secrets
import time

from gitops_actions.secrets import Redactor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", default="50,500,2000", help="how many values, comma-separated")
    parser.add_argument("--megabytes", type=float, default=1.0, help="text to filter")
    args = parser.parse_args()
    line = "an ordinary line of a rendered diff: image shop:1.2.3, replicas 3, 12345\n"
    text = line * int(args.megabytes * 2**20 / len(line))
    for count in (int(n) for n in args.values.split(",")):
        redactor = Redactor()
        values = [f"value-{secrets.token_hex(10)}" for _ in range(count)]
        started = time.perf_counter()
        redactor.learn_values(values)
        redactor.redact("")  # the pattern is compiled when first needed
        learned = time.perf_counter()
        out = redactor.redact(text + values[-1])
        done = time.perf_counter()
        forms = len(redactor.known())
        print(
            f"{count:>6} values ({forms:>6} forms): learn {learned - started:6.2f} s, "
            f"filter {len(text) / 2**20:.1f} MB {done - learned:6.2f} s, "
            f"masked={'yes' if out.endswith('***') else 'NO'}"
        )


if __name__ == "__main__":
    main()
