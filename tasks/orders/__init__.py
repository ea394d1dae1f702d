"""Order events: one module per event (register, paid, shipping documents, return, cancel),
the status poll, the status write-backs and the sweeper; the business rules in `rules`, the
wiring in `engine`."""

from tasks.orders import (
    cancelled,
    paid,
    register,
    returned,
    shipping_documents,
    status_poll,
    sweep,
    writeback,
)

__all__ = ["cancelled", "paid", "register", "returned", "shipping_documents", "status_poll",
           "sweep", "writeback"]
