"""``hub privacy export|erase --device ID``: data subject requests from the shell.

The work is hub.privacy.subject's; this module adds the arguments, a progress bar
on stderr (rich) and the confirmation an erasure asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.config import Settings

if TYPE_CHECKING:  # imported when the command runs: `hub --help` stays quick
    from rich.console import Console
    from rich.progress import Progress

    from hub.privacy.subject import Progress as StepProgress


def add_parser(commands: Any) -> None:
    """The ``privacy`` command and its ``export`` and ``erase`` actions."""
    privacy = commands.add_parser(
        "privacy", help="data subject requests: export or erase everything of one device"
    )
    actions = privacy.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write everything the hub holds on a device as a zip of CSV + JSON"
    )
    export.add_argument("--device", required=True, help="the device id")
    export.add_argument(
        "--out", type=Path, help="the zip file to write (default: <device>-export.zip)"
    )
    erase = actions.add_parser(
        "erase", help="delete everything of a device (readings and dead letters included)"
    )
    erase.add_argument("--device", required=True, help="the device id")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument(
        "--requested-by",
        default="cli",
        help="who asked for the erasure, for the record (default: cli)",
    )
    privacy.set_defaults(func=run)


def _bar(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _tracker(bar: Progress) -> StepProgress:
    """A progress callback that keeps one bar per step."""
    tasks: dict[str, Any] = {}

    def progress(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = bar.add_task(step, total=max(total, 1))
        bar.update(tasks[step], completed=done, total=max(total, done, 1))

    return progress


def run(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    if args.privacy_command == "export":
        return asyncio.run(_export(settings, args, console))
    if not args.yes:
        answer = input(f"erase everything the hub holds on {args.device!r}? type the id: ")
        if answer.strip() != args.device:
            print("not erased", file=sys.stderr)
            return 1
    return asyncio.run(_erase(settings, args, console))


async def _export(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    from hub.privacy import subject
    from hub.store.db import aconnect

    out: Path = args.out or Path(f"{args.device}-export.zip")
    partial = out.with_name(out.name + ".partial")
    with _bar(console) as bar:
        progress = _tracker(bar)
        async with await aconnect(settings.database_url, "privacy-export") as conn:
            with partial.open("wb") as target:
                counts = await subject.export_device(
                    conn,
                    args.device,
                    target,
                    reader=subject.command_reader("hub privacy export", getpass.getuser()),
                    what="hub privacy export",
                    progress=progress,
                )
    partial.replace(out)
    rows = ", ".join(f"{name} {n}" for name, n in counts.items())
    print(f"{out}: {rows}")
    return 0


async def _erase(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    from hub.commands.service import read_storage_level
    from hub.privacy import subject
    from hub.store.db import aconnect

    level = read_storage_level(settings)
    with _bar(console) as bar:
        progress = _tracker(bar)
        async with await aconnect(settings.database_url, "privacy-erase", autocommit=True) as conn:
            erasure = await subject.erase_device(
                conn,
                args.device,
                level=level,
                requested_by=args.requested_by,
                personal_retention_days=settings.personal_retention_days,
                progress=progress,
            )
    rows = ", ".join(f"{name} {n}" for name, n in erasure.counts.items())
    print(f"{args.device} erased (record {erasure.id}, {erasure.at.isoformat()}): {rows}")
    return 0
