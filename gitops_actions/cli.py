"""``gitops-actions <step> [options]``: flags and ``GITOPS_*`` variables, one error line.

The command line is derived from each step's options dataclass: a field ``dry_run`` is
``--dry-run`` and ``GITOPS_DRY_RUN``. A flag given on the command line wins over the
variable; repeatable options take one value per line from their variable.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import traceback
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from gitops_actions import __version__
from gitops_actions.ci import Annotation, Dialect, GitHub, detect
from gitops_actions.errors import (
    EXIT_OK,
    GitopsError,
    UsageError,
    cap,
    exit_code_for,
)
from gitops_actions.secrets import REDACTOR, RedactingStream, TextSink
from gitops_actions.step import Context, Meta, Step, StepResult, env_name, flag_name, option, public
from gitops_actions.steps import STEPS

PROG = "gitops-actions"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class GlobalOptions:
    debug: bool = option("show tracebacks and debug detail")
    ci: str = option(
        "CI dialect for outputs, summaries and annotations (default: detected)",
        default="auto",
        choices=("auto", "github", "gitlab", "terminal"),
    )
    summary_file: str | None = option(
        "also append the markdown step summary to this file", metavar="FILE"
    )
    dotenv: str | None = option(
        "GitLab: write step outputs to this dotenv report (default: gitops.env)",
        metavar="FILE",
    )


def _meta(f: dataclasses.Field[Any]) -> Meta:
    meta: Meta = f.metadata["gitops"]
    return meta


def _kind(tp: Any) -> type:
    """The scalar type behind an annotation: ``str | None`` is str, ``tuple[str, ...]`` tuple."""
    origin = typing.get_origin(tp)
    if origin is tuple:
        return tuple
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args:
        return _kind(args[0])
    return typing.cast(type, tp)


def _add_options(parser: argparse._ActionsContainer, cls: type[Any]) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        meta, kind = _meta(f), _kind(hints[f.name])
        help_text = f"{meta.help} [env: {env_name(public(f))}]"
        if meta.positional:
            parser.add_argument(
                f.name,
                nargs="*",
                default=None,
                help=help_text,
                metavar=meta.metavar or f.name.upper(),
            )
        elif kind is bool:
            parser.add_argument(
                flag_name(public(f)),
                dest=f.name,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=help_text,
            )
        else:
            parser.add_argument(
                flag_name(public(f)),
                *(flag_name(alias) for alias in meta.aliases),
                dest=f.name,
                default=None,
                action="append" if kind is tuple else "store",
                type=kind if kind in (int, float) else str,
                choices=meta.choices or None,
                metavar=meta.metavar or f.name.upper(),
                help=help_text,
            )


def _values(raw: str) -> tuple[str, ...]:
    """A repeatable option's variable: one value per line, or a JSON array of values (how
    GitLab writes an array input into a string)."""
    if raw.lstrip().startswith("["):
        with contextlib.suppress(ValueError):
            items = json.loads(raw)
            if isinstance(items, list) and all(isinstance(i, str | int | float) for i in items):
                return tuple(str(i).strip() for i in items if str(i).strip())
    return tuple(line.strip() for line in raw.splitlines() if line.strip())


def _from_env(name: str, raw: str, kind: type, meta: Meta) -> Any:
    var = env_name(name)
    if kind is bool:
        value = raw.strip().lower()
        if value in _TRUE | _FALSE:
            return value in _TRUE
        raise UsageError(f"{var}={raw!r}: expected true or false")
    if kind is tuple:
        return _values(raw)
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise UsageError(f"{var}={raw!r}: expected a number") from None
    if meta.choices and raw not in meta.choices:
        raise UsageError(f"{var}={raw!r}: expected one of {', '.join(meta.choices)}")
    return raw


def resolve(cls: type[Any], ns: argparse.Namespace, env: Mapping[str, str]) -> Any:
    """Options from flags, then ``GITOPS_*`` variables, then defaults."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        meta, kind = _meta(f), _kind(hints[f.name])
        value = getattr(ns, f.name, None)
        if value is not None and kind is tuple:
            value = tuple(value) if value else None
        var = env_name(public(f))
        if value is None and env.get(var, "") != "":  # empty means unset
            value = _from_env(public(f), env[var], kind, meta)
        if value is None or value == ():
            if meta.required:
                what = f.name.upper() if meta.positional else flag_name(public(f))
                raise UsageError(f"missing {what} (or {var})")
            continue
        if meta.secret and isinstance(value, str):
            REDACTOR.learn(value)
        values[f.name] = value
    return cls(**values)


def _epilog(step: Step) -> str:
    lines = ["examples:", *(f"  {e}" for e in step.examples)]
    lines += [
        "",
        "Every option can also be set as an environment variable GITOPS_<OPTION> "
        "(upper case, dashes as underscores); repeatable options take one value per line. "
        "A flag on the command line wins.",
        "",
    ]
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes become one clear error line (exit 2), like every other error.
    No abbreviations: ``--imag`` is not taken for ``--image`` (nor the next option added)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that step's options are loaded (the others are
    listed by name and summary), so one step's run never imports the rest."""
    parser = _Parser(
        prog=PROG,
        description="CI pipeline steps for GitOps: build an image, bump it in the config "
        "repo, validate, diff and comment, hand off to Argo CD or Flux.",
        epilog="Exit codes: 0 success (also: nothing to change), 1 the check found problems, "
        "2 bad usage or input, 3 an external system failed after retries.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="step", metavar="<step>", required=True)
    for name, entry in STEPS.entries.items():
        p = sub.add_parser(
            name,
            help=entry.summary,
            description=entry.summary,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if only is not None and name != only:
            continue
        step = STEPS[name]
        p.epilog = _epilog(step)
        _add_options(p.add_argument_group("step options"), step.options)
        _add_options(p.add_argument_group("common options"), GlobalOptions)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    """The step named on the command line (the first word that is one)."""
    return next((word for word in argv if word in STEPS.entries), None)


def _report(result: StepResult, ctx: Context) -> None:
    for name, value in result.outputs.items():
        ctx.ci.set_output(name, value)
    if result.summary:
        ctx.ci.write_summary(result.summary)
    if result.message:
        ctx.ci.log(result.message)


def _report_error(error: BaseException, where: str, ci: Dialect | None, err: TextSink) -> None:
    """One clear line; in GitHub Actions an error annotation pointing at the file."""
    if isinstance(error, GitopsError):
        line = error.one_line()
    elif isinstance(error, OSError) and error.filename:
        line = cap(f"{error.filename}: {error.strerror or error}")
    else:
        line = cap(f"internal error: {error!r} (rerun with --debug and report it)")
    if isinstance(ci, GitHub):
        path = getattr(error, "path", None)
        ci.annotate(
            Annotation(
                "error",
                cap(getattr(error, "message", line)) if path else line,
                file=path,
                line=getattr(error, "line", None),
                col=getattr(error, "column", None),
                title=where,
            )
        )
    else:
        err.write(f"{where}: error: {line}\n")


def _wants_debug(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    return "--debug" in argv or env.get("GITOPS_DEBUG", "").lower() in _TRUE


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if env is None else env)
    REDACTOR.learn_env(env)
    real_out, real_err = sys.stdout, sys.stderr
    out, err = RedactingStream(real_out), RedactingStream(real_err)
    sys.stdout, sys.stderr = out, err  # whatever anything prints is redacted too
    step_name = PROG
    ci: Dialect | None = None
    try:
        parser = build_parser(_chosen(argv) or "")
        ns, extra = parser.parse_known_args(argv)
        step = STEPS[ns.step]
        step_name = f"{PROG} {step.name}"
        glob = resolve(GlobalOptions, ns, env)
        if extra:
            parser.parse_args(argv)  # reports the unknown arguments, exits 2
        opts = resolve(step.options, ns, env)
        dialect = detect(env, glob.ci)
        dotenv = glob.dotenv or ("gitops.env" if dialect.name == "gitlab" else None)
        ci = dialect(env, out, err=err, summary_file=glob.summary_file, dotenv_file=dotenv)
        ctx = Context(ci=ci, env=env)
        result = step.run(opts, ctx)
        _report(result, ctx)
        return 1 if result.status == "failed" else EXIT_OK
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_OK
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to say
        sys.stdout, sys.stderr = real_out, real_err
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), real_out.fileno())
        return EXIT_OK
    except BaseException as error:  # one place maps every error to a line and a code
        if _wants_debug(argv, env):
            traceback.print_exc(file=err)
            if getattr(error, "debug", ""):
                err.write(f"{error.debug}\n")  # type: ignore[attr-defined]
        _report_error(error, step_name, ci, err)
        return exit_code_for(error)
    finally:
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = real_out, real_err


if __name__ == "__main__":
    sys.exit(main())
