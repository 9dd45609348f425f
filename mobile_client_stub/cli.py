"""Command line: login/register, identify photos (online or queued offline), sync, history, show."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from pathlib import Path

from mobile_client_stub import photos as photo_lib
from mobile_client_stub.api import ApiError, NotAuthenticated, RangeWatchClient, TooLarge, Unavailable, retry_policy
from mobile_client_stub.batch import BatchOptions, identify_batch
from mobile_client_stub.camera_traps import DeploymentsError, DeploymentTable, is_batch_input
from mobile_client_stub.queue import Config, LocalHistory, OfflineQueue, default_config_path
from mobile_client_stub.render import render_batch_report, render_history_row, render_observation

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_BATCH_DIR = "rangewatch-results"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH, EXIT_TOO_LARGE, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C


class Context:
    """What every command needs: the config file, the server, the token, and a client for them."""

    def __init__(self, args):
        self.args = args
        self.config = Config(Path(args.config) if getattr(args, "config", None) else default_config_path())
        self.server = (
            getattr(args, "server", None)
            or os.environ.get("RANGEWATCH_SERVER")
            or self.config.get("server")
            or DEFAULT_SERVER
        ).rstrip("/")
        self.token = getattr(args, "token", None) or os.environ.get("RANGEWATCH_TOKEN") or self.config.get("token")
        # One connection attempt: the person at the terminal hears at once which server did not answer.
        self.client = RangeWatchClient(self.server, self.token, retry=retry_policy(connect_attempts=1))
        self.queue = OfflineQueue.for_config(self.config.path)
        self.history = LocalHistory.for_config(self.config.path)

    def out(self, text: str = "") -> None:
        print(text, flush=True)


# -- auth -----------------------------------------------------------------------------------------
def unreachable_words(ctx: Context, exc: Unavailable) -> str:
    """Why a capture was queued: which server did not answer, and how to point the client at another."""
    if exc.status == 0:  # the network: nothing answered at that address
        return (
            f"could not reach the server at {ctx.server} ({exc.detail.split(': ')[-1]}); "
            f"set another with --server URL or the RANGEWATCH_SERVER environment variable"
        )
    return f"the server at {ctx.server} is unavailable ({exc.detail})"


def _store_login(ctx: Context, answer: dict, verb: str) -> int:
    user = answer.get("user") or {}
    ctx.config.save(
        server=ctx.server, token=answer["token"], expiry=answer.get("expiry"), username=user.get("username")
    )
    ctx.out(
        f"{verb} as {user.get('username', '?')} on {ctx.server}; token saved to {ctx.config.path} (mode 600)"
        + (f", valid until {answer['expiry']}" if answer.get("expiry") else "")
    )
    return EXIT_OK


def _password(args) -> str:
    return args.password or os.environ.get("RANGEWATCH_PASSWORD") or getpass.getpass("Password: ")


def cmd_register(ctx: Context) -> int:
    a = ctx.args
    return _store_login(ctx, ctx.client.register(a.username, _password(a), a.email), "Registered and logged in")


def cmd_login(ctx: Context) -> int:
    return _store_login(ctx, ctx.client.login(ctx.args.username, _password(ctx.args)), "Logged in")


def cmd_logout(ctx: Context) -> int:
    if ctx.token:
        try:
            ctx.client.logout()
        except NotAuthenticated:
            pass  # already invalid on the server: forgetting it here is all that is left
    ctx.config.forget_token()
    ctx.out("Logged out; token removed from " + str(ctx.config.path))
    return EXIT_OK


# -- identify / sync ------------------------------------------------------------------------------
def _location_for(args, meta: photo_lib.PhotoMeta) -> tuple[float | None, float | None, str]:
    if args.lat is not None:
        return args.lat, args.lon, "typed"
    if meta.latitude is not None:
        return meta.latitude, meta.longitude, "exif"
    return None, None, "none"


def _finish(ctx: Context, observation: dict) -> dict:
    if ctx.args.wait and observation["status"] not in ("done", "failed"):
        observation = ctx.client.wait_for(observation, timeout=ctx.args.timeout)
    return observation


def _report(ctx: Context, results: list[dict]) -> None:
    if ctx.args.json:
        ctx.out(json.dumps(results[0] if len(results) == 1 else results, indent=2))
    else:
        ctx.out("\n\n".join(render_observation(r) for r in results))


def cmd_identify(ctx: Context) -> int:
    a = ctx.args
    if (a.lat is None) != (a.lon is None):
        ctx.out("give both --lat and --lon, or neither (then the photo's GPS is used)")
        return EXIT_USAGE
    if a.out or a.deployments or a.project or any(is_batch_input(p) for p in a.photos):
        return cmd_identify_batch(ctx)
    results, code = [], EXIT_OK
    for path in a.photos:
        try:
            prepared = photo_lib.prepare_photo(Path(path), long_side=a.max_side, quality=a.quality)
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read this photo ({exc})", file=sys.stderr)
            code = EXIT_ERROR
            continue
        lat, lon, source = _location_for(a, prepared.meta)
        observed_at = prepared.meta.observed_at.isoformat() if prepared.meta.observed_at else None
        if source == "none":
            print(f"{path}: no --lat/--lon and no GPS in the photo: the verdict cannot say where", file=sys.stderr)
        fields = dict(
            filename=prepared.filename,
            source_path=str(path),
            latitude=lat,
            longitude=lon,
            observed_at=observed_at,
            location_source=source,
        )
        if a.offline:
            item = ctx.queue.add(prepared.data, **fields)
            size = f"{prepared.width}x{prepared.height}"
            ctx.out(f"Queued {path} ({size}, location {source}) as {item.id}; send it with `sync`.")
            continue
        key = str(uuid.uuid4())
        try:
            observation = ctx.client.upload(
                prepared.data,
                prepared.filename,
                idempotency_key=key,
                latitude=lat,
                longitude=lon,
                observed_at=observed_at,
                wait=min(a.timeout, 10) if a.wait else 0,
            )
        except Unavailable as exc:
            # Like a phone out of signal: keep the capture (with the key we already used) for `sync`.
            item = ctx.queue.add(prepared.data, idempotency_key=key, **fields)
            print(f"{path}: {unreachable_words(ctx, exc)}; queued as {item.id}, run `sync` later.", file=sys.stderr)
            code = EXIT_UNAVAILABLE
            continue
        ctx.history.record(observation["id"])
        results.append(_finish(ctx, observation))
    if results:
        _report(ctx, results)
    return code


def cmd_identify_batch(ctx: Context) -> int:
    """A camera-trap card: every image under the folders / globs, results as files, resumable."""
    a = ctx.args
    if a.deployments and a.lat is not None:
        ctx.out("give --lat/--lon (one place for every image) or --deployments, not both")
        return EXIT_USAGE
    if a.offline:
        ctx.out("--offline queues single photos; a batch needs no queue: run it again to resume")
        return EXIT_USAGE
    try:
        deployments = DeploymentTable.from_csv(Path(a.deployments)) if a.deployments else None
    except DeploymentsError as exc:
        print(f"Cannot use the deployments: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if a.project:
        try:
            ctx.client.project(a.project)
        except ApiError as exc:
            if isinstance(exc, (NotAuthenticated, Unavailable)):
                raise
            print(f"No project {a.project!r} that this account is a member of ({exc.detail}).", file=sys.stderr)
            return EXIT_USAGE
    options = BatchOptions(
        latitude=a.lat,
        longitude=a.lon,
        deployments=deployments,
        project=a.project,
        concurrency=a.concurrency,
        max_queued=max(a.max_queued, a.concurrency),
        wait=a.wait,
        stall_timeout=a.timeout,
        long_side=a.max_side,
        quality=a.quality,
    )
    out_dir = Path(a.out or DEFAULT_BATCH_DIR)
    try:
        report = identify_batch(a.photos, out_dir, options, lambda: RangeWatchClient(ctx.server, ctx.token))
    except KeyboardInterrupt:
        print(f"Interrupted. What finished is in {out_dir}; run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    ctx.out(render_batch_report(report))
    if report.halted_by is not None:  # NotAuthenticated or Unavailable: main() says what to do
        raise report.halted_by
    return EXIT_OK if report.complete else EXIT_ERROR


def cmd_sync(ctx: Context) -> int:
    items = ctx.queue.items()
    if not items:
        ctx.out("Nothing queued.")
        return EXIT_OK
    results, code = [], EXIT_OK
    for item in items:
        item.attempts += 1
        ctx.queue.update(item)
        try:
            observation = ctx.client.upload(
                ctx.queue.photo(item),
                item.filename,
                idempotency_key=item.idempotency_key,
                latitude=item.latitude,
                longitude=item.longitude,
                observed_at=item.observed_at,
            )
        except (TooLarge, ApiError) as exc:
            if isinstance(exc, (NotAuthenticated, Unavailable)):
                raise  # nothing else can go through either; the rest stays queued
            item.last_error = f"{exc.status} {exc.code}: {exc.detail}"
            ctx.queue.update(item)
            where = ctx.queue.park_failed(item)
            print(f"{item.source_path}: refused ({item.last_error}); moved to {where}", file=sys.stderr)
            code = EXIT_ERROR
            continue
        # The server has it. Record first, then remove: a crash in between resends with the same
        # key, and the server answers with this same observation.
        ctx.history.record(observation["id"])
        ctx.queue.remove(item)
        ctx.out(f"Sent {item.source_path} -> observation {observation['id']} ({observation['status']})")
        results.append(observation)
    if ctx.args.wait and results:
        ctx.out("")
        _report(ctx, [_finish(ctx, r) for r in results])
    return code


# -- reading --------------------------------------------------------------------------------------
def cmd_show(ctx: Context) -> int:
    observation = ctx.client.observation(ctx.args.id, wait=10 if ctx.args.wait else 0)
    observation = _finish(ctx, observation)
    _report(ctx, [observation])
    return EXIT_OK


def cmd_history(ctx: Context) -> int:
    a = ctx.args
    try:
        page = ctx.client.observations(limit=a.limit)
        rows, total = page["results"], page["count"]
    except ApiError as exc:
        if exc.status not in (404, 405):
            raise
        # The server has no list endpoint yet: show what this device sent.
        rows = [ctx.client.observation(i) for i in ctx.history.ids()[: a.limit]]
        total = len(ctx.history.ids())
    if a.json:
        ctx.out(json.dumps(rows, indent=2))
        return EXIT_OK
    queued = ctx.queue.items()
    if queued:
        ctx.out(f"{len(queued)} capture(s) waiting to be sent (`sync`):")
        for item in queued:
            ctx.out(f"  {item.id}  {item.source_path}")
        ctx.out("")
    ctx.out(f"{total} observation(s)" + (f", newest {len(rows)}:" if rows else "."))
    for row in rows:
        ctx.out(render_history_row(row))
    return EXIT_OK


# -- wiring ---------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: the options work before or after the command without one overwriting the other.
    common.add_argument(
        "--server",
        default=argparse.SUPPRESS,
        help="server URL (or RANGEWATCH_SERVER; default: the saved one, else " + DEFAULT_SERVER + ")",
    )
    common.add_argument(
        "--token", default=argparse.SUPPRESS, help="API token (or RANGEWATCH_TOKEN; default: the saved one)"
    )
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="config file (or RANGEWATCH_CONFIG; default ~/.config/rangewatch/config.json)",
    )

    parser = argparse.ArgumentParser(
        prog="python -m mobile_client_stub",
        parents=[common],
        description="RangeWatch from the command line, behaving like the phone app.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    for name, helptext in (
        ("register", "create an account and save its token"),
        ("login", "log in and save the token"),
    ):
        p = sub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("--username", required=True)
        p.add_argument("--password", help="prompted for when omitted (or RANGEWATCH_PASSWORD)")
        if name == "register":
            p.add_argument("--email")
        p.set_defaults(func=cmd_register if name == "register" else cmd_login)
    sub.add_parser("logout", parents=[common], help="invalidate and forget the saved token").set_defaults(
        func=cmd_logout
    )

    _add_identify(sub, common)

    p = sub.add_parser("sync", parents=[common], help="send every queued capture, each exactly once")
    _result_options(p, wait_default=False)
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("history", parents=[common], help="your observations, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("show", parents=[common], help="one observation's result")
    p.add_argument("id")
    _result_options(p, wait_default=False)
    p.set_defaults(func=cmd_show)
    return parser


def _add_identify(sub, common) -> None:
    """`identify`: one photo at a time, or a resumable batch."""
    p = sub.add_parser(
        "identify",
        parents=[common],
        help="name the animal in each photo and say if it belongs there",
        description="Photos are sent one by one and their results printed. A folder, a quoted glob "
        "('cards/**/*.JPG'), --deployments or --out makes it a batch: every image sent once "
        "with bounded concurrency, results written to --out as results.csv and predictions.json "
        "(SpeciesNet format), resumable: run the same command again after an interruption.",
    )
    p.add_argument("photos", nargs="+", metavar="PHOTO_DIR_OR_GLOB")
    p.add_argument("--lat", type=float, help="latitude; default: the deployment, else the photo's EXIF GPS")
    p.add_argument("--lon", type=float, help="longitude; default: the deployment, else the photo's EXIF GPS")
    p.add_argument(
        "--deployments",
        metavar="CSV",
        help="batch: each image's place from a Camtrap DP deployments.csv (with its media.csv beside "
        "it, if any) or a folder,latitude,longitude CSV; an image belongs to the deployment "
        "named by its nearest folder",
    )
    p.add_argument(
        "--project",
        metavar="NAME",
        help="batch: send the images into this camera-trap project (its upload quota, the batch queue); "
        "each image's deployment is the CSV's, else its folder's name",
    )
    p.add_argument(
        "--out", metavar="DIR", help=f"batch: where the results and the journal go (default ./{DEFAULT_BATCH_DIR})"
    )
    p.add_argument(
        "--concurrency", type=_positive_int, default=4, help="batch: uploads in flight (default %(default)s)"
    )
    p.add_argument(
        "--max-queued",
        type=_positive_int,
        default=64,
        help="batch: images sent and not yet finished, at most (default %(default)s)",
    )
    p.add_argument("--offline", action="store_true", help="queue the capture on this device; send it later with `sync`")
    p.add_argument(
        "--max-side",
        type=int,
        default=photo_lib.DEFAULT_LONG_SIDE,
        help="downsize the long side to this many pixels before sending (default %(default)s)",
    )
    p.add_argument(
        "--quality",
        type=int,
        default=photo_lib.DEFAULT_QUALITY,
        help="JPEG quality of the re-encoded photo (default %(default)s)",
    )
    _result_options(p)
    p.set_defaults(func=cmd_identify)


def _result_options(p, wait_default: bool = True) -> None:
    p.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=wait_default,
        help="wait for the result (default: %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120,
        help="give up waiting after this many seconds without a result (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the API's JSON instead of plain words")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ctx = Context(args)
    try:
        return args.func(ctx)
    except NotAuthenticated as exc:
        print(
            f"Not logged in, or the token expired ({exc.detail}). "
            "Run `python -m mobile_client_stub login --username ...`, or pass --token / RANGEWATCH_TOKEN.",
            file=sys.stderr,
        )
        return EXIT_AUTH
    except TooLarge as exc:
        print(f"The server refused the photo as too large ({exc.detail}). Try a smaller --max-side.", file=sys.stderr)
        return EXIT_TOO_LARGE
    except Unavailable as exc:
        if exc.status == 0:
            print(f"{unreachable_words(ctx, exc)}.", file=sys.stderr)
            return EXIT_UNAVAILABLE
        what = "busy (too many requests)" if exc.status == 429 else "unavailable"
        print(
            f"The server is {what} even after retrying ({exc.detail}). "
            "Queued captures and unfinished batch images stay for the next try.",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    except ApiError as exc:
        fields = "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in exc.fields.items()
            if (v if not isinstance(v, list) else " ".join(map(str, v))) != exc.detail
        )
        print(f"Error {exc.status} {exc.code}: {exc.detail}" + (f" ({fields})" if fields else ""), file=sys.stderr)
        return EXIT_ERROR
