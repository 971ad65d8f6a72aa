"""`python -m mcp_memory export FILE.jsonl`: every stored memory as a line the import reads.

Each line is `{"id", "text", "tags", "metadata", "created_at"}`, in the order the memories
were stored, read page by page through the store's change log (`changes_since`, then `fetch`
for the texts), so a store of any size streams out in bounded memory and forgotten memories
are left out. `python -m mcp_memory import` of the file into another store keeps the ids,
tags, metadata and times and embeds the texts again: the way to move a store to the other
embedding model (`MEMORY_MODEL`), or between SQLite and PostgreSQL. The lines go to
`FILE.partial`, renamed to FILE once complete, so an interrupted export leaves no FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from mcp_runtime import load_settings

from mcp_memory.errors import MemoryServiceError
from mcp_memory.settings import MemorySettings
from mcp_memory.store import ChangeMark, MemoryStore, make_store

PAGE = 1000


async def export_store(store: MemoryStore, out: TextIO, *, page: int = PAGE) -> int:
    """Write every memory `store` holds to `out`, a JSON line each; returns how many."""
    exported = 0
    mark = ChangeMark()
    while True:
        changes = await store.changes_since(mark, limit=page)
        if len(changes.keys):
            candidates = await store.fetch([int(key) for key in changes.keys])
            for index in sorted(range(len(candidates)), key=candidates.keys.__getitem__):
                memory = candidates.recalled(index, 0.0)
                line = {
                    "id": memory.id,
                    "text": memory.text,
                    "tags": list(memory.tags),
                    "metadata": memory.metadata,
                    "created_at": memory.created_at.isoformat(),
                }
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                exported += 1
        if changes.complete:
            return exported
        # Past the first page, only rows: the tombstones were read with it.
        mark = changes.mark


async def run_export(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_memory export", description=__doc__.splitlines()[0]
    )
    parser.add_argument("file", type=Path, help="JSONL file to write (replaced if it exists)")
    args = parser.parse_args(argv)
    if args.file.is_dir():
        parser.error(f"file: {args.file} is a directory")
    settings = load_settings(MemorySettings)
    database_url = str(settings.database_url) if settings.database_url else None
    store = make_store(database_url, settings.mcp_data_dir)
    started = time.monotonic()
    partial = args.file.with_name(args.file.name + ".partial")
    try:
        await store.open(settings.memory_model)
        with partial.open("w", encoding="utf-8") as out:
            exported = await export_store(store, out)
    except BaseException as exc:  # an interrupt too: no half-written file is left behind
        partial.unlink(missing_ok=True)
        if not isinstance(exc, MemoryServiceError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    os.replace(partial, args.file)
    seconds = time.monotonic() - started
    print(f"{args.file}: {exported} memories exported in {seconds:.1f} s", file=sys.stderr)
    return 0
