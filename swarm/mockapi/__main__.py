"""``python -m swarm.mockapi``: serve the fake Messages API until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import trio

from swarm.errors import PlanError, SwarmError, UsageError

from ._config import MockAPIConfig
from ._server import serve_forever


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m swarm.mockapi``."""
    parser = argparse.ArgumentParser(
        prog="python -m swarm.mockapi", description="Serve a fake Anthropic Messages API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port, 0 picks a free one")
    parser.add_argument("--rules", help="YAML/JSON file: a list of rules or a full config")
    parser.add_argument("--ttft", type=float, help="seconds to the first token")
    parser.add_argument("--tps", type=float, help="output tokens per second")
    parser.add_argument("--error-rate", type=float, help="fraction of requests to fail, 0..1")
    parser.add_argument("--seed", type=int, help="seed of the error draws")
    parser.add_argument(
        "--max-request-mb", type=float, help="largest request body accepted (default 32)"
    )
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> MockAPIConfig:
    """The config from ``--rules``, with the other flags overriding it."""
    overrides: dict[str, Any] = {}
    if args.error_rate is not None:
        overrides["error_rate"] = args.error_rate
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.max_request_mb is not None:
        overrides["max_request_mb"] = args.max_request_mb
    base = MockAPIConfig.from_file(args.rules) if args.rules else MockAPIConfig()
    latency = base.latency.model_copy(
        update={k: v for k, v in (("ttft", args.ttft), ("tps", args.tps)) if v is not None}
    )
    # Re-validate so flag values get the same range checks as file values.
    return MockAPIConfig.model_validate(
        {**base.model_dump(), **overrides, "latency": latency.model_dump()}
    )


def main(argv: list[str] | None = None) -> int:
    """Run until Ctrl-C; return the exit code."""
    args = parse_args(argv)
    try:
        config = load_config(args)
        trio.run(serve_forever, config, args.host, args.port)
    except SwarmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, PlanError | UsageError) else 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
