"""What a benchmark run produces: workloads, their figures and the ratio checks of the gate.

A figure is for reading (absolute times, throughput, memory: noise on a shared
machine); a check compares two things measured in the same run (window
against batch on the same seeds, forked against sequential on the same
server) and is the only thing ``swarm bench --check`` fails on.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class WorkloadStatus(enum.StrEnum):
    MEASURED = "measured"
    SKIPPED = "skipped"  # cannot run here (e.g. no backend); the reason says why
    FAILED = "failed"  # raised; the reason is the error


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number, with its unit and, when the issue sets one, its target."""

    label: str
    value: float
    unit: str = ""
    target: str | None = None  # e.g. ">= 3000"; informational, never gated
    met: bool | None = None

    def shown(self) -> str:
        """The value as the table prints it."""
        if self.unit in ("x", "s", "ms"):
            text = f"{self.value:.2f}"
        elif self.unit == "%":
            text = f"{self.value:.1f}"
        elif abs(self.value) >= 100 or float(self.value).is_integer():
            text = f"{self.value:,.0f}"
        else:
            text = f"{self.value:.2f}"
        return f"{text} {self.unit}".strip() if self.unit != "x" else f"{text}x"


@dataclass(frozen=True, slots=True)
class Check:
    """A relation between figures of the same run that must hold for the gate to pass."""

    name: str
    passed: bool
    detail: str


@dataclass(slots=True)
class WorkloadResult:
    """One workload's outcome: figures for the table, checks for the gate, raw data for JSON."""

    name: str
    title: str
    status: WorkloadStatus
    method: str = ""  # how it was measured, in one or two sentences
    reason: str | None = None  # why it was skipped or failed
    figures: list[Figure] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # how long the workload took to run, in wall time

    @classmethod
    def skipped(cls, name: str, title: str, reason: str, method: str = "") -> WorkloadResult:
        return cls(name, title, WorkloadStatus.SKIPPED, method=method, reason=reason)

    def figure(self, label: str) -> Figure | None:
        return next((f for f in self.figures if f.label == label), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkloadResult:
        return cls(
            name=data["name"],
            title=data["title"],
            status=WorkloadStatus(data["status"]),
            method=data.get("method", ""),
            reason=data.get("reason"),
            figures=[Figure(**f) for f in data.get("figures", [])],
            checks=[Check(**c) for c in data.get("checks", [])],
            data=dict(data.get("data", {})),
            seconds=float(data.get("seconds", 0.0)),
        )


@dataclass(slots=True)
class BenchReport:
    """A whole ``swarm bench`` run: where and how it ran, and every workload."""

    started_at: str
    command: list[str]
    quick: bool
    seconds: float
    environment: dict[str, Any]
    workloads: list[WorkloadResult]

    @property
    def failed_checks(self) -> list[tuple[str, Check]]:
        return [(w.name, c) for w in self.workloads for c in w.checks if not c.passed]

    @property
    def failed_workloads(self) -> list[WorkloadResult]:
        return [w for w in self.workloads if w.status is WorkloadStatus.FAILED]

    def workload(self, name: str) -> WorkloadResult | None:
        return next((w for w in self.workloads if w.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "started_at": self.started_at,
            "command": self.command,
            "quick": self.quick,
            "seconds": self.seconds,
            "environment": self.environment,
            "workloads": [w.to_dict() for w in self.workloads],
            "gate": {
                "passed": not self.failed_checks and not self.failed_workloads,
                "failed_checks": [
                    {"workload": name, **asdict(check)} for name, check in self.failed_checks
                ],
                "failed_workloads": [w.name for w in self.failed_workloads],
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchReport:
        return cls(
            started_at=data["started_at"],
            command=list(data["command"]),
            quick=bool(data["quick"]),
            seconds=float(data["seconds"]),
            environment=dict(data["environment"]),
            workloads=[WorkloadResult.from_dict(w) for w in data["workloads"]],
        )
