"""Order events: one module per event (register, paid, shipping documents, return, cancel)."""
