"""`mapisync check LIB:SYMBOL`: every host behaviour the protocol allows, each in a child
process, and a report of every rule the provider breaks (see docs/guides/checking-providers.md)."""

import argparse

from ..sync.conformance import CheckError, check_provider
from .clibase import EXIT_FAILED, EXIT_OK, Failure, UsageError, print_json

__all__ = ["cmd_check", "add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """check's options."""
    parser.add_argument("target", metavar="LIB:SYMBOL",
                        help="a shared library exporting HRESULT SYMBOL(const GUID *riid, void **ppv)")
    parser.add_argument("--quick", action="store_true", help="one scenario per common fault (a few seconds)")
    parser.add_argument("--json", action="store_true", help="the whole report as JSON")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds each sync may take (default 10; 5 with --quick)")
    parser.add_argument("--jobs", type=int, default=None, help="scenarios run at once (default: 2 per CPU, at most 8)")
    parser.add_argument("--only", metavar="NAMES", help="only these scenarios, comma-separated (the baseline always runs)")


def cmd_check(args: argparse.Namespace) -> int:
    """Check a native provider against the protocol: 0 if it conforms, 1 on findings."""
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"bad timeout {args.timeout}: it must be above 0")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"bad --jobs {args.jobs}: 1 or more")
    if ":" not in args.target:
        raise UsageError(f"expected LIBRARY:SYMBOL, got {args.target!r}")
    only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
    try:
        report = check_provider(args.target, quick=args.quick, timeout=args.timeout, jobs=args.jobs, only=only)
    except CheckError as exc:
        if exc.usage:
            raise UsageError(str(exc)) from None
        raise Failure(str(exc)) from None
    if args.json:
        print_json(report.as_dict())
    else:
        print(f"mapisync check {args.target} ({report.mode})")
        print(report.format())
    return EXIT_OK if report.ok else EXIT_FAILED
