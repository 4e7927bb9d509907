"""The API documentation pages under /schema, served with no internet access.

Litestar's render plugins load Swagger UI, Redoc, RapiDoc and Stoplight Elements from CDNs (jsdelivr,
unpkg, cdn.redoc.ly), Redoc's fonts from Google Fonts and the pages' icon from GitHub through jsdelivr:
offline every page was blank. Here only the pages whose assets the gateway serves itself are
configured, each pointed at them:

- ``/schema`` and ``/schema/redoc``: Redoc 2.5.4, its standalone bundle committed in gateway/static/redoc
  (from the npm package ``redoc@2.5.4``, MIT; source and licences in gateway/static/README.md), without
  Google Fonts (the system's sans-serif fonts stand in for Roboto and Montserrat);
- ``/schema/swagger``: Swagger UI from the PyPI package ``swagger-ui-bundle-v2`` (Apache-2.0; its
  version is the package's, pinned in constraints.txt), and its OAuth2 redirect page;
- ``/schema/openapi.json``, ``/schema/openapi.yaml`` and ``/schema/openapi.yml``: the document itself.

Their scripts, style sheet and icon are served by Litestar's static-files router under
``/schema/static/<name>-<version>/`` (a new version is a new URL, so browsers may cache a day), outside
the OpenAPI document. Like /schema these GETs need no credentials and are counted per client address.
Redoc's sidebar footer shows Redocly's logo from cdn.redoc.ly (hard-coded in the bundle, hidden when it
can't be loaded): the Redoc page's content security policy allows images from the gateway only, so the
browser never asks for it (tests/browser/test_docs_page.py).
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

SCHEMA_PATH = "/schema"
STATIC_PATH = f"{SCHEMA_PATH}/static"

SWAGGER_UI_DIR = Path(str(swagger_ui_path))  # .../swagger_ui_bundle/vendor/swagger-ui-<version>
SWAGGER_UI_VERSION = SWAGGER_UI_DIR.name.removeprefix("swagger-ui-")
SWAGGER_UI_URL = f"{STATIC_PATH}/swagger-ui-{SWAGGER_UI_VERSION}"

REDOC_DIR = Path(__file__).parent / "static" / "redoc"
REDOC_VERSION = "2.5.4"  # of the committed redoc.standalone.js (gateway/static/README.md)
REDOC_URL = f"{STATIC_PATH}/redoc-{REDOC_VERSION}"

# Litestar's default icon is an image on GitHub, through jsdelivr; Swagger UI's own is served here.
FAVICON = f"<link rel='icon' type='image/png' href='{SWAGGER_UI_URL}/favicon-32x32.png'>"
# Written into the page's head as the icon is (Litestar's plugins take no headers).
IMAGES_FROM_HERE = "<meta http-equiv='Content-Security-Policy' content=\"img-src 'self' data: blob:\">"


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The pages under /schema; the first (Redoc, as Litestar's default was) is also /schema itself."""
    return [
        RedocRenderPlugin(
            js_url=f"{REDOC_URL}/redoc.standalone.js", google_fonts=False, favicon=FAVICON + IMAGES_FROM_HERE
        ),
        SwaggerRenderPlugin(
            js_url=f"{SWAGGER_UI_URL}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER_UI_URL}/swagger-ui.css",
            standalone_preset_js_url=f"{SWAGGER_UI_URL}/swagger-ui-standalone-preset.js",
            favicon=FAVICON,
        ),
        JsonRenderPlugin(),
        YamlRenderPlugin(),
    ]


def static_routes() -> list[Router]:
    """The pages' scripts, style sheet and icon, out of the OpenAPI document."""
    cache = CacheControlHeader(public=True, max_age=86_400)
    return [
        create_static_files_router(
            path=url, directories=[directory], name=name, cache_control=cache, include_in_schema=False
        )
        for url, directory, name in (
            (SWAGGER_UI_URL, SWAGGER_UI_DIR, "swagger-ui-assets"),
            (REDOC_URL, REDOC_DIR, "redoc-assets"),
        )
    ]
