"""A small client that behaves like the RangeWatch phone app: CLI, EXIF GPS, downsizing, retries, offline queue."""
