"""OpenAPI documentation for handlers that read their input by hand.

The callback routes (and a few API routes) read signature headers, tokens and the providers' payloads
themselves (a signature is checked over the raw bytes before anything is parsed), so Litestar can't see
them in their signatures:
``operation_class=documented(header(...), query(...), body=object_schema(...))`` describes them. Error
answers beyond the gateway's common ones are declared with Litestar's ``responses={401: problem("...")}``;
the gateway gives them its problem+json schema (gateway.openapi).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Parameter, Reference, RequestBody, Schema

# A handler's ``opt`` key: {name: request body}, the examples the document shows for its request body.
REQUEST_EXAMPLES = "request_examples"
STRING = Schema(type=OpenAPIType.STRING)
INTEGER = Schema(type=OpenAPIType.INTEGER)
NUMBER = Schema(type=OpenAPIType.NUMBER)
OBJECT = Schema(type=OpenAPIType.OBJECT)


def problem(description: str) -> ResponseSpec:
    """An error answer (application/problem+json): ``"`code`: when it is answered"``."""
    return ResponseSpec(data_container=None, description=description)


def header(name: str, description: str, *, required: bool = False) -> Parameter:
    return Parameter(name=name, param_in="header", required=required, schema=STRING, description=description)


def query(name: str, description: str | None = None, *, required: bool = False, schema: Schema = STRING) -> Parameter:
    return Parameter(name=name, param_in="query", required=required, schema=schema, description=description)


def described(description: str, schema: Schema = STRING) -> Schema:
    """A field's ``schema`` (a string unless given) with its description."""
    return dataclasses.replace(schema, description=description)


def object_schema(
    description: str, properties: dict[str, Schema] | None = None, required: tuple[str, ...] = ()
) -> Schema:
    """A JSON object; fields not named are allowed (providers add fields in every version)."""
    return Schema(
        type=OpenAPIType.OBJECT, description=description, properties=properties, required=list(required) or None
    )


def documented(
    *parameters: Parameter, body: Schema | Reference | None = None, body_required: bool = True
) -> Callable[..., Operation]:
    """An ``operation_class`` adding ``parameters`` and a JSON request ``body`` to what Litestar derives."""

    def build(**fields: Any) -> Operation:
        operation = Operation(**fields)
        operation.parameters = [*(operation.parameters or []), *parameters]
        if body is not None:
            operation.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=body)}, required=body_required
            )
        return operation

    return build
