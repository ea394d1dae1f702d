"""The operator's console: server-rendered pages over the same store, Redis and Celery
state the CLI reads (`spocc ops`). No JavaScript, nothing from a CDN: it works offline."""
