"""A client generated from the committed OpenAPI document gets a typed model for every channel block.

datamodel-code-generator (a dev extra) writes pydantic models from ``openapi/openapi.json`` into a temporary
package, as a client's build would; the tests import it and check that each channel's block of SendMessage
is a generated model (or a union of them), never ``Any`` or a bare ``dict``, and that every named example of
the send request parses with those models. Independently of the tool, the document itself is walked from the
request schemas of send, sendbulk and sendmessagesbulk: an untyped object anywhere below them is named by
its JSON path.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.registry import all_channels

DOCUMENT = Path(__file__).parents[2] / "openapi" / "openapi.json"
SPEC = json.loads(DOCUMENT.read_text())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
SEND = "/api/{version}/Message/send"
SEND_EXAMPLES: dict[str, Any] = SPEC["paths"][SEND]["post"]["requestBody"]["content"]["application/json"].get(
    "examples", {}
)
REQUEST_SCHEMAS = ("SendMessage", "SendBulk", "SendMessagesBulk")
# The block of a send request, by channel: its name, or the name seed 002 writes (``whatsApp``).
BLOCK_KEYS = sorted(channel.block_key or channel.name for channel in all_channels().values())
PACKAGE = "generated_chat_api_client"
# Keywords that say nothing about a value's type.
ANNOTATIONS = {"description", "title", "examples", "example", "default", "deprecated", "readOnly", "writeOnly"}
# Where a schema holds schemas: one, a list of them, or a map of them by name.
SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
SUBSCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs")


# --------------------------------------------------------------------------
# The generated client


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.ModuleType]:
    pytest.importorskip(
        "datamodel_code_generator",
        reason="datamodel-code-generator is not installed: it is a dev extra (make .venv/.installed installs it)",
    )
    root = tmp_path_factory.mktemp("client")
    command = [
        sys.executable,
        "-m",
        "datamodel_code_generator",
        "--input",
        str(DOCUMENT),
        "--input-file-type",
        "openapi",
        "--output",
        str(root / PACKAGE),  # a directory: the document's dotted schema names make a package
        "--output-model-type",
        "pydantic_v2.BaseModel",
        "--target-python-version",
        "3.11",
        "--formatters",
        "builtin",  # no black/isort pass: the code is imported, not read
        "--disable-timestamp",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"datamodel-codegen failed:\n{done.stderr}"
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def untyped_parts(annotation: Any) -> list[str]:
    """What in a field's annotation is not a generated model: Any, dict, object, a scalar... (None is fine)."""
    from pydantic import BaseModel

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return untyped_parts(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [part for arg in typing.get_args(annotation) for part in untyped_parts(arg)]
    if annotation is type(None):
        return []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        root = annotation.model_fields.get("root")
        # A RootModel stands for its root: a union of models is typed, a RootModel[dict[str, Any]] isn't.
        if root is not None and getattr(annotation, "__pydantic_root_model__", False):
            return untyped_parts(root.annotation)
        return []
    return [repr(annotation)]


def test_every_channel_block_is_a_property_of_send_message() -> None:
    assert set(BLOCK_KEYS) <= set(SCHEMAS["SendMessage"]["properties"])


def fields_by_key(model: Any) -> dict[str, tuple[str, Any]]:
    """A generated model's fields by their JSON name: (attribute, FieldInfo)."""
    return {field.alias or name: (name, field) for name, field in model.model_fields.items()}


@pytest.mark.parametrize("block", BLOCK_KEYS)
def test_the_channel_block_is_a_generated_model(client: types.ModuleType, block: str) -> None:
    fields = fields_by_key(client.SendMessage)
    assert block in fields, f"SendMessage has no field {block}: {sorted(fields)}"
    annotation = fields[block][1].annotation
    untyped = untyped_parts(annotation)
    assert untyped == [], f"SendMessage.{block} is typed as {annotation!r}: {', '.join(untyped)} is no generated model"


@pytest.mark.parametrize("name", sorted(SEND_EXAMPLES))
def test_the_send_example_parses_with_the_generated_models(client: types.ModuleType, name: str) -> None:
    from pydantic import BaseModel

    value = SEND_EXAMPLES[name]["value"]
    message = client.SendMessage.model_validate(value)  # raises with every problem, by path
    fields = fields_by_key(client.SendMessage)
    for block in BLOCK_KEYS:
        if value.get(block) is not None:
            parsed = getattr(message, fields[block][0])
            assert isinstance(parsed, BaseModel), f"{name}: the {block} block parsed as {type(parsed).__name__}"


def test_the_send_request_has_examples() -> None:
    assert SEND_EXAMPLES, f"{SEND} shows no request examples"


# --------------------------------------------------------------------------
# The document: no untyped object below the request schemas


def untyped_objects(roots: tuple[str, ...], schemas: dict[str, Any]) -> list[str]:
    """The JSON path of every untyped object (an object with neither properties nor a typed
    additionalProperties, or one with ``additionalProperties: {}``/``true``) or untyped value (a schema that
    says nothing of its type) reachable from ``roots``, with the chain of schemas it was reached by."""
    found: list[str] = []
    seen: set[str] = set()
    queue = [(root, root) for root in roots]

    def walk(node: Any, path: str, via: str) -> None:
        if not isinstance(node, dict):
            return
        where = f"{path} (from {via})"
        if ref := node.get("$ref"):
            name = ref.removeprefix("#/components/schemas/")
            if name not in seen:
                seen.add(name)
                queue.append((name, f"{via} -> {name}"))
        if not set(node) - ANNOTATIONS:
            found.append(f"{where}: any value")
            return
        kind = node.get("type")
        is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
        extra = node.get("additionalProperties")
        if is_object and (extra == {} or extra is True):
            found.append(f"{where}: an object of any fields (additionalProperties: {json.dumps(extra)})")
        elif is_object and not node.get("properties") and not node.get("patternProperties") and extra is None:
            found.append(f"{where}: an object with no properties")
        for key in SUBSCHEMA:
            if key in node and not (key == "additionalProperties" and (node[key] == {} or node[key] is True)):
                walk(node[key], f"{path}/{key}", via)  # additionalProperties: {} is named above, as its object
        for key in SUBSCHEMA_LISTS:
            for index, item in enumerate(node.get(key) or ()):
                walk(item, f"{path}/{key}/{index}", via)
        for key in SUBSCHEMA_MAPS:
            for name, item in (node.get(key) or {}).items():
                walk(item, f"{path}/{key}/{name}", via)

    seen.update(roots)
    while queue:
        name, via = queue.pop(0)
        walk(schemas[name], f"#/components/schemas/{name}", via)
    return found


@pytest.mark.parametrize("schema", REQUEST_SCHEMAS)
def test_no_untyped_object_is_reachable_from_the_request_schema(schema: str) -> None:
    found = untyped_objects((schema,), SCHEMAS)
    assert found == [], "untyped schemas below " + schema + ":\n" + "\n".join(found)


def test_the_walk_sees_untyped_objects() -> None:
    schemas = {
        "Root": {
            "type": "object",
            "properties": {
                "typed": {"$ref": "#/components/schemas/Typed"},
                "map": {"type": "object", "additionalProperties": {"type": "string"}},
                "loose": {"oneOf": [{"type": "object", "additionalProperties": {}}, {"type": "null"}]},
            },
        },
        "Typed": {
            "type": "object",
            "properties": {"bare": {"type": "object"}, "anything": {"description": "no type"}},
        },
    }
    assert untyped_objects(("Root",), schemas) == [
        "#/components/schemas/Root/properties/loose/oneOf/0 (from Root): an object of any fields"
        " (additionalProperties: {})",
        "#/components/schemas/Typed/properties/bare (from Root -> Typed): an object with no properties",
        "#/components/schemas/Typed/properties/anything (from Root -> Typed): any value",
    ]
