"""Every goal of ``make bench``, in one table: what is compared, the ratio it must not pass,
and where the goal comes from. The report marks each figure met or not met from here;
nothing else in the benchmark writes a threshold."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    label: str
    limit: float  # the figure must be at most this
    source: str

    def met(self, value: float) -> bool:
        return value <= self.limit

    def verdict(self, value: float) -> str:
        return f"≤ {self.limit:g}: {'met' if self.met(value) else '**not met**'}"


GOALS = {
    # Guards since issue 33: whole billed milliseconds do not move below these (BENCHMARKS.md).
    "runtime_warm": Goal("through the runtime, warm ÷ a bare INCR handler", 1.25, "issue 33: a guard"),
    "runtime_duration": Goal("through the runtime, billed Duration ÷ the bare handler's", 1.45, "issue 33: a guard"),
    "runtime_first": Goal(
        "through the runtime, as deployed, `GET /`'s first invocation (INIT) ÷ the bare handler's", 1.3, "issue 33"
    ),
    "deployed_first": Goal(
        "first invocation as deployed (read-only) ÷ the same build compiled by Python on a writable disk",
        1.10,
        "issue 33",
    ),
    "inprocess_warm": Goal("in process, warm GET / ÷ one raw INCR", 1.5, "DESIGN: the breakdown"),
    "cold": Goal("fresh interpreter, first GET / ÷ import redis, connect, INCR", 1.5, "DESIGN"),
    "round_trips": Goal("Redis round trips per counted hit", 1.0, "DESIGN: one round trip"),
    "read_waits": Goal("waits on Redis per read route in steady state", 2.0, "issue 33"),
    "local_p50": Goal("local server p50 ÷ the seed's Flask app", 1.0, "DESIGN: no worse than the seed"),
    "log_bytes": Goal("bytes a function writes to its log per warm hit", 64.0, "issue 24"),
    "bill": Goal("USD per million hits, all in but API Gateway", 0.30, "issue 24"),
    "hostile_memory_mib": Goal("an import's peak memory growth on a hostile log, MiB", 64.0, "imports: bounded"),
}
