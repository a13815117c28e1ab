"""`python -m qualtrics_sandbox --port 8100 [--host H] [--data DIR] [--seed demo] [--public-url URL]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .seed import demo_summary, seed_demo
from .server import Options, RunningSandbox
from .webhooks import WebhookSettings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m qualtrics_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data", type=Path, default=None, help="keep state in DIR/sandbox.sqlite3")
    parser.add_argument("--seed", choices=["demo"], default=None)
    parser.add_argument("--public-url", default=None, help="base of BrandBaseURL and nextPage URLs")
    parser.add_argument("--datacenter", default="sandbox1", help="datacenter id of new brands")
    parser.add_argument("--muster-url", default=None, help="sets the demo surveys' end-of-survey redirect")
    parser.add_argument("--export-seconds", type=float, default=1.0, help="shortest time an export takes")
    parser.add_argument(
        "--partial-seconds",
        type=float,
        default=None,
        help="close abandoned survey sessions as partials after this many idle seconds (default: each survey's)",
    )
    parser.add_argument(
        "--response-delay-seconds",
        type=float,
        default=0.0,
        help="a new response answers 202 'not yet available' (and stays out of exports) this long",
    )
    parser.add_argument("--calls-per-minute", type=int, default=None, help="per-token rate limit (429 beyond it)")
    parser.add_argument("--max-concurrent", type=int, default=None, help="per-token concurrent calls (429 beyond)")
    parser.add_argument("--textiq", action="store_true", help="add Text iQ analytics fields for text questions")
    parser.add_argument("--webhook-retry-seconds", type=float, default=2.0)
    parser.add_argument("--webhook-max-attempts", type=int, default=8)
    parser.add_argument(
        "--webhook-allow-host",
        action="append",
        default=[],
        help="also deliver webhooks to this host (repeatable; '*' for any). Loopback only by default.",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    hosts = frozenset({"127.0.0.1", "localhost", "::1", *args.webhook_allow_host})
    options = Options(
        host=args.host,
        port=args.port,
        data_dir=args.data,
        public_url=args.public_url,
        datacenter=args.datacenter,
        muster_url=args.muster_url,
        export_seconds=args.export_seconds,
        partial_seconds=args.partial_seconds,
        response_delay_seconds=args.response_delay_seconds,
        calls_per_minute=args.calls_per_minute,
        max_concurrent=args.max_concurrent,
        textiq=args.textiq,
        webhooks=WebhookSettings(
            retry_seconds=args.webhook_retry_seconds,
            max_attempts=args.webhook_max_attempts,
            allowed_hosts=hosts,
        ),
    )
    running = RunningSandbox(options)
    if args.seed == "demo":
        seed_demo(running.store, args.datacenter, args.muster_url)
        for line in demo_summary(running.store, running.sandbox.public_url):
            print(line)
    print(f"# Qualtrics sandbox listening on http://{args.host}:{running.port}", flush=True)
    try:
        running.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
