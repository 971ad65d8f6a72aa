"""`python -m mcp_memory import FILE.jsonl`: bulk import through the service's own write path.

One JSON object a line: {"text": ..., "tags": [...], "metadata": {...}, "id": ...,
"created_at": ...}, only text required (`python -m mcp_memory export` writes such lines).
Lines are checked as remember_many checks them, embedded in batches and stored one
transaction a batch, two batches in flight (one embedding while the other is written).
Progress goes to stderr; a bad line (one that is not UTF-8 too) is reported as FILE:LINE:
reason and skipped (exit status 1 at the end); a store that cannot be used ends the import
with `error: ...` and exit status 1. After each stored batch the checkpoint file records
the last line done, so a rerun after an interruption resumes there; ids are stable per line
(the line's `id`, else derived from its number and content) and rows already stored are
skipped, so a batch stored just before a crash is not stored twice.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TextIO

from mcp_runtime import SettingsLoadError, load_settings
from pydantic import ValidationError

from mcp_memory.embedder import MAX_TOKENS
from mcp_memory.errors import InvalidArgument, MemoryServiceError, StoreUnavailable
from mcp_memory.models import NewMemory, StoredMemory
from mcp_memory.service import MemoryService
from mcp_memory.settings import MemorySettings

# Ids derived from a line's number and bytes live in their own UUID namespace.
LINE_NAMESPACE = uuid.UUID("5d6b3f0e-3c41-4d2a-9a59-8f1f0c2b7a21")
PROGRESS_SECONDS = 5.0
IN_FLIGHT = 2
# A batch is also the window its texts are sorted by length in before they are cut into
# model runs, and a run pads every text to its longest: on docstring paragraphs a batch
# of 256 pads to 1.33x the real tokens, one of 2,048 to 1.02x (with the runs below, 6,000
# of them imported at 201-213/s in batches of 256, 214/s in batches of 2,048).
DEFAULT_BATCH_SIZE = 2048
# Model runs of two full-length texts' worth of padded tokens, one per CPU thread at once
# (`parallel_runs`). On two cores and 3,000 docstring paragraphs: 209-212/s, against
# 178-191/s for runs of 8,192 on both threads, 206-208/s for 256 a run, 193-207/s for 1,024.
IMPORT_TOKENS_PER_RUN = 2 * MAX_TOKENS


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


def parse_line(service: MemoryService, number: int, raw: str) -> StoredMemory | BadLine:
    """The memory a JSONL line describes, or why it cannot be stored."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return BadLine(number, f"not JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(data, dict):
        return BadLine(number, f"must be a JSON object, got {type(data).__name__}")
    memory_id = data.pop("id", None)
    if memory_id is not None and (not isinstance(memory_id, str) or not memory_id.strip()):
        return BadLine(number, "id: must be a non-empty string")
    created_at = data.pop("created_at", None)
    if created_at is not None:
        try:
            created_at = datetime.fromisoformat(created_at)
        except (TypeError, ValueError):
            created_at = None
        if created_at is None or created_at.tzinfo is None:
            return BadLine(number, "created_at: must be an ISO 8601 time with its UTC offset")
    try:
        item = NewMemory.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "line"
        return BadLine(number, f"{where}: {first['msg']}")
    stable_id = (
        memory_id
        or uuid.uuid5(LINE_NAMESPACE, f"{number}:{hashlib.sha256(raw.encode()).hexdigest()}").hex
    )
    try:
        return service.checked(item, memory_id=stable_id.strip(), created_at=created_at)
    except InvalidArgument as exc:
        return BadLine(number, str(exc))


def numbered_lines(file: BinaryIO, after: int) -> Iterator[tuple[int, str | BadLine]]:
    """The lines past `after` that are not blank, decoded, or why one is not UTF-8.

    Read as bytes and decoded line by line: in text mode one bad byte ended the import,
    with the batch in hand lost and no line named, and a rerun stopped at the same place.
    """
    for number, raw in enumerate(file, start=1):
        if number <= after:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            byte = raw[exc.start]
            yield (
                number,
                BadLine(number, f"not UTF-8: {exc.reason} 0x{byte:02x} at byte {exc.start + 1}"),
            )
            continue
        # Text mode read CRLF as LF: so too here, as a line's derived id hashes the line.
        if text.endswith("\r\n"):
            text = text[:-2] + "\n"
        if text.strip():
            yield number, text


class Checkpoint:
    """The last line whose batch (and every batch before it) is stored, in a JSON file."""

    def __init__(self, path: Path, source: Path) -> None:
        self.path = path
        self.source = str(source.resolve())

    def load(self) -> int:
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise SettingsLoadError(f"--checkpoint: cannot read {self.path}: {exc}") from None
        if state.get("source") != self.source:
            raise SettingsLoadError(
                f"--checkpoint: {self.path} belongs to {state.get('source')}, not {self.source}"
            )
        return int(state["line"])

    def save(self, line: int, imported: int) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps({"source": self.source, "line": line, "imported": imported}))
        os.replace(partial, self.path)


async def import_file(
    service: MemoryService,
    source: Path,
    checkpoint: Checkpoint,
    *,
    batch_size: int,
    out: TextIO = sys.stderr,
) -> tuple[int, list[BadLine]]:
    """Import `source` past the checkpoint; returns memories stored and bad lines."""
    done_line = checkpoint.load()
    if done_line:
        print(f"{source}: resuming after line {done_line}", file=out, flush=True)
    bad: list[BadLine] = []
    imported = 0
    in_flight: deque[tuple[asyncio.Task[None], int, int]] = deque()
    started = last_report = time.monotonic()

    async def settle_oldest() -> None:
        nonlocal imported, last_report
        task, last_line, size = in_flight.popleft()
        await task
        imported += size
        checkpoint.save(last_line, imported)
        now = time.monotonic()
        if now - last_report >= PROGRESS_SECONDS:
            last_report = now
            rate = imported / max(now - started, 1e-9)
            print(
                f"{source}: {imported} memories stored, through line {last_line}, {rate:.0f}/s",
                file=out,
                flush=True,
            )

    async def submit(batch: list[StoredMemory], last_line: int) -> None:
        task = asyncio.create_task(service.store_memories(batch, skip_existing=True))
        in_flight.append((task, last_line, len(batch)))
        if len(in_flight) >= IN_FLIGHT:
            await settle_oldest()

    batch: list[StoredMemory] = []
    last_line = done_line
    try:
        with source.open("rb") as file:
            for number, raw in numbered_lines(file, done_line):
                parsed = raw if isinstance(raw, BadLine) else parse_line(service, number, raw)
                last_line = number
                if isinstance(parsed, BadLine):
                    bad.append(parsed)
                    print(f"{source}:{parsed.line}: {parsed.reason}", file=out, flush=True)
                    continue
                batch.append(parsed)
                if len(batch) >= batch_size:
                    await submit(batch, last_line)
                    batch = []
        if batch:
            await submit(batch, last_line)
        while in_flight:
            await settle_oldest()
        checkpoint.save(last_line, imported)
    finally:
        for task, _, _ in in_flight:
            task.cancel()
    seconds = time.monotonic() - started
    print(
        f"{source}: {imported} memories stored in {seconds:.1f} s "
        f"({imported / max(seconds, 1e-9):.0f}/s), {len(bad)} bad lines",
        file=out,
        flush=True,
    )
    return imported, bad


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_memory import",
        description="Import memories from a JSONL file into the configured store.",
    )
    parser.add_argument("file", type=Path, help="JSONL: one {text, tags?, metadata?, id?} a line")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="memories a transaction, sorted by length for the model",
    )
    parser.add_argument(
        "--checkpoint", type=Path, help="progress file (default: FILE.checkpoint next to FILE)"
    )
    parser.add_argument(
        "--restart", action="store_true", help="ignore the checkpoint and start at line 1"
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size: must be at least 1, got {args.batch_size}")
    if not args.file.is_file():
        parser.error(f"file: {args.file} does not exist or is not a file")
    return args


async def run_import(argv: list[str]) -> int:
    from mcp_memory.server import build_service

    args = parse_args(argv)
    settings = load_settings(MemorySettings)
    # One call's texts are embedded run by run; the import's batches can be larger
    # than a tool call allows.
    most = max(args.batch_size, settings.memory_max_texts_per_call)
    update: dict[str, int] = {"memory_max_texts_per_call": most}
    if not settings.memory_tokens_per_run:
        # A server takes one model run at a time, so that a recall never waits long
        # behind a write; nothing waits here, so runs go one per thread at once.
        update["memory_tokens_per_run"] = IMPORT_TOKENS_PER_RUN
    settings = settings.model_copy(update=update)
    service = build_service(settings, parallel_runs=True)
    checkpoint_path = args.checkpoint or args.file.with_name(args.file.name + ".checkpoint")
    checkpoint = Checkpoint(checkpoint_path, args.file)
    if args.restart:
        checkpoint_path.unlink(missing_ok=True)
    try:
        await service.open_for_writes()
        _, bad = await import_file(service, args.file, checkpoint, batch_size=args.batch_size)
    except MemoryServiceError as exc:
        # A store of the other model, or one that cannot be reached: said, as export says it.
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, StoreUnavailable) and checkpoint_path.exists():
            # A database outage: what is stored stays, and the checkpoint knows where.
            print(
                f"the batches stored so far are recorded in {checkpoint_path}; run the same"
                " command again to resume after them",
                file=sys.stderr,
            )
        return 1
    finally:
        await service.stop()
    return 1 if bad else 0
