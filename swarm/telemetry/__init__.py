"""OpenTelemetry for swarm runs (the ``otel`` extra: ``pip install 'swarm[otel]'``).

A run's events become spans in the GenAI semantic conventions (:class:`RunTracer`)
and metrics (:class:`RunMeter`); both are :class:`~swarm.events.RunObserver` s, given
to the executor as ``ExecutorOptions(observers=...)``. :func:`telemetry_from_env`
builds them with the exporters the standard ``OTEL_*`` variables choose. ``import
swarm`` never imports this package (it needs the extra).
"""

from ._metrics import RunMeter
from ._setup import EXPORTERS, Telemetry, exporter_names, telemetry_from_env
from ._spans import PROVIDER, RunTracer, usage_attributes

__all__ = [
    "EXPORTERS",
    "PROVIDER",
    "RunMeter",
    "RunTracer",
    "Telemetry",
    "exporter_names",
    "telemetry_from_env",
    "usage_attributes",
]
