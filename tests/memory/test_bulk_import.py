"""`python -m mcp_memory import FILE`: bad lines named by number, resume after an
interruption without duplicates, bad arguments and settings named."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mcp_memory.bulk_import import numbered_lines
from mcp_memory.embedder import Embedder
from mcp_memory.embedding_models import DEFAULT_MODEL, DYNAMIC_INT8, model_files
from mcp_memory.settings import MemorySettings
from mcp_runtime import SettingsLoadError, load_settings


def run_import(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_memory", "import", *args],
        env={**os.environ, "MCP_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def stored(data_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data_dir / "memory.sqlite3") as db:
        return db.execute("SELECT id, text FROM memory_items ORDER BY seq").fetchall()


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def note(i: int) -> str:
    return json.dumps({"text": f"Release note number {i}", "tags": ["notes"]})


def test_bad_lines_are_named_and_the_rest_is_imported(tmp_path: Path) -> None:
    data, source = tmp_path / "data", tmp_path / "notes.jsonl"
    write_lines(
        source,
        [
            note(1),
            note(2),
            "{not json",
            json.dumps({"text": "   "}),
            json.dumps(["a list"]),
            json.dumps({"text": "tagged badly", "tags": "x" * 70}),
            "",
            json.dumps({"text": "with an id", "id": "fixed-id", "metadata": {"k": 1}}),
        ],
    )
    result = run_import(data, str(source), "--batch-size", "2")
    assert result.returncode == 1, result.stderr
    assert f"{source}:3: not JSON" in result.stderr
    assert f"{source}:4: text: must not be empty" in result.stderr
    assert f"{source}:5: must be a JSON object, got list" in result.stderr
    assert f"{source}:6: tags:" in result.stderr
    assert "3 memories stored" in result.stderr
    # Batches commit concurrently, so the store's order need not be the file's.
    rows = dict((text, memory_id) for memory_id, text in stored(data))
    assert sorted(rows) == ["Release note number 1", "Release note number 2", "with an id"]
    assert rows["with an id"] == "fixed-id"


def test_a_line_with_nan_or_infinity_in_metadata_is_named_and_skipped(tmp_path: Path) -> None:
    """Python's json reads NaN and Infinity, which are not JSON: stored, such a memory could
    not be returned by a recall, and PostgreSQL refused the whole batch naming nothing."""
    data, source = tmp_path / "data", tmp_path / "scores.jsonl"
    write_lines(
        source,
        [
            note(1),
            '{"text": "a score", "metadata": {"score": NaN}}',
            note(3),
            '{"text": "a bound", "metadata": {"top": [1, -Infinity]}}',
        ],
    )
    result = run_import(data, str(source))
    assert result.returncode == 1, result.stderr
    message = "metadata: must not contain NaN or Infinity (not JSON)"
    assert f"{source}:2: {message}" in result.stderr
    assert f"{source}:4: {message}" in result.stderr
    assert sorted(text for _, text in stored(data)) == [
        "Release note number 1",
        "Release note number 3",
    ]


def test_a_line_that_is_not_utf8_is_named_and_the_rest_is_imported(tmp_path: Path) -> None:
    """One bad byte ended the import with a traceback, naming no line, the batch in hand lost,
    and a rerun stopped at the same place."""
    data, source = tmp_path / "data", tmp_path / "latin1.jsonl"
    source.write_bytes(
        f"{note(1)}\n".encode() + b'{"text": "caf\xe9"}\n' + f"{note(3)}\r\n".encode()
    )
    result = run_import(data, str(source))
    assert result.returncode == 1, result.stderr
    assert f"{source}:2: not UTF-8: invalid continuation byte 0xe9 at byte 14" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(text for _, text in stored(data)) == [
        "Release note number 1",
        "Release note number 3",
    ]


def test_lines_read_as_bytes_end_as_text_mode_ended_them() -> None:
    """A line's derived id hashes the line as text mode read it, CRLF as LF: the same ids as
    before, so a rerun of an import begun by an earlier version stores nothing twice."""
    lines = list(numbered_lines(io.BytesIO(b"a\r\n\r\n  \nb\nc"), after=0))
    assert lines == [(1, "a\n"), (4, "b\n"), (5, "c")]
    assert list(numbered_lines(io.BytesIO(b"a\nb\n"), after=1)) == [(2, "b\n")]


@pytest.mark.parametrize("failure", ["other_model", "unreachable_database"])
def test_a_store_the_import_cannot_open_is_named_without_a_traceback(
    tmp_path: Path, failure: str
) -> None:
    data, source = tmp_path / "data", tmp_path / "notes.jsonl"
    write_lines(source, [note(1)])
    if failure == "other_model":
        assert run_import(data, str(source)).returncode == 0
        result = run_import(data, str(source), "--restart", MEMORY_MODEL=DYNAMIC_INT8)
        message = f"error: the database holds embeddings of model {DEFAULT_MODEL!r}"
    else:
        # Nothing listens on port 1.
        result = run_import(data, str(source), DATABASE_URL="postgresql://u:p@127.0.0.1:1/m")
        message = "error: database unavailable, try again later (ConnectionRefusedError"
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_import_the_database_fails_says_how_to_resume(tmp_path: Path) -> None:
    data, source = tmp_path / "data", tmp_path / "notes.jsonl"
    write_lines(source, [note(1), note(2)])
    assert run_import(data, str(source)).returncode == 0
    with source.open("a") as file:
        file.write(note(3) + "\n")
    # Nothing listens on port 1: the database went away between the two runs.
    result = run_import(data, str(source), DATABASE_URL="postgresql://u:p@127.0.0.1:1/m")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"the batches stored so far are recorded in {source}.checkpoint; run the same command"
        " again to resume after them"
    )


def test_runs_at_once_give_each_text_its_own_vector(tmp_path: Path) -> None:
    """Two threads' runs at once, of texts of many lengths: each stored vector is the
    model's for that text alone."""
    data, source = tmp_path / "data", tmp_path / "mixed.jsonl"
    texts = [" ".join([f"note {i}:", *["several words of padding"] * (i % 13)]) for i in range(60)]
    write_lines(source, [json.dumps({"text": text}) for text in texts])
    result = run_import(data, str(source), MEMORY_INFERENCE_THREADS="2")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(data / "memory.sqlite3") as db:
        rows = dict(db.execute("SELECT text, embedding FROM memory_items").fetchall())
    alone = Embedder(model_files(DEFAULT_MODEL), "cpu", batch_size=1, threads=1)
    for text in texts:
        stored_vector = np.frombuffer(rows[text], dtype=np.float32)
        assert float(stored_vector @ alone.embed([text])[0]) > 0.999, text


def test_an_interrupted_import_resumes_without_duplicates(tmp_path: Path) -> None:
    data, source = tmp_path / "data", tmp_path / "notes.jsonl"
    write_lines(source, [note(i) for i in range(1, 6)])
    assert run_import(data, str(source), "--batch-size", "2").returncode == 0
    checkpoint = Path(f"{source}.checkpoint")
    assert json.loads(checkpoint.read_text())["line"] == 5

    # The file grew, and the checkpoint is behind what was stored (as after a crash
    # between a batch's commit and the checkpoint write): lines 4-5 are not stored twice.
    write_lines(source, [note(i) for i in range(1, 10)])
    state = json.loads(checkpoint.read_text())
    checkpoint.write_text(json.dumps({**state, "line": 3}))
    result = run_import(data, str(source), "--batch-size", "2")
    assert result.returncode == 0, result.stderr
    assert "resuming after line 3" in result.stderr
    # Two batches are in flight at once, so rows may commit out of line order.
    texts = sorted(text for _, text in stored(data))
    assert texts == [f"Release note number {i}" for i in range(1, 10)]

    # --restart reads from line 1 again; every line is already stored.
    assert run_import(data, str(source), "--restart").returncode == 0
    assert len(stored(data)) == 9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
        (["--batch-size", "2", "missing.jsonl"], "file: missing.jsonl does not exist"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, args: list[str], message: str) -> None:
    source = tmp_path / "ok.jsonl"
    write_lines(source, [note(1)])
    argv = args if "missing.jsonl" in args else [*args, str(source)]
    result = run_import(tmp_path / "data", *argv)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_checkpoint_of_another_file_is_refused(tmp_path: Path) -> None:
    source, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_lines(source, [note(1)])
    checkpoint = tmp_path / "shared.checkpoint"
    checkpoint.write_text(json.dumps({"source": str(other), "line": 1, "imported": 1}))
    result = run_import(tmp_path / "data", str(source), "--checkpoint", str(checkpoint))
    assert result.returncode == 2
    assert f"--checkpoint: {checkpoint} belongs to {other}" in result.stderr


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MEMORY_INDEX_DTYPE": "f64"}, "MEMORY_INDEX_DTYPE"),
        ({"MEMORY_INDEX_EXPANSION_SEARCH": "4"}, "MEMORY_INDEX_EXPANSION_SEARCH"),
        ({"MEMORY_INDEX_EXPANSION_SEARCH": "wide"}, "MEMORY_INDEX_EXPANSION_SEARCH: must be auto"),
        ({"MEMORY_TOMBSTONE_RETENTION_SECONDS": "5"}, "MEMORY_TOMBSTONE_RETENTION_SECONDS"),
        ({"MEMORY_SNAPSHOT_MIN_CHANGES": "0"}, "MEMORY_SNAPSHOT_MIN_CHANGES"),
    ],
)
def test_index_settings_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsLoadError, match=variable):
        load_settings(MemorySettings)


def test_an_index_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    source = tmp_path / "ok.jsonl"
    write_lines(source, [note(1)])
    result = run_import(tmp_path / "data", str(source), MEMORY_INDEX_DIR=str(not_a_dir))
    assert result.returncode == 2
    assert f"MEMORY_INDEX_DIR: {not_a_dir} exists and is not a directory" in result.stderr


@pytest.mark.parametrize(("value", "beam"), [("auto", None), ("200", 200)])
def test_the_search_beam_is_auto_or_a_number(
    monkeypatch: pytest.MonkeyPatch, value: str, beam: int | None
) -> None:
    monkeypatch.setenv("MEMORY_INDEX_EXPANSION_SEARCH", value)
    assert load_settings(MemorySettings).memory_index_expansion_search == beam
