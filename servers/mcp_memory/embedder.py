"""Sentence embeddings from all-MiniLM-L6-v2 (`embedding_models`) on ONNX Runtime, CUDA or CPU."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from typing import Literal

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from mcp_memory.cpus import available_cpus
from mcp_memory.embedding_models import ModelFiles

DIMENSIONS = 384
# sentence-transformers runs this model with max_seq_length 256; longer texts are cut there.
MAX_TOKENS = 256
# Tokenizing a whole 20,000-character text costs about 13 ms to keep 256 tokens of it, so
# only a head this long is tokenized first: English runs 4 to 5 characters a token.
HEAD_CHARS = 8 * MAX_TOKENS
# What starting one more model run costs, in padded tokens' worth of CPU (measured on this
# model: 4 to 8 cut 10 queries' runs the cheapest, 0 and 16 cost 5-15 % more).
RUN_COST_TOKENS = 8

Device = Literal["cuda", "cpu"]
# int64 ids of one tokenized text, special tokens included.
TokenIds = np.ndarray
DevicePreference = Literal["auto", "cuda", "cpu"]

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


class ModelLoadError(RuntimeError):
    """The model or tokenizer cannot be used; the message names the file or setting."""


def verify_files(model_files: ModelFiles) -> None:
    """Raise ModelLoadError unless both files exist with their pinned sha256."""
    for path, expected in (
        (model_files.model, model_files.model_sha256),
        (model_files.tokenizer, model_files.tokenizer_sha256),
    ):
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelLoadError(f"cannot read {path}: {exc}") from exc
        if digest != expected:
            raise ModelLoadError(f"{path} has sha256 {digest}, expected {expected}")


def providers_for(preference: DevicePreference) -> list[str]:
    """Execution providers to ask for, CUDA first when wanted and compiled in.

    Raises ModelLoadError when CUDA is required but this onnxruntime build lacks it.
    """
    available = ort.get_available_providers()
    has_cuda = CUDA_PROVIDER in available
    if preference == "cuda" and not has_cuda:
        raise ModelLoadError(
            "MEMORY_DEVICE=cuda but this onnxruntime has no CUDAExecutionProvider "
            f"(available: {', '.join(available)}); install onnxruntime-gpu or use auto"
        )
    if preference != "cpu" and has_cuda:
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


class Embedder:
    """Turns texts into L2-normalised 384-d vectors: mean pooling over the attention mask.

    Blocking. `tokenize` and `embed_tokens` may run in different threads (the tokenizer
    and the ONNX session are both thread-safe); `embed` does both, sorting texts by
    length before batching so a batch pads to similar lengths.
    """

    def __init__(
        self,
        model_files: ModelFiles,
        preference: DevicePreference,
        *,
        batch_size: int,
        threads: int,
    ) -> None:
        verify_files(model_files)
        self.model_id = model_files.id
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(model_files.tokenizer))
        # The upstream tokenizer.json pads every text to 128 tokens; pad per batch instead.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.threads = threads or available_cpus()
        providers = providers_for(preference)
        if CUDA_PROVIDER in providers:
            # CUDA and cuDNN installed as nvidia-* wheels are found only when preloaded.
            ort.preload_dlls()
        self._session = ort.InferenceSession(
            str(model_files.model),
            sess_options=session_options(self.threads),
            providers=providers,
        )
        active = self._session.get_providers()
        # onnxruntime-gpu falls back to CPU by itself when no GPU is visible.
        self.provider = active[0]
        self.device: Device = "cuda" if self.provider == CUDA_PROVIDER else "cpu"
        if preference == "cuda" and self.device != "cuda":
            raise ModelLoadError(
                "MEMORY_DEVICE=cuda but the CUDA provider did not start (no GPU visible?)"
            )
        self._wants_token_types = any(
            i.name == "token_type_ids" for i in self._session.get_inputs()
        )
        # A run of a few short texts spends a second thread's CPU mostly handing work over,
        # which a busy server needs for its other calls: such runs may go to a session of
        # one thread (`embed_tokens(..., spread=False)`), for about 90 MiB of weights more.
        self._serial = self._session
        if self.device == "cpu" and self.threads > 1:
            self._serial = ort.InferenceSession(
                str(model_files.model), sess_options=session_options(1), providers=providers
            )

    def embed(self, texts: list[str]) -> np.ndarray:
        """One float32 row per text, in input order."""
        tokens = self.tokenize(texts)
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        if self.batch_size == 1:
            # Straight from one run to the next, normalising once after the last: every
            # microsecond between two runs lets the session's threads sleep longer (see
            # `_summed_states`).
            for i in order:
                out[i] = self._summed_states(self._session, tokens[i])
            return _normalised(out)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self.embed_tokens([tokens[i] for i in chunk])
        return out

    def tokenize(self, texts: list[str]) -> list[TokenIds]:
        """The token ids the model sees of each text: [CLS], at most 254 more, [SEP]."""
        heads = [_head(text) for text in texts]
        # `_fast`: without the character offsets of each token, which nothing here reads.
        encodings = self._tokenizer.encode_batch_fast(heads)
        # A head that did not fill the model's window (very long words, say) may have
        # left out tokens the model would have seen: those texts are tokenized whole.
        short = [
            i
            for i, encoding in enumerate(encodings)
            if heads[i] is not texts[i] and len(encoding.ids) < MAX_TOKENS
        ]
        if short:
            for i, encoding in zip(
                short, self._tokenizer.encode_batch_fast([texts[i] for i in short]), strict=True
            ):
                encodings[i] = encoding
        return [np.asarray(encoding.ids, dtype=np.int64) for encoding in encodings]

    def embed_tokens(self, batch: Sequence[TokenIds], *, spread: bool = True) -> np.ndarray:
        """Embed tokenized texts: a row per text, in order.

        `spread` runs them on every thread (the fastest runs); otherwise on one (the least
        CPU). On the CPU, texts of similar lengths share a run (`padding_groups`).
        """
        session = self._session if spread else self._serial
        # A GPU pads for next to nothing and pays for every run it launches.
        if len(batch) == 1 or self.device != "cpu":
            return _normalised(self._summed_run(session, batch))
        out = np.empty((len(batch), DIMENSIONS), dtype=np.float32)
        for group in padding_groups([len(ids) for ids in batch]):
            out[group] = self._summed_run(session, [batch[i] for i in group])
        return _normalised(out)

    def _summed_run(self, session: ort.InferenceSession, batch: Sequence[TokenIds]) -> np.ndarray:
        """One model run, every text padded to the longest: each text's `_summed_states`."""
        if len(batch) == 1:
            return self._summed_states(session, batch[0])[None]
        width = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, text_ids in enumerate(batch):
            ids[row, : len(text_ids)] = text_ids
            mask[row, : len(text_ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._wants_token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        # Over each text's own tokens: a product of its mask row with its states, a tenth of
        # the time of masking every state first and summing.
        return np.matmul(mask.astype(np.float32)[:, None, :], hidden)[:, 0]

    def _summed_states(self, session: ort.InferenceSession, text_ids: TokenIds) -> np.ndarray:
        """One text's vector before the norm: the sum of its tokens' states (the length
        scales the mean, and scaling changes nothing once normalised).

        One run, which pads nothing, in about a microsecond of Python instead of twenty: a
        run's threads stop spinning when it ends, and waking them for the next run costs more
        the longer they were left (a 20 microsecond gap between runs made a 10-word text's
        next run 4 % slower, one of 5 microseconds did not)."""
        tokens = len(text_ids)
        feeds = {"input_ids": text_ids[None], "attention_mask": _ones(tokens)}
        if self._wants_token_types:
            feeds["token_type_ids"] = _zeros(tokens)
        return session.run(None, feeds)[0][0].sum(axis=0)


@cache
def _ones(tokens: int) -> np.ndarray:
    """The attention mask of one text of `tokens` tokens, made once per length."""
    return _read_only(np.ones((1, tokens), dtype=np.int64))


@cache
def _zeros(tokens: int) -> np.ndarray:
    """The token types of one text of `tokens` tokens (all the first segment)."""
    return _read_only(np.zeros((1, tokens), dtype=np.int64))


def _normalised(rows: np.ndarray) -> np.ndarray:
    """`rows` scaled to unit length, in place."""
    rows /= np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)
    return rows


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def padding_groups(lengths: Sequence[int]) -> list[list[int]]:
    """The texts of `lengths` (their indices) in runs that cost the fewest padded tokens.

    A run pads every text to its longest, and on the CPU a padded token costs as much as a
    real one, while sharing a run saves little: 10 recall queries of 30 tokens on average
    (93 at p95) took 243 ms on one thread in one run, 110 ms cut into runs of similar
    lengths. So texts are sorted by length and cut where the padding a longer text would
    add to a run outweighs the cost of starting another run (`RUN_COST_TOKENS`).
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    widths = [lengths[i] for i in order]
    # cost[end]: the least tokens for the `end` shortest texts; start[end]: where its last
    # run starts. Runs hold consecutive texts of the sorted order, as no other cut pads less.
    cost = [0] * (len(order) + 1)
    start = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        cost[end], start[end] = min(
            (cost[first] + (end - first) * widths[end - 1] + RUN_COST_TOKENS, first)
            for first in range(end)
        )
    groups: list[list[int]] = []
    end = len(order)
    while end:
        groups.append(order[start[end] : end])
        end = start[end]
    return groups[::-1]


def session_options(threads: int, *, spinning: bool = True) -> ort.SessionOptions:
    """The options of the model's sessions, which `bench/memory.py`'s peer runs with too
    (and without `spinning`, as the model ran before, to show what it is worth)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # A run's threads wait for each other's work by spinning, not sleeping (a 10-word query
    # embeds in 3.2 ms instead of 4.2 on two threads), and stop when the run ends, so an
    # idle pod burns none of its CPU quota.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    # The arena keeps the peak of any batch (about 900 MiB after 32 texts of 256
    # tokens); freeing per run costs no measurable speed here.
    options.enable_cpu_mem_arena = False
    return options


def _head(text: str) -> str:
    """The text up to the last space within HEAD_CHARS, or all of it.

    Cut at a space, the head's tokens are exactly the first tokens of the whole text:
    the tokenizer splits words at spaces and never looks across them.
    """
    if len(text) <= HEAD_CHARS:
        return text
    cut = text.rfind(" ", 0, HEAD_CHARS)
    return text[:cut] if cut > 0 else text
