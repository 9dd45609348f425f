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
                responses.setdefault(code, {"description": description, "content": {"application/json": {"schema": ref}}})
    return result
