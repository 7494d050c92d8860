"""How an ApplicationSet's template becomes an Application for one parameter set: Go
templates (``goTemplate: true``, see ``gotemplate``) or fasttemplate placeholders, then
``templatePatch``; what Argo CD cannot generate, or what is outside the subset read here,
is a note."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gitops_actions.apps.objects import merge_patch, parse
from gitops_actions.yamlread.shapes import listed, mapping

_PLACEHOLDER = re.compile(r"\{\{-?\s*\.?([A-Za-z0-9_.\[\]-]+)\s*-?\}\}")


class Unsupported(Exception):
    """A Go template construct outside the subset read here."""


class Failed(Exception):
    """What Argo CD fails on: the Application is not generated."""


def application(
    template: dict[str, Any], param: dict[str, Any], fill: Fill, patch: Any, notes: list[str]
) -> dict[str, Any] | None:
    """The Application of one parameter set, or None with a note saying why not."""
    try:
        app: dict[str, Any] = fill(template, param)
        if isinstance(patch, str):
            app = _patched(app, fill(patch, param))
    except Unsupported as err:
        notes.append(
            f"goTemplate: {err} is outside the template subset read here;"
            " its Applications are not generated"
        )
        return None
    except Failed as err:
        notes.append(f"Application {_name_of(template, param, fill)}cannot be generated: {err}")
        return None
    missing = _unfilled(app)
    if missing:
        shown = mapping(app.get("metadata")).get("name")
        notes.append(f"Application {shown}: no generator gives {', '.join(missing)}")
        return None
    app.setdefault("apiVersion", "argoproj.io/v1alpha1")
    app["kind"] = "Application"
    return app


def _name_of(template: dict[str, Any], param: dict[str, Any], fill: Fill) -> str:
    """The name of the Application ``param`` makes, when it can be told ("" else)."""
    try:
        name = fill(mapping(template.get("metadata")).get("name"), param)
    except (Unsupported, Failed):
        shown = ", ".join(f"{k}={v}" for k, v in list(flat(param).items())[:3])
        return f"of {{{shown}}} "
    return f"{name} " if isinstance(name, str) and name else ""


def _patched(app: dict[str, Any], text: str) -> dict[str, Any]:
    """``templatePatch`` (rendered) over the Application: mappings merge key by key, a
    list replaces, a null removes (a strategic merge patch over Application, whose
    fields have no merge keys)."""
    docs = [d for d in parse(text.encode()) if d is not None]
    if not docs:
        return app  # the patch rendered empty (an ``if`` not taken): nothing to change
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise Failed("templatePatch is not one YAML mapping once rendered")
    return merge_patch(app, docs[0])


class Fill:
    """Template placeholders filled as the ApplicationSet says: Go templates
    (``goTemplate: true``, nested parameters) or fasttemplate (flat names)."""

    def __init__(self, go: bool, missing_error: bool) -> None:
        self.go = go
        self.missing_error = missing_error

    def __call__(self, node: Any, params: dict[str, Any]) -> Any:
        if self.go:
            return _go_fill(node, params, self.missing_error)
        return _fill(node, flat(params))


def filler(spec: dict[str, Any]) -> Fill:
    go = spec.get("goTemplate") is True
    options = [str(o) for o in listed(spec.get("goTemplateOptions"))] if go else []
    known = {f"missingkey={v}" for v in ("default", "invalid", "zero", "error")}
    unknown = [o for o in options if o not in known]
    if unknown:
        raise Unsupported(f"goTemplateOptions {', '.join(unknown)} not read; nothing generated")
    return Fill(go, options[-1:] == ["missingkey=error"])  # the last one set counts


def _go_fill(node: Any, params: dict[str, Any], missing_error: bool) -> Any:
    from gitops_actions.apps import gotemplate  # only ApplicationSets using it load it

    try:
        return _executed(gotemplate.render, node, params, missing_error)
    except gotemplate.Unsupported as err:
        raise Unsupported(str(err)) from None
    except gotemplate.TemplateError as err:
        raise Failed(str(err)) from None


def _executed(
    render: Callable[..., str], node: Any, params: dict[str, Any], missing_error: bool
) -> Any:
    if isinstance(node, dict):
        return {
            _executed(render, k, params, missing_error): _executed(render, v, params, missing_error)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_executed(render, v, params, missing_error) for v in node]
    if isinstance(node, str):
        return render(node, params, missing_error=missing_error)
    return node


def flat(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"path": {"basename": "x"}}`` as ``{"path.basename": "x", "path": ...}``;
    ``path`` alone is the path, as the git generator's flat parameters have it."""
    found: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(flat(value, name + "."))
            if key == "path" and "path" in value and (not prefix or "segments" in value):
                found[name] = str(value["path"])  # a git generator's path (under its prefix)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found[f"{name}[{index}]"] = str(item)
                if name.endswith("path.segments"):
                    found[f"{name.removesuffix('.segments')}[{index}]"] = str(item)
        else:
            found[name] = "" if value is None else str(value)
    if "path.path" in found:
        found.setdefault("path", found["path.path"])
    return found


def _unfilled(app: dict[str, Any]) -> list[str]:
    """Placeholders left in the sources' paths (a parameter no generator gives), or the
    ``<no value>`` Go prints for a key that is not there."""
    spec = mapping(app.get("spec"))
    sources = [spec.get("source"), *listed(spec.get("sources"))]
    paths = [str(s.get("path")) for s in sources if isinstance(s, dict) and s.get("path")]
    found = {m[0] for p in paths for m in _PLACEHOLDER.finditer(p)}
    return sorted(found | {"a value (<no value>)" for p in paths if "<no value>" in p})


def _fill(node: Any, params: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {_fill(k, params): _fill(v, params) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, params) for v in node]
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: params.get(m[1], m[0]), node)
    return node
