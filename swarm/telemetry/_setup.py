"""Where a run's spans and metrics go: chosen by the standard OpenTelemetry variables.

``OTEL_TRACES_EXPORTER`` (``otlp``, the default, ``console`` or ``none``; a comma list
for several) and ``OTEL_METRICS_EXPORTER`` (the same choices; unset, it follows the
traces' choice, so ``console`` gives a quick look at both without a collector). The OTLP
exporter (HTTP/protobuf) reads ``OTEL_EXPORTER_OTLP_*`` itself; ``OTEL_SERVICE_NAME``
and ``OTEL_RESOURCE_ATTRIBUTES`` name the service (``swarm`` by default).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

from ..errors import UsageError
from ..events import RunObserver
from ._metrics import RunMeter
from ._spans import RunTracer

EXPORTERS = ("otlp", "console", "none")


def exporter_names(variable: str, value: str | None, default: str = "otlp") -> list[str]:
    """The exporters a variable names, checked (``none`` alone means none)."""
    names = [n.strip() for n in (value or default).split(",") if n.strip()] or [default]
    for name in names:
        if name not in EXPORTERS:
            raise UsageError(
                f"{variable}={value!r}: expected otlp, console or none (or a comma list)"
            )
    return [n for n in names if n != "none"]


@dataclass
class Telemetry:
    """The observers of a traced run and the providers they feed (shut down on exit,
    which flushes what is still buffered)."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    observers: tuple[RunObserver, ...]


def _span_exporter(name: str, out: TextIO | None) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter(out=out) if out is not None else ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _metric_exporter(name: str, out: TextIO | None) -> MetricExporter:
    if name == "console":
        return ConsoleMetricExporter(out=out) if out is not None else ConsoleMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


@contextmanager
def telemetry_from_env(
    *, content: bool = False, environ: Mapping[str, str] | None = None, out: TextIO | None = None
) -> Iterator[Telemetry]:
    """Providers and observers as the OpenTelemetry variables in ``environ`` (default:
    the process's) say; ``content`` records message content (redacted); ``out`` is
    where the console exporters print (default: stdout)."""
    env = os.environ if environ is None else environ
    traces = exporter_names("OTEL_TRACES_EXPORTER", env.get("OTEL_TRACES_EXPORTER"))
    metric_default = ",".join(traces) or "none"
    metric_names = exporter_names(
        "OTEL_METRICS_EXPORTER", env.get("OTEL_METRICS_EXPORTER"), metric_default
    )
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or "swarm"})
    tracer_provider = TracerProvider(resource=resource)
    for name in traces:
        exporter = _span_exporter(name, out)
        # console: each span as it ends (a quick look); otlp: batched
        processor = (
            SimpleSpanProcessor(exporter) if name == "console" else BatchSpanProcessor(exporter)
        )
        tracer_provider.add_span_processor(processor)
    readers: list[MetricReader] = [
        PeriodicExportingMetricReader(_metric_exporter(name, out)) for name in metric_names
    ]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    observers = (RunTracer(tracer_provider, content=content), RunMeter(meter_provider))
    try:
        yield Telemetry(tracer_provider, meter_provider, observers)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
