"""The Go text/template subset of ApplicationSets, against Go's documented semantics:
trim markers, what a missing key prints (and ``missingkey=error``), pipelines, the
Sprig and Argo CD functions, control structures; the rest refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_actions.apps.gofuncs import go_float
from gitops_actions.apps.gotemplate import TemplateError, Unsupported, render

DATA: dict[str, Any] = {
    "path": {
        "path": "clusters/prod_eu/apps",
        "basename": "apps",
        "basenameNormalized": "apps",
        "segments": ["clusters", "prod_eu", "apps"],
    },
    "name": "Prod_EU",
    "replicas": 3,
    "account": 123456789,
    "cluster": {"server": "https://prod.example.test", "labels": {"tier": "gold"}},
    "items": ["a", "b", "c"],
    "empty": "",
    "none": None,
    "on": True,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ .path.path }}", "clusters/prod_eu/apps"),
        ("{{.path.basename}}", "apps"),
        ("{{ index .path.segments 1 }}", "prod_eu"),
        ("{{ .cluster.labels.tier }}", "gold"),
        ("{{ $.name }}", "Prod_EU"),
        # trim markers take every space, tab and newline on their side, nothing else
        ("a \n\t{{- .name }} b", "aProd_EU b"),
        ("a {{ .name -}} \n b", "a Prod_EUb"),
        ("x {{- /* a comment */ -}} y", "xy"),
        ("{{-3}}", "-3"),  # no space after the dash: a negative number, no trimming
        # a missing map key prints "<no value>"; so does a null; a field of one is nothing too
        ("{{ .nope }}", "<no value>"),
        ("{{ .none }}", "<no value>"),
        ("{{ .nope.deeper }}", "<no value>"),
        # numbers are float64, printed as Go's %v prints them
        ("{{ .replicas }}", "3"),
        ("{{ .account }}", "1.23456789e+08"),
        ("{{ .on }}", "true"),
        ("{{ .items }}", "[a b c]"),
        ("{{ .cluster.labels }}", "map[tier:gold]"),
        # pipelines: the value goes last
        ("{{ .name | lower }}", "prod_eu"),
        ('{{ .name | replace "_" "-" | lower }}', "prod-eu"),
        ('{{ .path.path | trimPrefix "clusters/" | trimSuffix "/apps" }}', "prod_eu"),
        ('{{ default "main" .nope }}', "main"),
        ('{{ .empty | default "main" }}', "main"),
        ('{{ default "main" .name }}', "Prod_EU"),
        ("{{ .name | quote }}", '"Prod_EU"'),
        ("{{ .replicas | quote }}", '"3"'),
        ('{{ printf "%s-%s" .path.basename .name }}', "apps-Prod_EU"),
        ('{{ printf "%v/%q" .replicas .name }}', '3/"Prod_EU"'),
        ("{{ normalize .name }}", "prod-eu"),
        ("{{ (index .path.segments 1) | upper }}", "PROD_EU"),
        ("{{ len .items }}", "3"),
        ('{{ join "," .items }}', "a,b,c"),
        (
            "{{ toJson .cluster }}",
            '{"labels":{"tier":"gold"},"server":"https://prod.example.test"}',
        ),
        ("key:{{ toYaml .cluster.labels | nindent 2 }}", "key:\n  tier: gold"),
        # control structures
        ('{{ if eq .name "Prod_EU" }}prod{{ else }}other{{ end }}', "prod"),
        ("{{ if .nope }}a{{ else if .empty }}b{{ else }}c{{ end }}", "c"),
        ('{{ if and .on (ne .name "x") }}yes{{ end }}', "yes"),
        ("{{ range $i, $s := .items }}{{ $i }}{{ $s }}{{ end }}", "0a1b2c"),
        ("{{ range .nope }}x{{ else }}none{{ end }}", "none"),
        ('{{ range .items }}{{ if eq . "c" }}{{ break }}{{ end }}{{ . }}{{ end }}', "ab"),
        ("{{ with .cluster }}{{ .server }}{{ end }}", "https://prod.example.test"),
        ("{{ $n := .name }}{{ range .items }}{{ $n }}{{ end }}", "Prod_EUProd_EUProd_EU"),
    ],
)
def test_renders_as_go(text: str, expected: str) -> None:
    assert render(text, DATA) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ .nope }}", 'map has no entry for key "nope"'),
        ('{{ default "x" .nope }}', 'map has no entry for key "nope"'),  # default cannot help
        ("{{ .cluster.nope }}", 'map has no entry for key "nope"'),
    ],
)
def test_missingkey_error(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(text, DATA, missing_error=True)
    assert render("{{ .none }}", DATA, missing_error=True) == "<no value>"  # there, but null


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ .none.x }}", "nil pointer evaluating"),  # a field of a null
        ("{{ .nope | lower }}", "invalid value; expected string"),
        ("{{ .replicas | lower }}", "expected string; got float64"),
        ("{{ index .path.segments 3 }}", "index out of range: 3"),
        ("{{ eq .replicas 3 }}", "incompatible types"),  # float64 against an int constant
        ("{{ .name.x }}", "can't evaluate field x in type string"),
        ("{{ if .on }}x", "without {{end}}"),
        ("{{ .name 1 }}", "can't give argument to non-function"),
        ('{{ "\\x" }}', "invalid escape"),
        ("{{ name }}", r'function "name" not defined \(a parameter is .name\)'),  # plain style
    ],
)
def test_what_go_refuses_is_an_error(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(text, DATA)


@pytest.mark.parametrize(
    ("text", "construct"),
    [
        ('{{ define "x" }}x{{ end }}', "{{define}}"),
        ('{{ template "x" . }}', "{{template}}"),
        ("{{ sha256sum .name }}", "function sha256sum"),
        ('{{ printf "%05d" .replicas }}', "printf"),
        ("{{ range 3 }}x{{ end }}", "range over int"),
        ('{{ repeat 10000000 "ab" }}', "repeat"),  # no output bigger than a field holds
        ("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "nesting"),
    ],
)
def test_outside_the_subset_is_named(text: str, construct: str) -> None:
    with pytest.raises(Unsupported, match=construct.replace("{", r"\{").replace("}", r"\}")):
        render(text, DATA)


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (3.0, "3"),
        (0.5, "0.5"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1.5e-5, "1.5e-05"),
        (-2.25, "-2.25"),
        (0.0001, "0.0001"),
        (123456.7, "123456.7"),
    ],
)
def test_floats_print_as_go_prints_them(value: float, printed: str) -> None:
    assert go_float(value) == printed


def test_text_without_actions_is_left_alone() -> None:
    assert render("plain {text} } {", DATA) == "plain {text} } {"
