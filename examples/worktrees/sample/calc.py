"""A tiny calculator with a bug: add subtracts."""


def add(a: float, b: float) -> float:
    return a - b


def multiply(a: float, b: float) -> float:
    return a * b
