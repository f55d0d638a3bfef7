"""Statistics helpers with a bug: the mean of nothing divides by zero."""


def mean(values: list[float]) -> float:
    return sum(values) / len(values)
