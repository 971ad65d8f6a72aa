"""Derive the dynamic-int8 embedding model from the published one, at build time.

    python -m mcp_memory.model_derivation [DIR]

writes `all-MiniLM-L6-v2-dynamic-int8.onnx` into DIR (default: where the server looks,
`embedding_models.DERIVED_MODELS_DIR`) unless a file with the pinned sha256 is there already.
ONNX Runtime's own tools do the work, in three steps: its basic graph optimizations fold the
published file's int8 weights back into float32 (what a session does when it loads it), its
BERT optimizer fuses each layer's skip connection + LayerNorm and bias + GELU into single
operators, and `quantize_dynamic` stores the weight matrices as int8 with a scale per output
channel (one scale per matrix lost twice the neighbours) so that their products run on int8.
The feed-forward output projections stay float32: their inputs, GELU's outputs, spread too
widely for one int8 scale a product; quantizing them too embeds 1.2x faster still but loses
a third more of the float32 model's neighbours (0.91 shared, measured as `embedding_models`
says).

The steps are deterministic: the same source and the same versions of onnxruntime and onnx
give the same bytes, which must match the pinned sha256; any other versions are refused
before anything is written, as they may round differently. Needs the extra
`memory-model-build` (onnx, sympy); a server never imports this module.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from mcp_memory.embedding_models import (
    DEFAULT_MODEL,
    DERIVED_MODELS_DIR,
    DYNAMIC_INT8,
    ModelFiles,
    model_files,
)

if TYPE_CHECKING:
    import onnx

# The versions the pinned sha256 was derived with.
VERIFIED_VERSIONS = {"onnxruntime": "1.31.1", "onnx": "1.23.2"}
# all-MiniLM-L6-v2's shape, which the BERT optimizer needs to find its attention blocks.
ATTENTION_HEADS = 12
HIDDEN_SIZE = 384
INTERMEDIATE_SIZE = 1536
LAYERS = 6


class DerivationError(RuntimeError):
    """The model cannot be derived here; the message says why and what to do."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_versions() -> None:
    """Raise DerivationError unless the verified versions of the tools are installed."""
    problems = []
    for distribution, verified in VERIFIED_VERSIONS.items():
        try:
            installed = version(distribution)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != verified:
            problems.append(f"{distribution} {installed} (needs {verified})")
    if problems:
        raise DerivationError(
            f"cannot derive {DYNAMIC_INT8}: {', '.join(problems)}; install the extra "
            "memory-model-build with the locked versions (uv sync --all-extras)"
        )


def derive(source: Path, target: Path) -> None:
    """Write the dynamic-int8 model derived from `source` to `target` (any file there is replaced
    only once the new one is complete)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    with tempfile.TemporaryDirectory(prefix="model-derivation-", dir=target.parent) as tmp:
        folded, fused, quantized = (Path(tmp) / f"{step}.onnx" for step in ("folded", "fused", "q"))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        # opt_level 0: the fusions written in Python only; 1 would run ORT's hardware-specific
        # ones too and import torch.
        bert = optimizer.optimize_model(
            str(folded),
            model_type="bert",
            num_heads=ATTENTION_HEADS,
            hidden_size=HIDDEN_SIZE,
            opt_level=0,
        )
        bert.save_model_to_file(str(fused))
        quantize_dynamic(
            fused,
            quantized,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=feed_forward_outputs(onnx.load(fused).graph),
        )
        os.replace(quantized, target)


def feed_forward_outputs(graph: onnx.GraphProto) -> list[str]:
    """The MatMul nodes that project a layer's feed-forward activations back to the hidden
    size: the only ones with a weight of INTERMEDIATE_SIZE x HIDDEN_SIZE."""
    shapes = {initializer.name: tuple(initializer.dims) for initializer in graph.initializer}
    found = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and any(shapes.get(name) == (INTERMEDIATE_SIZE, HIDDEN_SIZE) for name in node.input)
    ]
    if len(found) != LAYERS:
        raise DerivationError(f"expected {LAYERS} feed-forward output MatMuls, found {len(found)}")
    return found


def ensure(directory: Path) -> Path:
    """The derived model in `directory`, derived unless it is there with the pinned sha256.

    Raises DerivationError when it cannot be derived or the result is not the pinned file."""
    wanted: ModelFiles = model_files(DYNAMIC_INT8)
    target = directory / wanted.model.name
    if target.is_file() and sha256_of(target) == wanted.model_sha256:
        return target
    check_versions()
    directory.mkdir(parents=True, exist_ok=True)
    source = model_files(DEFAULT_MODEL)
    if sha256_of(source.model) != source.model_sha256:
        raise DerivationError(f"{source.model}: not the published file (sha256 differs)")
    derive(source.model, target)
    if (digest := sha256_of(target)) != wanted.model_sha256:
        target.unlink()
        raise DerivationError(
            f"derived {DYNAMIC_INT8} has sha256 {digest}, expected {wanted.model_sha256}: "
            "the derivation or its tools changed; check the model's quality in bench/memory.py "
            "before pinning the new digest in mcp_memory/embedding_models.py"
        )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_memory.model_derivation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("directory", nargs="?", type=Path, default=DERIVED_MODELS_DIR)
    args = parser.parse_args(argv)
    # quantize_dynamic advises shape inference first, which it does not need for MatMuls.
    logging.disable(logging.WARNING)
    try:
        print(ensure(args.directory))
    except (DerivationError, ImportError) as exc:
        print(f"model_derivation: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
