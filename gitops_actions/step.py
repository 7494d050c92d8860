"""The surface every step shares: options dataclass in, result dataclass out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gitops_actions.ci import Dialect

Status = Literal["changed", "unchanged", "failed"]


@dataclass(frozen=True)
class Meta:
    """How an options field appears on the command line and in the environment."""

    help: str
    positional: bool = False
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    name: str | None = None  # the public name when the field's cannot be (``from``)
    aliases: tuple[str, ...] = ()  # more flags for the same option (``--tag`` for ``--tags``)


def option(
    help: str,
    *,
    default: Any = None,
    positional: bool = False,
    required: bool = False,
    secret: bool = False,
    choices: tuple[str, ...] = (),
    metavar: str | None = None,
    name: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Any:
    """A field of a step's options; ``--name`` and ``GITOPS_NAME`` are derived from it."""
    meta = {"gitops": Meta(help, positional, required, secret, choices, metavar, name, aliases)}
    if isinstance(default, list | dict | set):
        raise TypeError("use a tuple for a repeatable option's default")
    return field(default=default, metadata=meta)


def public(field: dataclasses.Field[Any]) -> str:
    """The option's name as users see it: the field's, unless the option renames it."""
    meta: Meta = field.metadata["gitops"]
    return meta.name or field.name


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def env_name(field_name: str) -> str:
    return "GITOPS_" + field_name.upper()


@dataclass(frozen=True)
class StepResult:
    """What a step did: a status, outputs the next step consumes, and a summary."""

    status: Status
    message: str
    outputs: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""


@dataclass(frozen=True)
class Context:
    """What a step gets besides its options: the CI dialect and the environment."""

    ci: Dialect
    env: Mapping[str, str]


@dataclass(frozen=True)
class Step:
    name: str
    summary: str
    examples: tuple[str, ...]
    options: type[Any]
    run: Callable[[Any, Context], StepResult]
    outputs: tuple[tuple[str, str], ...] = ()  # (name, description) of what run() returns

    def fields(self) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(self.options)
