"""The JSON Schema of a catalog file, for editors (yaml-language-server) and reviewers."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from extgen.model import Dependency, Environment, GitOps, Model

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class CatalogFile(Model):
    """One catalog file. The catalog is the union of all its files."""

    environments: dict[str, Environment] = Field(
        default_factory=dict,
        description="Environments by name (DNS-1123 label; 'base' is reserved)",
    )
    dependencies: tuple[Dependency, ...] = Field(
        (), description="External dependencies; names are unique across the catalog"
    )
    gitops: GitOps | None = Field(
        None,
        description="Where the output is committed and the Argo CD / Flux objects that"
        " deploy it (in one file of the catalog)",
    )


def catalog_schema() -> dict[str, Any]:
    schema = CatalogFile.model_json_schema(by_alias=True)
    definitions = schema["$defs"]
    # The short target forms are normalised before validation, so pydantic only sees the
    # mapping forms; editors must accept what users write.
    definitions["Dependency"]["properties"]["targets"]["additionalProperties"] = {
        "description": "A hostname, an IP address, a list of IP addresses, a mapping with"
        " one of externalName, addresses or selector, or null for no target here",
        "anyOf": [
            {"type": "string", "description": "A hostname (ExternalName) or an IP address"},
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            {"$ref": "#/$defs/HostnameTarget"},
            {"$ref": "#/$defs/AddressTarget"},
            {"$ref": "#/$defs/SelectorTarget"},
            {"type": "null"},
        ],
    }
    return {"$schema": DIALECT, **schema, "title": "extgen catalog file"}
