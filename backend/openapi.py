"""OpenAPI post-processing: every operation documents the shared error responses."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "machine-readable, e.g. invalid, image_corrupt, not_found"},
                "detail": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "detail"],
        }
    },
    "required": ["error"],
}
ERRORS = {
    "400": "invalid input (field errors, or a photo that is corrupt / too large / not an accepted format)",
    "401": "authentication needed",
    "403": "not allowed for this role",
    "404": "no such object, or not yours",
    "405": "method not allowed",
    "406": "not acceptable",
    "413": "request body over the upload limit",
    "415": "unsupported media type",
    "429": "rate limited; see Retry-After",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result


# A real case, so that "Try it out" works as given: the African elephant photographed in the
# Serengeti (../shared/data/photos/speciesnet_test_images/african_elephants.jpg), native there.
# Without an example Swagger UI pre-fills a bounded number with its maximum (lat 90, lon 180).
REAL_EXAMPLES = {
    "latitude": -2.33,
    "lat": -2.33,
    "longitude": 34.83,
    "lon": 34.83,
    "taxon": "Loxodonta africana",
    "kingdom": "Animalia",
    "q": "elephant",
}


def add_real_examples(result, generator, request, public):
    """Examples on the query parameters and request-body fields named in REAL_EXAMPLES."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query" and parameter["name"] in REAL_EXAMPLES:
                    parameter.setdefault("example", REAL_EXAMPLES[parameter["name"]])
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):  # request bodies only (COMPONENT_SPLIT_REQUEST)
            for field, schema in component.get("properties", {}).items():
                if field in REAL_EXAMPLES and "example" not in schema:
                    schema["example"] = REAL_EXAMPLES[field]
    return result
