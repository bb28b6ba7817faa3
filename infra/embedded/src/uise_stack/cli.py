"""`uise-stack`: run the embedded stack.

    uise-stack up [--no-demo] [--replicas intake=2,signature=2,validation=2]
                                start everything, run the demo, keep running until Ctrl-C;
                                --replicas runs that many processes of a service (not the portal)
    uise-stack status           what runs where
    uise-stack stop             stop a running `up` (from another terminal)
    uise-stack traces [--submission ID | --trace ID]
                                each trace as a tree of spans, with the time per service
    uise-stack clock set 2027-01-11T23:59:59+05:00 | clock offset -3600 | clock real
                                rehearse: every service's business clock moves together
    uise-stack openapi          regenerate docs/openapi/ from the services' code
    uise-stack campaign [--regions 1 --districts 2 --schools 6 | --national] [--year YYYY] [--offices N]
                                a full campaign of one form from the schools to the Ministry, against
                                the running stack or one of its own; prints the table per level
    uise-stack replay SERVICE [--into DATABASE_URL]
                                rebuild the service's read model from its input topics (offset 0) into
                                a fresh database (default: a new SQLite file under var/replay/) and
                                compare it with the live one, table by table; exit 1 on a difference
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import date
from pathlib import Path

import httpx

from uise_stack.config import EVERYTHING, StackConfig, instance_name, parse_replicas
from uise_stack.stack import Stack


def cmd_up(args: argparse.Namespace) -> int:
    base_dir = Path(args.base_dir)
    try:
        replicas = parse_replicas(args.replicas or "")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    config = (StackConfig.ephemeral(base_dir, replicas=replicas, broker_storage=args.broker_storage)
              if args.ephemeral_ports
              else StackConfig(base_dir=base_dir, replicas=replicas, broker_storage=args.broker_storage))
    if (config.base_dir / "stack.json").exists() and _running(config):
        print(f"a stack is already running (see {config.base_dir / 'stack.json'}); `uise-stack stop` first")
        return 1
    stack = Stack(config)
    stopping = False

    def on_signal(_signum, _frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("starting S3 (moto), Kafka (tansu), Redis, topics, the eight services and the portal …")
        stack.start()
        print_status(config)
        if not args.no_demo:
            print("demo: seeding the registry and sending signed submissions …")
            from uise_stack.demo import run_demo

            run_demo(config, stack.prepare_pki())
        print(f"\nthe portal: {config.url('portal')}/ (sign in with an EDS through NCALayer)")
        print(f"API docs: {config.url('intake')}/docs (intake), {config.url('registry')}/docs (registry), "
              f"{config.url('identity')}/docs (identity: sign-in, tokens)")
        print(f"the first data-office credential (made by `uise-identity bootstrap`): {config.data_office_file}")
        print("traces:   uise-stack traces --submission <id>\nrunning; Ctrl-C stops everything.")
        while True:
            for name, proc in stack.procs.items():
                if not proc.alive():
                    print(f"{name} exited ({proc.popen.returncode}); see {proc.log_path}")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping …")
        return 0
    finally:
        stack.stop()


def _running(config: StackConfig) -> bool:
    state = json.loads((config.base_dir / "stack.json").read_text())
    try:
        os.kill(state["pid"], 0)
        return True
    except ProcessLookupError:
        return False


def print_status(config: StackConfig) -> int:
    path = config.base_dir / "stack.json"
    if not path.exists():
        print("not running")
        return 1
    state = json.loads(path.read_text())
    print(f"kafka  {state['kafka']}\ns3     {state['s3']}\nredis  {state['redis']}\ndb     {state['database']}")
    for service in EVERYTHING:
        urls = state.get("replicas", {}).get(service) or [state["services"].get(service)]
        for n, url in enumerate(urls, start=1):
            if url is None:
                continue
            name = instance_name(service, n)
            try:
                ready = httpx.get(f"{url}/readyz", timeout=2).json()
                health = "ready" if ready["ready"] else f"not ready {ready['checks']}"
                health += "".join(f"; {w}" for w in ready.get("waiting", ()))  # consumers on an outage
            except httpx.HTTPError:
                health = "down"
            pid = state["processes"].get(name, {}).get("pid")
            print(f"{name:<13} {url:<24} pid {pid!s:<8} {health}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    config = StackConfig(base_dir=Path(args.base_dir))
    path = config.base_dir / "stack.json"
    if not path.exists():
        print("not running")
        return 0
    state = json.loads(path.read_text())
    try:
        os.kill(state["pid"], signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in state["processes"].values():  # anything the runner could not stop
        try:
            os.killpg(proc["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    path.unlink(missing_ok=True)
    print("stopped")
    return 0


def cmd_clock(config: StackConfig, how: str, value: str | None) -> int:
    from datetime import datetime

    from uise_common.clock import clear_control, write_control

    try:
        if how == "set":
            write_control(config.clock_file, fixed=datetime.fromisoformat(value or ""))
        elif how == "offset":
            write_control(config.clock_file, offset_seconds=float(value or ""))
        else:
            clear_control(config.clock_file)
    except ValueError as exc:
        print(f"clock {how}: {exc} (e.g. `clock set 2027-01-11T23:59:59+05:00`, `clock offset -3600`)",
              file=sys.stderr)
        return 2
    print(f"clock: {how} {value or ''}".rstrip())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="uise-stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-dir", default="var", help="data, logs and traces (default ./var)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("--no-demo", action="store_true")
    up.add_argument("--ephemeral-ports", action="store_true",
                    help="free ports instead of 9092/9000/6390/8001-8009 (to run beside another stack)")
    up.add_argument("--replicas", metavar="SERVICE=N,...",
                    help="run N processes of a service, e.g. intake=2,signature=2,validation=2; a replica's "
                         "port is its first instance's plus 100 (intake-2 on 8102)")
    up.add_argument("--broker-storage", choices=["s3", "memory"], default="s3",
                    help="where the broker keeps its log: the embedded S3 (default; survives a restart) or memory "
                         "(rehearsals: the S3 engine's cost grows with the log, docs/operations.md)")
    sub.add_parser("status")
    sub.add_parser("stop")
    tr = sub.add_parser("traces")
    tr.add_argument("--submission")
    tr.add_argument("--trace")
    sub.add_parser("openapi")
    ck = sub.add_parser("clock", help="move the business clock of a running stack (tests, rehearsals)")
    ck.add_argument("how", choices=["set", "offset", "real"])
    ck.add_argument("value", nargs="?", help="an ISO time with its offset, or seconds")
    cp = sub.add_parser("campaign", help="run a whole campaign through every level (rehearsals, tests)")
    cp.add_argument("--regions", type=int, default=1)
    cp.add_argument("--districts", type=int, default=2, help="districts in each region")
    cp.add_argument("--schools", type=int, default=6, help="schools in each region, spread over its districts")
    cp.add_argument("--national", action="store_true",
                    help="the national seed's schools, colleges and kindergartens instead")
    cp.add_argument("--offices", type=int, default=None,
                    help="offices acting at once (default 8; 32 with --national)")
    cp.add_argument("--year", type=int, default=date.today().year + 7,
                    help="the campaign's year (default: seven years ahead, a year of its own, since the business "
                         "clock moves into it; within the test CA's ten years)")
    rp = sub.add_parser("replay", help="rebuild a service's read model from its topics and compare it with live")
    rp.add_argument("service", help="routing, deadline, reporting, intake, signature, validation or identity")
    rp.add_argument("--into", metavar="DATABASE_URL",
                    help="an empty database to rebuild into (default: a new SQLite file under <base-dir>/replay/)")
    args = p.parse_args(argv)
    if args.command == "replay":
        from uise_stack.replay import main as replay

        return replay(args.base_dir, args.service, args.into)
    if args.command == "campaign":
        from uise_stack.campaign import main as campaign

        return campaign(args.base_dir, args.regions, args.districts, args.schools, args.national, args.year,
                        args.offices or (32 if args.national else 8))
    if args.command == "clock":
        return cmd_clock(StackConfig(base_dir=Path(args.base_dir)), args.how, args.value)
    if args.command == "openapi":
        from uise_stack.openapi import generate

        for path in generate():
            print(f"wrote {path}")
        return 0
    if args.command == "up":
        return cmd_up(args)
    if args.command == "status":
        return print_status(StackConfig(base_dir=Path(args.base_dir)))
    if args.command == "stop":
        return cmd_stop(args)
    from uise_stack.traces import show

    print(show(Path(args.base_dir) / "traces", args.submission, args.trace))
    return 0


if __name__ == "__main__":
    sys.exit(main())
