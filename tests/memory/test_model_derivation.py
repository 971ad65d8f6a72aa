"""Deriving the dynamic-int8 embedding model: the pinned bytes from the published model, made
once, remade when damaged, refused with other tools; and what it computes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mcp_memory import model_derivation
from mcp_memory.embedder import Embedder
from mcp_memory.embedding_models import (
    DEFAULT_MODEL,
    DERIVED_MODELS_DIR,
    DYNAMIC_INT8,
    model_files,
)
from mcp_memory.model_derivation import DerivationError, ensure, sha256_of

PINNED = model_files(DYNAMIC_INT8).model_sha256
TEXTS = [
    "The production database backup runs every night at 2 AM.",
    "Rotate the TLS certificates before they expire in October.",
    "a failing liveness check makes the cluster restart the container",
    "Bob is allergic to peanuts, so avoid them when ordering lunch. " * 20,
]


def test_derives_the_pinned_model_from_the_published_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_memory.model_derivation", str(tmp_path / "models")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    derived = Path(result.stdout.strip())
    assert derived == tmp_path / "models" / f"{DYNAMIC_INT8}.onnx"
    assert sha256_of(derived) == PINNED
    # Nothing is left beside it: the steps work in a directory of their own.
    assert sorted(p.name for p in derived.parent.iterdir()) == [derived.name]


def test_make_venv_derived_it_where_the_server_looks() -> None:
    assert sha256_of(DERIVED_MODELS_DIR / f"{DYNAMIC_INT8}.onnx") == PINNED


def test_a_pinned_file_is_kept_and_a_damaged_one_derived_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / f"{DYNAMIC_INT8}.onnx"
    target.write_bytes((DERIVED_MODELS_DIR / target.name).read_bytes())
    derived: list[Path] = []
    real_derive = model_derivation.derive

    def counting_derive(source: Path, out: Path) -> None:
        derived.append(out)
        real_derive(source, out)

    monkeypatch.setattr(model_derivation, "derive", counting_derive)
    assert ensure(tmp_path) == target
    assert derived == []
    target.write_bytes(target.read_bytes()[:1000])
    assert ensure(tmp_path) == target
    assert derived == [target]
    assert sha256_of(target) == PINNED


def test_other_tool_versions_are_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(model_derivation.VERIFIED_VERSIONS, "onnx", "0.0.1")
    assert model_derivation.main([str(tmp_path / "models")]) == 1
    assert not (tmp_path / "models").exists()
    assert capsys.readouterr().err == (
        f"model_derivation: cannot derive {DYNAMIC_INT8}: onnx 1.23.2 (needs 0.0.1); install "
        "the extra memory-model-build with the locked versions (uv sync --all-extras)\n"
    )


def test_a_result_that_is_not_the_pinned_one_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_derivation, "derive", lambda _, out: out.write_bytes(b"onnx"))
    with pytest.raises(DerivationError, match=f"derived {DYNAMIC_INT8} has sha256 "):
        ensure(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_its_vectors_stay_close_to_the_published_models() -> None:
    published = Embedder(model_files(DEFAULT_MODEL), "cpu", batch_size=8, threads=1)
    derived = Embedder(model_files(DYNAMIC_INT8), "cpu", batch_size=8, threads=1)
    a, b = published.embed(TEXTS), derived.embed(TEXTS)
    cosines = np.sum(a * b, axis=1)
    assert cosines.min() > 0.98, cosines
    # Still unit vectors, and still apart where the texts are.
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, rtol=1e-5)
    assert (b @ b.T)[0, 1] < 0.5
