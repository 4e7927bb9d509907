"""The OpenAPI document, as committed in openapi/openapi.json (`make openapi`).

Litestar derives each operation from its handler: parameters, body, success answer. What it can't see
is added here, for every handler alike, from what the handler exposes (``document``):

- the errors the gateway answers around every handler, as ``application/problem+json`` with the one
  ``ProblemDetails`` schema: 400 (validation; NUL characters are refused everywhere), 429 (every request is
  counted), 503 (the database), 401 where credentials are needed, 404 where the path names something
  (or the API version), 413 on the methods whose body is read, 409 on the API's writes (a concurrent
  change) and on the idempotent sends (with 422); plus what a handler declares itself with Litestar's
  ``responses=`` (``channels.openapi.problem("...")``);
- the ``RateLimit`` and ``RateLimit-Policy`` fields on every answer, ``Retry-After`` where it is sent;
- the ``{version}`` of the customer API as the enum it is, and the ``Idempotency-Key`` header's rule.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Components,
    Discriminator,
    Example,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from channels.openapi import REQUEST_EXAMPLES
from gateway.api.deps import API_VERSIONS, bulk_only_on_v11
from gateway.idempotency import HEADER as IDEMPOTENCY_KEY
from gateway.idempotency import IDEMPOTENT_OPT, MAX_KEY_LENGTH
from gateway.lib.problems import PROBLEM_MEDIA_TYPE, ProblemDetails

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # whose body is read (and so may be too large)

# What each status means wherever it is answered; a handler's own ``problem(...)`` text is added to it.
MEANINGS = {
    400: "`validation_error`: malformed JSON, wrong types, missing fields, unknown fields (a send ignores them and "
    "names them in `Gateway-Ignored-Fields`), bad values (in the body, "
    "the path, the query or a header), NUL characters anywhere; `errors` names every field at fault",
    401: "`unauthorized`: missing, expired, forged or revoked credentials",
    404: "`not_found`: no such resource, or one of another tenant",
    409: "`conflict`: the change raced a concurrent one; retry it",
    413: "`body_too_large`: the body is larger than GATEWAY_MAX_BODY_BYTES",
    429: "`rate_limited`: over the rate-limit quota (see the RateLimit fields); retry after Retry-After",
    503: "`unavailable`: the database can't be reached; nothing was done, retry after Retry-After",
}
UNKNOWN_VERSION = "`unknown_api_version`: `{version}` is not one of " + ", ".join(API_VERSIONS)
BULK_VERSION = "`bulk_needs_v1_1`: bulk sends are version 1.1 only"
IDEMPOTENCY = {
    409: f"`idempotency_key_in_flight`: a request with this {IDEMPOTENCY_KEY} is still being processed; retry "
    "after Retry-After to get its answer",
    422: f"`idempotency_key_reused`: this {IDEMPOTENCY_KEY} was used with a different request",
}
RETRY_AFTER_STATUSES = (429, 503)

# A key is 1 to 255 printable ASCII characters, bare or as a quoted string; HTTP drops the spaces around
# a header value, so a bare key starts and ends with a visible character ("" is the empty quoted key).
_VISIBLE, _PRINTABLE = "[!-~]", "[ -~]"
IDEMPOTENCY_KEY_PATTERN = (
    f'^(?:"{_PRINTABLE}{{1,{MAX_KEY_LENGTH}}}"|(?!""$){_VISIBLE}(?:{_PRINTABLE}{{0,{MAX_KEY_LENGTH - 2}}}{_VISIBLE})?)$'
)


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemDetails, description=description, media_type=PROBLEM_MEDIA_TYPE, generate_examples=False
    )


def _header(description: str, pattern: str | None = None, required: bool = True) -> OpenAPIHeader:
    return OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, pattern=pattern), description=description, required=required
    )


class DescribedStructs(StructSchemaPlugin):
    """Litestar's schema of a msgspec Struct, with the Struct's docstring as its description, and each field
    that is a union of Structs tagged by a field (a channel's message types: ``"type": "session"``) with
    its discriminator. Litestar's own plugin (a private module: no public hook adds either) does the rest."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        cls = field_definition.type_  # Page, of Page[DeliveryOut]
        if cls.__doc__ and cls.__doc__ != msgspec.Struct.__doc__ and not schema.description:
            schema.description = inspect.cleandoc(cls.__doc__)
        hints = field_definition.get_type_hints(include_extras=True, resolve_generics=True)
        for field in msgspec.structs.fields(cls):
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema) and (tags := _tags(hints[field.name])):
                # Each option a reference to a Struct's schema, besides a null of an optional field.
                options = [o for o in prop.one_of or () if not (isinstance(o, Schema) and o.type == OpenAPIType.NULL)]
                if len(options) == len(tags) and all(isinstance(option, Reference) for option in options):
                    prop.discriminator = StructDiscriminator(
                        property_name=_tag_field(hints[field.name]), tags=tags, options=options
                    )
        return schema


@dataclasses.dataclass
class StructDiscriminator(Discriminator):
    """A discriminator whose mapping names each option's schema as the document finally does: Litestar names
    the schemas after the references are made, a Struct by its module too when another has its name
    (``inbound_Document``), so the mapping is read from the options' references when the document is written."""

    tags: list[str] = dataclasses.field(default_factory=list)  # the options' tags, in their order
    options: list[Reference] = dataclasses.field(default_factory=list)

    @property
    def _exclude_fields(self) -> set[str]:
        return {"tags", "options"}

    def to_schema(self) -> dict[str, Any]:
        self.mapping = {tag: option.ref for tag, option in zip(self.tags, self.options, strict=True)}
        return super().to_schema()


def _union_of_structs(shape: Any) -> list[Any]:
    """The Structs of a union of Structs (under ``Annotated``, perhaps with None), else []."""
    while typing.get_origin(shape) is typing.Annotated:
        shape = typing.get_args(shape)[0]
    options = [
        typing.get_args(o)[0] if typing.get_origin(o) is typing.Annotated else o
        for o in typing.get_args(shape)
        if o is not type(None)  # an optional field's None
    ]
    if typing.get_origin(shape) not in (typing.Union, types.UnionType):
        return []
    return options if all(isinstance(o, type) and issubclass(o, msgspec.Struct) for o in options) else []


def _tag_field(shape: Any) -> str:
    return str(msgspec.inspect.type_info(_union_of_structs(shape)[0]).tag_field)  # type: ignore[attr-defined]


def _tags(shape: Any) -> list[str]:
    """A tagged union's tags, in the order of its Structs; [] for any other type."""
    infos = [msgspec.inspect.type_info(struct) for struct in _union_of_structs(shape)]
    if not infos or not all(info.tag_field for info in infos):  # type: ignore[attr-defined]
        return []
    return [str(info.tag) for info in infos]  # type: ignore[attr-defined]


def components() -> Components:
    """The response headers every operation refers to."""
    policy = '"(?:default|address|providers)"'
    return Components(
        headers={
            "RateLimit-Policy": _header(
                "The rate-limit policy that counted this request (IETF RateLimit header fields draft): `q` requests "
                "per window of `w` seconds",
                f"^{policy};q=[0-9]+;w=[0-9]+$",
            ),
            "RateLimit": _header(
                "What is left of that policy's quota: `r` requests now, `t` seconds until all of it is back",
                f"^{policy};r=[0-9]+;t=[0-9]+$",
            ),
            "Retry-After": _header("Seconds to wait before retrying", "^[0-9]+$"),
        }
    )


def document(app: Litestar) -> None:
    """Give every handler of ``app`` the answers and fields it has beyond what Litestar sees."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        parameters = set(route.path_parameters)
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                handler.responses = _errors(handler, parameters)
                handler.operation_class = _operation_class(handler, handler.operation_class)


def _errors(handler: HTTPRouteHandler, parameters: set[str]) -> dict[int, ResponseSpec]:
    """The handler's error answers: the common ones, with what the handler declared added to their text."""
    secured = bool(handler.resolve_security())
    statuses = {400, 429, 503}
    if secured:
        statuses.add(401)
    if parameters:
        statuses.add(404)
    if handler.http_methods & BODY_METHODS:
        statuses.add(413)
        if secured:
            statuses.add(409)
    declared = {status: spec.description for status, spec in (handler.responses or {}).items()}
    if handler.opt.get(IDEMPOTENT_OPT):
        declared |= IDEMPOTENCY
    errors: dict[int, ResponseSpec] = {}
    for status in sorted(statuses | {status for status in declared if status >= 400}):
        own = (handler.responses or {}).get(status)
        if own is not None and own.data_container is not None:
            errors[status] = own  # an answer of its own shape (GET /health's 503)
            continue
        # 409 `conflict` is what a write may race into; a 409 of a read (a wait) means only what it declares.
        common = None if status == 409 and status not in statuses else MEANINGS.get(status)
        texts = [common, declared.get(status)]
        if status == 404 and "version" in parameters:
            texts[1:1] = [UNKNOWN_VERSION, BULK_VERSION if bulk_only_on_v11 in handler.resolve_guards() else None]
        errors[status] = _problem("; ".join(text for text in texts if text))
    return {**(handler.responses or {}), **errors}


def _operation_class(handler: HTTPRouteHandler, base: Callable[..., Operation]) -> Callable[..., Operation]:
    idempotent = bool(handler.opt.get(IDEMPOTENT_OPT))
    versions = ["v1.1"] if bulk_only_on_v11 in handler.resolve_guards() else list(API_VERSIONS)

    examples = handler.opt.get(REQUEST_EXAMPLES, {})

    def build(**fields: Any) -> Operation:
        operation = base(**fields)
        if examples and isinstance(operation.request_body, RequestBody):
            for media in operation.request_body.content.values():
                media.examples = {name: Example(summary=name, value=value) for name, value in examples.items()}
        for parameter in operation.parameters or []:
            if isinstance(parameter, Parameter) and parameter.name == "version" and parameter.param_in == "path":
                parameter.schema = Schema(type=OpenAPIType.STRING, enum=versions)
                parameter.description = "The API version; fixed path segments match in any case"
        if idempotent:
            operation.parameters = [*(operation.parameters or []), _idempotency_key()]
        for status, response in (operation.responses or {}).items():
            if isinstance(response, OpenAPIResponse):
                _add_headers(int(status), response, idempotent)
        return operation

    return build


def _idempotency_key() -> Parameter:
    return Parameter(
        name=IDEMPOTENCY_KEY,
        param_in="header",
        required=False,
        schema=Schema(type=OpenAPIType.STRING, pattern=IDEMPOTENCY_KEY_PATTERN),
        description=(
            "Makes the request safe to retry: the same key with the same request gets the first answer again "
            "(with `Idempotent-Replay: true`) and creates nothing. Scoped to the tenant, kept 24 hours "
            f"(GATEWAY_IDEMPOTENCY_TTL). 1 to {MAX_KEY_LENGTH} printable ASCII characters, bare or as a quoted "
            'structured-field string (`order-42` and `"order-42"` name the same key).'
        ),
    )


def _add_headers(status: int, response: OpenAPIResponse, idempotent: bool) -> None:
    headers: dict[str, OpenAPIHeader | Reference] = dict(response.headers or {})
    headers["RateLimit-Policy"] = Reference("#/components/headers/RateLimit-Policy")
    headers["RateLimit"] = Reference("#/components/headers/RateLimit")
    if status in RETRY_AFTER_STATUSES and PROBLEM_MEDIA_TYPE in (response.content or {}):
        headers["Retry-After"] = Reference("#/components/headers/Retry-After")
    if idempotent and status == 409:
        headers["Retry-After"] = _header(
            "`idempotency_key_in_flight`: seconds to wait before retrying", "^[0-9]+$", required=False
        )
    if idempotent and status < 300:
        headers["Idempotent-Replay"] = _header(
            "Present, `true`, when this is the stored answer to an earlier request with the same key",
            "^true$",
            required=False,
        )
    response.headers = headers
