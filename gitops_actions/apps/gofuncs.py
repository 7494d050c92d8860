"""Values and functions of the Go template subset (see ``gotemplate``): how Go prints a
value and tells truth, the built-in functions, the Sprig functions ApplicationSets use,
and Argo CD's own (``normalize``, ``toYaml``). Type rules are Go's: a string parameter
takes a string, not a number or nothing."""

from __future__ import annotations

import base64
import json
import posixpath
import re
from collections.abc import Callable, Sequence
from typing import Any

from gitops_actions.yamlread import dump


class Unsupported(Exception):
    """A construct outside the subset (named in the message)."""


class TemplateError(Exception):
    """What Go's template package reports as an error: the Application is not made."""


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()  # a map key that is not there (Go's invalid value)
Thunk = Callable[[], Any]


def from_data(value: Any) -> Any:
    """Parameters as Argo CD holds them (read from JSON): numbers are float64."""
    if isinstance(value, dict):
        return {_text(k): from_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [from_data(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    return str(value)


def _text(key: Any) -> str:
    return ("true" if key else "false") if isinstance(key, bool) else str(key)


def type_name(value: Any) -> str:
    if value is None or value is MISSING:
        return "<nil>"
    names = {bool: "bool", int: "int", float: "float64", str: "string"}
    if type(value) in names:
        return names[type(value)]
    return "[]interface {}" if isinstance(value, list) else "map[string]interface {}"


def printed(value: Any) -> str:
    """``{{ value }}``: Go's text/template printing."""
    return "<no value>" if value is None or value is MISSING else _v(value)


def _v(value: Any) -> str:
    """fmt's ``%v``."""
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + " ".join(_v(v) for v in value) + "]"
    return "map[" + " ".join(f"{k}:{_v(value[k])}" for k in sorted(value)) + "]"


def go_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)``, as ``%v`` prints a float64."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    from decimal import Decimal  # only when a float is printed

    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + int(exponent)  # digits before the decimal point
    exp = point - 1
    minus = "-" if sign else ""
    if exp < -4 or exp >= 6:  # the shortest form: Go decides with a precision of 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def truth(value: Any) -> bool:
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool | int | float):
        return value != 0
    return len(value) > 0


def _empty(value: Any) -> bool:
    """Sprig's ``empty``."""
    return not truth(value)


def _string(value: Any, function: str) -> str:
    if isinstance(value, str):
        return value
    if value is None or value is MISSING:
        raise TemplateError(f"{function}: invalid value; expected string")
    raise TemplateError(
        f"{function}: wrong type for value; expected string; got {type_name(value)}"
    )


def _int(value: Any, function: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TemplateError(f"{function}: wrong type for value; expected int; got {type_name(value)}")


def strval(value: Any) -> str:
    """Sprig's ``strval``: a string as it is, anything else as ``%v``."""
    return value if isinstance(value, str) else _v(value)


def go_quote(text: str) -> str:
    """``strconv.Quote``."""
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    escapes |= {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _json_ready(value: Any) -> Any:
    """What Go's JSON encoding holds: a whole float64 is written as an integer."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return None if value is MISSING else value


def _to_json(value: Any) -> str:
    text = json.dumps(_json_ready(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _to_yaml(value: Any) -> str:
    if value is None or value is MISSING:
        return "null"
    return dump.dump(_json_ready(value), sort_keys=True).removesuffix("\n")


def _indent(spaces: Any, text: Any, function: str) -> str:
    pad = " " * _int(spaces, function)
    return pad + _string(text, function).replace("\n", "\n" + pad)


def _normalize(text: str) -> str:
    """Argo CD's ``normalize``: a DNS name (lower case, ``-`` for the rest, at most 253)."""
    name = re.sub(r"[^-a-z0-9.]", "-", text.lower())[:253]
    return name.strip("-.")


def _trunc(count: int, text: str) -> str:
    if count < 0 and len(text) + count > 0:
        return text[len(text) + count :]
    if count >= 0 and len(text) > count:
        return text[:count]
    return text


def _repeat(count: int, text: str) -> str:
    if count * len(text) > _LIMIT:
        raise Unsupported(f"repeat of {count} times")
    return text * max(count, 0)


_LIMIT = 1 << 20  # what one field of an Application may reasonably hold


def _printf(form: str, args: list[Any]) -> str:
    out, used, index = [], 0, 0
    while index < len(form):
        char = form[index]
        if char != "%":
            out.append(char)
            index += 1
            continue
        verb = form[index + 1 : index + 2]
        index += 2
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args) or verb not in "sdvq" or not verb:
            raise Unsupported(f"printf {form!r}")
        arg = args[used]
        used += 1
        if verb == "v":
            out.append(_v(arg))
        elif verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
            out.append(str(arg))
        elif verb in "sq" and isinstance(arg, str):
            out.append(arg if verb == "s" else go_quote(arg))
        else:
            raise Unsupported(f"printf %{verb} of {type_name(arg)}")
    if used != len(args):
        raise Unsupported(f"printf {form!r} with {len(args)} arguments")
    return "".join(out)


def _sprint(args: list[Any]) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    out = ""
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out += " "
        out += _v(arg)
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type_name(value)


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("eq: missing argument for comparison")
    for other in others:
        if (first is None or first is MISSING) or (other is None or other is MISSING):
            if (first is None or first is MISSING) and (other is None or other is MISSING):
                return True
            continue
        if _kind(first) != _kind(other):
            raise TemplateError("eq: incompatible types for comparison")
        if isinstance(first, list | dict):
            raise TemplateError("eq: non-comparable type")
        if first == other:
            return True
    return False


def _less(first: Any, second: Any) -> bool:
    kind = _kind(first)
    if kind != _kind(second):
        raise TemplateError("incompatible types for comparison")
    if kind not in ("int", "float64", "string"):
        raise TemplateError("invalid type for comparison")
    return bool(first < second)


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if item is None or item is MISSING:
            raise TemplateError("index of untyped nil")
        if isinstance(item, list | str):
            number = _int(key, "index")
            if not 0 <= number < len(item):
                raise TemplateError(f"error calling index: index out of range: {number}")
            item = item[number] if isinstance(item, list) else float(ord(item[number]))
        elif isinstance(item, dict):
            item = item.get(_string(key, "index"), MISSING)
        else:
            raise TemplateError(f"can't index item of type {type_name(item)}")
    return item


def _strslice(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [v for v in value if v is not None and v is not MISSING]
    return [] if value is None or value is MISSING else [value]


def _len(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise TemplateError(f"len of type {type_name(value)}")


def _and(args: Sequence[Thunk]) -> Any:
    value: Any = None
    for arg in args:
        value = arg()
        if not truth(value):
            return value
    return value


def _or(args: Sequence[Thunk]) -> Any:
    value: Any = None
    for arg in args:
        value = arg()
        if truth(value):
            return value
    return value


S, A, I = "s", "a", "i"  # noqa: E741 - a parameter's type: string, any, int
_FUNCS: dict[str, tuple[str, Callable[..., Any]]] = {
    # name: (parameter types, "*" after the last for variadic; the function)
    "lower": ("s", str.lower),
    "upper": ("s", str.upper),
    "title": ("s", lambda s: re.sub(r"(?<![^\W_])\w", lambda m: m[0].upper(), s)),
    "trim": ("s", lambda s: s.strip(" \t\n\r\v\f")),
    "trimPrefix": ("ss", lambda a, s: s.removeprefix(a)),
    "trimSuffix": ("ss", lambda a, s: s.removesuffix(a)),
    "trimAll": ("ss", lambda a, s: s.strip(a)),
    "replace": ("sss", lambda old, new, s: s.replace(old, new)),
    "contains": ("ss", lambda sub, s: sub in s),
    "hasPrefix": ("ss", lambda a, s: s.startswith(a)),
    "hasSuffix": ("ss", lambda a, s: s.endswith(a)),
    "splitList": ("ss", lambda sep, s: s.split(sep) if sep else list(s)),
    "join": ("sa", lambda sep, v: sep.join(strval(x) for x in _strslice(v))),
    "trunc": ("is", _trunc),
    "repeat": ("is", lambda n, s: _repeat(n, s)),
    "indent": ("aa", lambda n, s: _indent(n, s, "indent")),
    "nindent": ("aa", lambda n, s: "\n" + _indent(n, s, "nindent")),
    "quote": ("a*", lambda *v: " ".join(go_quote(strval(x)) for x in v if x is not None)),
    "squote": ("a*", lambda *v: " ".join(f"'{strval(x)}'" for x in v if x is not None)),
    "cat": ("a*", lambda *v: " ".join(strval(x) for x in v if x is not None)),
    "toString": ("a", strval),
    "default": ("aa*", lambda d, *g: d if not g or _empty(g[0]) else g[0]),
    "empty": ("a", _empty),
    "coalesce": ("a*", lambda *v: next((x for x in v if not _empty(x)), None)),
    "ternary": ("aaa", lambda a, b, c: a if c is True else b),
    "list": ("a*", lambda *v: list(v)),
    "base": ("s", lambda s: posixpath.basename(s.rstrip("/")) or ("/" if s else ".")),
    "dir": ("s", lambda s: posixpath.normpath(s[: s.rfind("/") + 1] or ".")),
    "b64enc": ("s", lambda s: base64.b64encode(s.encode()).decode()),
    "toJson": ("a", _to_json),
    "toYaml": ("a", _to_yaml),
    "normalize": ("s", _normalize),
    "print": ("a*", lambda *v: _sprint(list(v))),
    "printf": ("sa*", lambda f, *v: _printf(f, list(v))),
    "not": ("a", lambda v: not truth(v)),
    "len": ("a", _len),
    "index": ("aa*", _index),
    "eq": ("aa*", _eq),
    "ne": ("aa", lambda a, b: not _eq(a, b)),
    "lt": ("aa", _less),
    "le": ("aa", lambda a, b: _less(a, b) or _eq(a, b)),
    "gt": ("aa", lambda a, b: _less(b, a)),
    "ge": ("aa", lambda a, b: _less(b, a) or _eq(a, b)),
}


NAMES = frozenset((*_FUNCS, "and", "or"))


def call(name: str, args: Sequence[Thunk]) -> Any:
    if name == "and":
        return _and(args)
    if name == "or":
        return _or(args)
    if name not in _FUNCS:
        raise Unsupported(f"function {name}")
    kinds, function = _FUNCS[name]
    fixed = kinds.rstrip("*")
    variadic = kinds.endswith("*")
    if len(args) < len(fixed) - (1 if variadic else 0) or (not variadic and len(args) > len(fixed)):
        raise TemplateError(f"wrong number of args for {name}: want {len(fixed)} got {len(args)}")
    values = [arg() for arg in args]
    for index, value in enumerate(values[: len(fixed)]):
        kind = fixed[index] if index < len(fixed) else A
        if kind == S:
            _string(value, name)
        elif kind == I:
            _int(value, name)
    return function(*values)
