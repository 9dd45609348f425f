"""Plain-Python machine learning for RangeWatch: images, transforms, models, artifacts, inference.

Nothing here imports Django; torch is imported only inside the modules that need it, and only
when they are imported (never by the web process).
"""
