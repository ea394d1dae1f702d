"""python -m sandboxes.plentyone --port 8081 --variations 16000 --plan enterprise"""

from __future__ import annotations

import argparse

from sandboxes.plentyone.runner import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.plentyone",
                                     description="Run the PlentyONE REST sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--variations", type=int, default=0,
                        help="pre-seed this many catalogue variations (default 0)")
    parser.add_argument("--seed", type=int, default=1, help="catalogue seed (default 1)")
    parser.add_argument("--plan", default="off",
                        help="off, basic, standard, professional, enterprise or R/W[/DAILY]")
    parser.add_argument("--token-ttl", type=float, default=86_400.0)
    parser.add_argument("--max-sessions", type=int, default=3)
    args = parser.parse_args(argv)
    serve(host=args.host, port=args.port, variations=args.variations, seed=args.seed,
          plan=args.plan, token_ttl=args.token_ttl, max_sessions=args.max_sessions)


if __name__ == "__main__":
    main()
