"""Semantic memory MCP server: all-MiniLM-L6-v2 on ONNX Runtime, PostgreSQL or SQLite."""

import os

# Recall's matrix-vector product is memory-bound: a second BLAS thread buys nothing and,
# on a busy or CPU-limited node, makes p95 latency several times worse. Set before numpy
# loads; an operator's own value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
