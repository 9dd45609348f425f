"""The upload size cap, enforced while the body streams in (not only by a proxy in front)."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import JsonResponse
from rest_framework.exceptions import APIException


class UploadTooLarge(APIException):
    status_code = 413
    default_code = "too_large"


def _limit_message(limit: int) -> str:
    return f"the request body exceeds the upload limit of {limit} bytes ({limit // (1024 * 1024)} MiB)"


class BodySizeLimitMiddleware:
    """Refuse a declared Content-Length over the cap before reading a byte of the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.RANGEWATCH_MAX_UPLOAD_BYTES + 64 * 1024  # room for the other form fields
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            body = {
                "error": {
                    "code": "too_large",
                    "detail": _limit_message(settings.RANGEWATCH_MAX_UPLOAD_BYTES),
                    "limit_bytes": settings.RANGEWATCH_MAX_UPLOAD_BYTES,
                }
            }
            response = JsonResponse(body, status=413)
            response["Connection"] = "close"
            return response
        return self.get_response(request)


class CappedUploadHandler(FileUploadHandler):
    """First in the handler chain: counts file bytes as they arrive (chunked bodies have no
    Content-Length) and stops the upload, before storage sees it, once the cap is passed."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.RANGEWATCH_MAX_UPLOAD_BYTES:
            raise UploadTooLarge(_limit_message(settings.RANGEWATCH_MAX_UPLOAD_BYTES))
        return raw_data

    def file_complete(self, file_size):
        return None
