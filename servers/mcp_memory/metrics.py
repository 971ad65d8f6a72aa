"""Prometheus metrics of the memory server: device, model load, embedding runs, size."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class MemoryMetrics:
    """Kept in a registry of their own, which the app's /metrics registry then includes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._device = Gauge(
            "mcp_memory_device_info",
            "Device the embedding model runs on; 1 for the active one.",
            ("device", "execution_provider", "model"),
            registry=self.registry,
        )
        self._load_seconds = Gauge(
            "mcp_memory_model_load_seconds",
            "Seconds it took to load the embedding model.",
            registry=self.registry,
        )
        self._texts = Counter(
            "mcp_memory_embedded_texts",
            "Texts turned into vectors.",
            registry=self.registry,
        )
        self._run_size = Histogram(
            "mcp_memory_embedding_batch_size",
            "Texts per model run (concurrent calls are batched together).",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self._run_seconds = Histogram(
            "mcp_memory_embedding_run_seconds",
            "Seconds per model run.",
            registry=self.registry,
        )
        self.waiting_texts = Gauge(
            "mcp_memory_embedding_waiting_texts",
            "Texts of running calls not yet in a model run.",
            registry=self.registry,
        )
        self.memories = Gauge(
            "mcp_memory_memories",
            "Memories in this replica's index.",
            registry=self.registry,
        )

    def model_loaded(self, model: str, device: str, provider: str, seconds: float) -> None:
        self._device.labels(device=device, execution_provider=provider, model=model).set(1)
        self._load_seconds.set(seconds)

    def embedded(self, texts: int, seconds: float) -> None:
        self._texts.inc(texts)
        self._run_size.observe(texts)
        self._run_seconds.observe(seconds)
