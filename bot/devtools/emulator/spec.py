"""Check Bot API requests against Telegram's machine-readable API description (bot-api.json).

Every parameter arrives as a string (form data) or a JSON value (JSON body). `validate` turns
them into Python values of the documented type, checks required parameters and walks JSON objects
recursively through the `types` section, so a malformed keyboard fails here as it would on
Telegram. Limits that the description states only in prose live in `rules.py`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from bot.devtools.emulator import rules
from bot.devtools.emulator.errors import bad_request

_CONST_RE = re.compile(r"(?:must be|always) [“\"]?([a-z_]+)[”\"]?")
_INTEGER_RE = re.compile(r"^[+-]?\d+$")
_PRIMITIVES = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})
# Telegram's own wording for the parameters bots most often forget.
_MISSING = {
    "text": "message text is empty",
    "chat_id": "chat_id is empty",
    "message_id": "message identifier is not specified",
    "photo": "there is no photo in the request",
    "document": "there is no document in the request",
    "callback_query_id": "query_id is empty",
}
# Parameters the description marks required although Telegram accepts them missing.
_OPTIONAL_ANYWAY = frozenset({("setwebhook", "url")})


@dataclass(frozen=True)
class UploadedFile:
    """A file sent with multipart/form-data; only its name and size are kept."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class TypeSpec:
    name: str
    fields: tuple[FieldSpec, ...]
    subtypes: tuple[str, ...]
    # For a subtype such as BotCommandScopeChat: the field that tells it apart and its value.
    discriminator: tuple[str, str] | None


class _FieldError(Exception):
    """A problem inside a JSON object, reported with the path to the field."""


class ApiSpec:
    """The methods and types of the Bot API, indexed for validation."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.version: str = str(data.get("version", ""))
        self.methods = {
            name.lower(): MethodSpec(name, _fields(raw)) for name, raw in data["methods"].items()
        }
        self.types = {name: _type_spec(name, raw) for name, raw in data["types"].items()}

    def method(self, name: str) -> MethodSpec | None:
        """Return the method called `name` (case-insensitive), or None."""
        return self.methods.get(name.lower())

    def validate(
        self,
        method: MethodSpec,
        raw: Mapping[str, Any],
        files: Mapping[str, UploadedFile] | None = None,
    ) -> dict[str, Any]:
        """Return the typed parameters of a call to `method`, or raise ApiError(400)."""
        files = files or {}
        params: dict[str, Any] = {}
        for spec in method.fields:
            value = raw.get(spec.name)
            if value is None or value == "":
                value = files.get(spec.name)
            if value is None or value == "":
                required = (
                    spec.required and (method.name.lower(), spec.name) not in _OPTIONAL_ANYWAY
                )
                if required:
                    raise bad_request(_MISSING.get(spec.name, f"{spec.name} is empty"))
                continue
            params[spec.name] = self._parameter(spec, value, files)
        return params

    def _parameter(self, spec: FieldSpec, value: Any, files: Mapping[str, UploadedFile]) -> Any:
        if isinstance(value, str) and value.startswith("attach://") and "InputFile" in spec.types:
            attached = files.get(value.removeprefix("attach://"))
            if attached is None:
                raise bad_request(f"file {value} not found in the request")
            return attached
        if isinstance(value, UploadedFile):
            if "InputFile" in spec.types:
                return value
            raise bad_request(f'parameter "{spec.name}" can\'t be a file')
        objects = [t for t in spec.types if t not in _PRIMITIVES]
        if (
            objects
            and isinstance(value, str)
            and not ("String" in spec.types and value[:1] not in "[{")
        ):
            try:
                value = json.loads(value)
            except ValueError:
                raise bad_request(_unparsable(spec.name)) from None
        try:
            return self._value(spec.types, value, spec.name)
        except _FieldError as error:
            if objects:
                raise bad_request(f"can't parse {spec.name}: {error}") from None
            raise bad_request(f'parameter "{spec.name}" {error}') from None

    def _value(self, types: tuple[str, ...], value: Any, path: str) -> Any:
        if isinstance(value, dict) and len(types) > 1:
            # Pick the object type whose required fields are present (reply_markup can be any
            # of four keyboards) so the error names what is wrong inside that one.
            fitting = [t for t in types if self._fits(t, value)]
            types = tuple(fitting[:1]) or types
        errors: list[str] = []
        for type_name in types:
            try:
                return self._single(type_name, value, path)
            except _FieldError as error:
                errors.append(str(error))
        if len(errors) == 1:
            raise _FieldError(errors[0])
        raise _FieldError(f"{_where(path)}must be of type {' or '.join(types)}")

    def _fits(self, type_name: str, value: dict[str, Any]) -> bool:
        spec = self.types.get(type_name)
        if spec is None:
            return False
        return bool(spec.subtypes) or all(f.name in value for f in spec.fields if f.required)

    def _single(self, type_name: str, value: Any, path: str) -> Any:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                raise _FieldError(f"{_where(path)}must be an Array")
            item_type = type_name.removeprefix("Array of ")
            return [self._single(item_type, item, f"{path}[{i}]") for i, item in enumerate(value)]
        scalar = _scalar(type_name, value)
        if scalar is not _NOT_SCALAR:
            if scalar is _WRONG:
                raise _FieldError(f"{_where(path)}must be of type {type_name}")
            return scalar
        spec = self.types.get(type_name)
        if spec is None:
            raise _FieldError(f"{_where(path)}has unknown type {type_name}")
        if spec.subtypes:
            return self._abstract(spec, value, path)
        return self._object(spec, value, path)

    def _abstract(self, spec: TypeSpec, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            return self._value(spec.subtypes, value, path)
        for name in spec.subtypes:
            sub = self.types.get(name)
            if sub is not None and sub.discriminator is not None:
                key, expected = sub.discriminator
                if value.get(key) == expected:
                    return self._object(sub, value, path)
        raise _FieldError(f"{_where(path)}has unsupported {spec.name} type")

    def _object(self, spec: TypeSpec, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _FieldError(f"{_where(path)}must be an Object of type {spec.name}")
        result = dict(value)
        for field in spec.fields:
            item = value.get(field.name)
            if item is None:
                if field.required:
                    raise _FieldError(f'Can\'t find field "{field.name}"{_in(path)}')
                continue
            result[field.name] = self._value(field.types, item, f"{path}.{field.name}")
        rules.check_object(spec.name, result)
        return result


class _Marker:
    pass


_NOT_SCALAR: Any = _Marker()
_WRONG: Any = _Marker()


def _scalar(type_name: str, value: Any) -> Any:
    """Coerce a primitive; return _NOT_SCALAR for object types and _WRONG on a mismatch."""
    if type_name == "Integer":
        if isinstance(value, bool):
            return _WRONG
        if isinstance(value, int):
            return value
        if isinstance(value, str) and _INTEGER_RE.match(value.strip()):
            return int(value)
        return _WRONG
    if type_name == "Float":
        if isinstance(value, bool):
            return _WRONG
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(value) if isinstance(value, str) else _WRONG
        except ValueError:
            return _WRONG
    if type_name == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        return _WRONG
    if type_name == "String":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return _WRONG
    if type_name == "InputFile":
        return value if isinstance(value, UploadedFile) else _WRONG
    return _NOT_SCALAR


def _where(path: str) -> str:
    return f'field "{path}" ' if "." in path or "[" in path else ""


def _in(path: str) -> str:
    return f" in {path}" if "." in path or "[" in path else ""


def _unparsable(name: str) -> str:
    if name == "reply_markup":
        return "can't parse reply keyboard markup JSON object"
    return f"can't parse {name} JSON object"


def _fields(raw: Mapping[str, Any]) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(f["name"], tuple(f["types"]), bool(f["required"])) for f in raw.get("fields", [])
    )


def _type_spec(name: str, raw: Mapping[str, Any]) -> TypeSpec:
    discriminator = None
    if raw.get("subtype_of"):
        for field in raw.get("fields", []):
            match = _CONST_RE.search(field.get("description", ""))
            if field["required"] and field["types"] == ["String"] and match:
                discriminator = (field["name"], match.group(1))
                break
    return TypeSpec(name, _fields(raw), tuple(raw.get("subtypes", ())), discriminator)


@functools.cache
def load_spec() -> ApiSpec:
    """Load bot-api.json once, on first use (never at import time)."""
    text = (
        resources.files("bot.devtools.emulator")
        .joinpath("bot-api.json")
        .read_text(encoding="utf-8")
    )
    return ApiSpec(json.loads(text))
