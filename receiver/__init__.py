"""The webhook receiver: `POST /hooks/<connection>/<event>` → validated (schemas.webhooks) →
an `event_deliveries` row and its idempotency key, committed → the event's task enqueued on
the `orders` queue → 200 with the event id (PlentyONE counts only a 200 as delivered).
`receiver.app.create_app()` is the WSGI app; `spocc webhooks [--port N]` runs it under
gunicorn."""
