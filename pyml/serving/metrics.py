"""Prometheus metrics of one server, per model, with prometheus_client.

Names follow Prometheus' conventions (a `pyml_` prefix, seconds, counters ending in
`_total`); where Triton has the same measure, the help text names it. Each server
has its own registry, so several servers in one process (tests, notebooks) never
share or clash on counts. `--metrics_port` serves it at `/metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

# Latency buckets from 1 ms to 10 s; batch sizes in powers of two.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "pyml_requests",
            "Requests answered, by door (grpc, kserve, http, hps) and status code "
            "(Triton: nv_inference_request_success / _failure)",
            ["model", "door", "code"],
            registry=r,
        )
        self.request_duration = Histogram(
            "pyml_request_duration_seconds",
            "Time from a request's arrival to its answer (Triton: nv_inference_request_duration_us)",
            ["model", "door"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_duration = Histogram(
            "pyml_queue_duration_seconds",
            "Time an image waited in the dynamic batcher's queue (Triton: nv_inference_queue_duration_us)",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_duration = Histogram(
            "pyml_inference_duration_seconds",
            "Time to preprocess, infer and postprocess one batch (Triton: nv_inference_compute_infer_duration_us)",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "pyml_batch_size",
            "Images per batch run by the model (Triton: nv_inference_exec_count)",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "pyml_queue_depth",
            "Images waiting for a batch to run: queued, or in the batch being gathered "
            "(Triton: nv_inference_pending_request_count)",
            ["model"],
            registry=r,
        )
        self.last_inference = Gauge(
            "pyml_last_inference_timestamp_seconds",
            "When the model last ran a batch, Unix time (Triton: ModelStatistics.last_inference)",
            ["model"],
            registry=r,
        )
        self.loads = Counter(
            "pyml_model_loads",
            "Model loads at run time (start, load calls, repository polls), by outcome (ok, failed)",
            ["model", "outcome"],
            registry=r,
        )
        self.unloads = Counter("pyml_model_unloads", "Model unloads at run time", ["model"], registry=r)
        self.load_duration = Histogram(
            "pyml_model_load_duration_seconds",
            "Time to load a model's new versions: build, convert where needed, warm up",
            ["model"],
            buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
            registry=r,
        )
        self._http = None

    def loaded(self, model: str, outcome: str, seconds: float) -> None:
        self.loads.labels(model, outcome).inc()
        self.load_duration.labels(model).observe(seconds)

    def unloaded(self, model: str) -> None:
        self.unloads.labels(model).inc()

    def request(self, model: str, door: str, code: str, started: float) -> None:
        """Counts one answered request that arrived at time.perf_counter() == started."""
        self.requests.labels(model, door, code).inc()
        self.request_duration.labels(model, door).observe(time.perf_counter() - started)

    def batch(self, model: str, size: int, seconds: float, queue_waits: list[float]) -> None:
        self.batch_size.labels(model).observe(size)
        self.last_inference.labels(model).set(time.time())
        self.inference_duration.labels(model).observe(seconds)
        histogram = self.queue_duration.labels(model)
        for wait in queue_waits:
            histogram.observe(wait)

    def watch_queue(self, model: str, depth: Callable[[], int]) -> None:
        self.queue_depth.labels(model).set_function(depth)

    def serve(self, host: str, port: int) -> int:
        """Serves /metrics on its own thread; returns the bound port."""
        self._http, _ = start_http_server(port, addr=host, registry=self.registry)
        return self._http.server_port

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def model_statistics(self, model: str) -> dict:
        """One model's counts and cumulative durations (nanoseconds), as Triton's
        ModelStatistics reports them, read from the same samples /metrics shows."""
        totals: dict[str, float] = {}
        ok = 0.0
        for family in self.registry.collect():  # one pass over every sample
            for sample in family.samples:
                if sample.labels.get("model") != model:
                    continue
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
                if sample.name == "pyml_requests_total" and sample.labels.get("code") == "OK":
                    ok += sample.value

        def total(name: str) -> float:
            return totals.get(name, 0.0)

        def duration(histogram: str) -> tuple[int, int]:
            return int(total(f"{histogram}_count")), round(total(f"{histogram}_sum") * 1e9)

        return {
            "last_inference_ms": int(total("pyml_last_inference_timestamp_seconds") * 1000),
            "inference_count": int(total("pyml_batch_size_sum")),  # images
            "execution_count": int(total("pyml_batch_size_count")),  # batches
            "success": (int(ok), duration("pyml_request_duration_seconds")[1]),
            "fail": (int(total("pyml_requests_total") - ok), 0),
            "queue": duration("pyml_queue_duration_seconds"),
            "compute_infer": duration("pyml_inference_duration_seconds"),
        }

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when absent): for tests and the statistics endpoints."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found


__all__ = ["ServerMetrics"]
