"""A small JSON Schema subset for the answers templates ask for.

Supported: ``type`` (object, array, string, integer, number, boolean, null, or a list of
them), ``properties``, ``required``, ``additionalProperties`` (boolean), ``items``,
``enum``, ``minLength``/``maxLength``, ``minimum``/``maximum``, ``minItems``/``maxItems``;
``description``, ``title``, ``default`` and ``examples`` are documentation only.
"""

from typing import Any

_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "minLength",
    "maxLength", "minimum", "maximum", "minItems", "maxItems", "description", "title",
    "default", "examples",
}


def check_schema(schema: Any, where: str = "$") -> list[str]:
    """Problems in a schema itself (unknown keyword, bad type name...)."""
    if not isinstance(schema, dict):
        return [f"{where}: a schema must be an object"]
    problems = [f"{where}: unsupported keyword {k!r}" for k in schema if k not in _KEYWORDS]
    types = schema.get("type")
    for t in types if isinstance(types, list) else [types] if types is not None else []:
        if t not in _TYPES:
            problems.append(f"{where}: unknown type {t!r}")
    problems += _check_properties(schema, where)
    if "items" in schema:
        problems += check_schema(schema["items"], f"{where}[]")
    if "enum" in schema and not isinstance(schema["enum"], list):
        problems.append(f"{where}.enum: must be a list")
    if "additionalProperties" in schema and not isinstance(schema["additionalProperties"], bool):
        problems.append(f"{where}.additionalProperties: only true or false is supported")
    return problems


def _check_properties(schema: dict[str, Any], where: str) -> list[str]:
    """``properties`` (each a schema) and ``required`` (names among them)."""
    problems: list[str] = []
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        problems.append(f"{where}.properties: must be an object")
    else:
        for name, sub in props.items():
            problems += check_schema(sub, f"{where}.{name}")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        problems.append(f"{where}.required: must be a list of field names")
    elif isinstance(props, dict) and props:
        problems += [f"{where}.required: {r!r} is not in properties" for r in required if r not in props]
    return problems


def _type_ok(value: Any, t: str) -> bool:
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    return value is None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "integer", float: "number"}.get(type(value), type(value).__name__)


def validate(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Every way ``value`` does not fit ``schema``, as messages naming the field."""
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        if not any(_type_ok(value, t) for t in allowed):
            return [f"{where}: expected {' or '.join(allowed)}, got {_type_name(value)}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        options = ", ".join(str(o) for o in schema["enum"])
        errors.append(f"{where}: expected one of {options}, got {value!r}")
    if isinstance(value, str):
        errors += _bounds(len(value), schema, where, "minLength", "maxLength", "characters")
    if isinstance(value, int | float) and not isinstance(value, bool):
        errors += _range(value, schema, where)
    if isinstance(value, list):
        errors += _bounds(len(value), schema, where, "minItems", "maxItems", "items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        errors += _object_errors(value, schema, where)
    return errors


def _bounds(size: int, schema: dict[str, Any], where: str, low: str, high: str,
            unit: str) -> list[str]:
    """A length against the schema's ``low``/``high`` keywords (minLength, maxItems...)."""
    errors = []
    if size < schema.get(low, 0):
        errors.append(f"{where}: must have at least {schema[low]} {unit}")
    if high in schema and size > schema[high]:
        errors.append(f"{where}: must have at most {schema[high]} {unit}")
    return errors


def _range(value: float, schema: dict[str, Any], where: str) -> list[str]:
    errors = []
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: must be >= {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{where}: must be <= {schema['maximum']}")
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    props: dict[str, Any] = schema.get("properties", {})
    errors = [f"{where}: missing required field {name!r}"
              for name in schema.get("required", []) if name not in value]
    for name, item in value.items():
        if name in props:
            errors += validate(item, props[name], f"{where}.{name}")
        elif schema.get("additionalProperties") is False:
            errors.append(f"{where}: unexpected field {name!r}")
    return errors


def describe(schema: dict[str, Any]) -> str:
    """The schema as compact JSON, for the prompt text."""
    import json

    def strip(s: Any) -> Any:
        if isinstance(s, dict):
            return {k: strip(v) for k, v in s.items() if k not in ("title", "examples")}
        if isinstance(s, list):
            return [strip(v) for v in s]
        return s

    return json.dumps(strip(schema), indent=2, ensure_ascii=False)
