"""`python -m sandboxes.spocc [--host H] [--port N] [--variations N] [--seed N]`."""

from __future__ import annotations

import argparse

from sandboxes.catalogue import DEFAULT_SEED, DEFAULT_VARIATIONS
from sandboxes.spocc.runner import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.spocc",
                                     description="Run the SPoCC sandbox in the foreground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--variations", type=int, default=DEFAULT_VARIATIONS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    serve(args.host, args.port, args.variations, args.seed)


if __name__ == "__main__":
    main()
