"""OpenAPI ``format`` values as the API server enforces them, as plain JSON-schema keywords.

The Go decoder refuses an int32 field holding 2**31, a ``[]byte`` field that is not
base64, a ``metav1.Time`` that is not RFC 3339, and a quantity it cannot parse. Other
formats are annotations there, and so they are here.
"""

from __future__ import annotations

from typing import Any

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# encoding/json decodes []byte with base64.StdEncoding, which skips line breaks
BASE64 = r"^(?:[A-Za-z0-9+/]{4}|[\r\n])*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?[\r\n]*$"
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
# resource.ParseQuantity: a signed decimal number, then one suffix
QUANTITY = (
    r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)


def constrain(schema: dict[str, Any], fmt: str) -> None:
    """Add the checks ``fmt`` stands for to ``schema`` (in place)."""
    if fmt in ("int32", "int64"):
        low, high = INT32 if fmt == "int32" else INT64
        schema.setdefault("minimum", low)
        schema.setdefault("maximum", high)
    elif fmt == "byte":
        schema.setdefault("pattern", BASE64)
    elif fmt == "date-time":
        schema.setdefault("pattern", RFC3339)
