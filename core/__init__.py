"""The kernel every app builds on: typed service errors and their HTTP face, Celery plumbing
(task declaration, enqueue, retry policy), pagination, throttles and migration helpers. It sits
at the bottom of the layers: it imports no app and no part of backend/ (the project)."""
