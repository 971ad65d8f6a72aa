"""Semantic memory MCP server: all-MiniLM-L6-v2 on ONNX Runtime, PostgreSQL or SQLite."""

import os

# Recall's numpy work (re-ranking, exact search within a small tag) is tiny: a second
# BLAS thread buys nothing and, on a busy or CPU-limited node, makes p95 latency several
# times worse. Set before numpy loads; an operator's own value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# onnxruntime 1.31 segfaults on import once usearch 2.26's extension is loaded (the
# other order works): load it first, whatever module of ours is imported first.
import onnxruntime  # noqa: F401
