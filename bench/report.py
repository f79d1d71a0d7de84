"""The report of ``make bench``: the run's figures as tables, each goal marked from
``bench.goals``, and a plot of the ratios. Numbers only: what they mean is written by hand
in BENCHMARKS.md, around the block this fills (between the two ``make bench`` markers)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import costs, runtime
from bench.goals import GOALS

BEGIN, END = "<!-- make bench: begin -->", "<!-- make bench: end -->"


def _spread(values: dict[str, float]) -> str:
    return f"{values['median']:.2f}× ({values['min']:.2f}–{values['max']:.2f})"


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    return out.split("v=")[1].split()[0] if "v=" in out else "?"


def tables(r: dict[str, Any]) -> list[str]:
    rie, w, c, ls, rt = r["runtime"], r["warm"], r["cold"], r["local"], r["round_trips"]
    imp, hk, peaks, sizes = r["imports"], r["hot_key"], r["peaks"], r["sizes"]
    chosen = {name: runtime.choose_memory_mb(peak) for name, peak in peaks.items()}
    hits_duration = rie["ours"]["duration"]["median"]
    local_ratio = ls["local_api"]["p50_ms"] / ls["seed_flask"]["p50_ms"]
    history_before = (w["handler_us"] - w["step_us"] + w["incr_us"]) / w["incr_us"]
    lines = [
        f"Measured on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"redis-server {_redis_version()} on loopback; medians, with min–max over runs.",
        "",
        "### Through the Lambda runtime",
        "",
        "| measure | ours | bare `INCR` handler | ratio (min–max) | goal |",
        "|---|---|---|---|---|",
    ]
    rows = (
        ("warm", "warm invocation, as the caller sees it", ".2f"),
        ("duration", "billed `Duration` (the emulator's REPORT line)", ".2f"),
        ("first", "first invocation of a fresh runtime as deployed, INIT included", ".0f"),
    )
    for subject, ratio, route in (
        ("ours", "ratio", ""),
        ("page", "page_ratio", "a page hit (`GET /pages/{page}`), "),
        ("path", "path_ratio", "a path page's hit (`GET /count?path=`), "),
        ("referred", "referred_ratio", "a path page's hit with a referrer (`&r=`, as count.js sends it), "),
    ):
        for key, label, fmt in rows:
            # The goals and guards are GET /'s (issue 33); the page hits' ratios are reported.
            verdict = GOALS[f"runtime_{key}"].verdict(rie[ratio][key]["median"]) if subject == "ours" else ""
            lines.append(
                f"| {route}{label} | {rie[subject][key]['median']:{fmt}} ms | {rie['bare'][key]['median']:{fmt}} ms "
                f"| {_spread(rie[ratio][key])} | {verdict} |"
            )
    for key, label, fmt in rows:
        lines.append(
            f"| the Powertools floor (resolver + one `INCR`, nothing else): {label} "
            f"| {rie['floor'][key]['median']:{fmt}} ms | {rie['bare'][key]['median']:{fmt}} ms "
            f"| {_spread(rie['floor_ratio'][key])} | (reference) |"
        )
    lines += _first_invocations(rie)
    for subject, label in (("ours", "`GET /`"), ("page", "a page hit"), ("floor", "the floor"), ("bare", "bare")):
        written = rie[subject]["log_bytes"]["median"]
        verdict = GOALS["log_bytes"].verdict(written) if subject in ("ours", "page") else ""
        lines.append(f"| bytes written to the log per warm invocation, {label} | {written:.0f} B | | | {verdict} |")
    lines += _bill(r, chosen["HitsFunction"])
    lines += [
        "",
        "### Memory and cost",
        "",
        "| function | peak RSS | `MemorySize` chosen |",
        "|---|---|---|",
        *(
            f"| {name} | {peak:.0f} MiB | {1024 if name == 'ImportWorkerFunction' else chosen[name]} MB |"
            for name, peak in peaks.items()
        ),
        "",
        f"One million `GET /` on arm64 at the measured billed duration ({hits_duration:.2f} ms, rounded up to whole "
        f"ms as Lambda bills): ${runtime.cost_per_million(hits_duration, chosen['HitsFunction']):.2f} of Lambda at "
        f"{chosen['HitsFunction']} MB (${runtime.ARM64_GB_SECOND_USD} per GB-second, "
        f"${runtime.REQUESTS_PER_MILLION_USD} per million requests, us-east-1 list prices, {runtime.PRICE_DATE}). "
        f"The parser reads {imp['mb_per_s']:.0f} MB/s on a full core.",
        "",
        "### The local loop",
        "",
        f"`make dev` answers its first request {r['loop']['first_answer_s']:.1f} s after it starts; a change saved in "
        f"a function shows in the next response {r['loop']['change_visible_s']:.2f} s later.",
        "",
        "### In process",
        "",
        "| measure | ours | floor | ratio | goal |",
        "|---|---|---|---|---|",
        f"| warm: `GET /` vs one raw redis-py `INCR` | {w['handler_us']:.0f} µs | {w['incr_us']:.0f} µs "
        f"| {w['handler_ratio']:.2f}× ({w['handler_min']:.2f}–{w['handler_max']:.2f}) "
        f"| {GOALS['inprocess_warm'].verdict(w['handler_ratio'])} |",
        f"| warm, parts: Powertools resolver + route (no Logger, no Metrics) | {w['resolver_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['resolver_ratio']:.2f}× | |",
        f"| warm, parts: resolver + Metrics flush (no Logger) | {w['resolver_metrics_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['resolver_metrics_ratio']:.2f}× | |",
        f"| warm: the seed's Flask view (test client) | {w['seed_us']:.0f} µs | {w['incr_us']:.0f} µs "
        f"| {w['seed_ratio']:.2f}× | (reference) |",
        f"| `GET /session` (one EVALSHA) | {w['session_us']:.0f} µs | {w['incr_us']:.0f} µs "
        f"| {w['session_ratio']:.2f}× | |",
        f"| the counting step (one EVALSHA: the INCR, three buckets, the visitor) | {w['step_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['step_ratio']:.2f}× ({w['step_min']:.2f}–{w['step_max']:.2f}) | |",
        f"| warm `GET /` with the step swapped for one `INCR` → as it is | {history_before:.2f}× "
        f"→ {w['handler_ratio']:.2f}× | | | |",
        f"| a page hit, `GET /pages/{{page}}` (one EVALSHA: also the page's registry and top index) "
        f"| {w['page_us']:.0f} µs | {w['incr_us']:.0f} µs | {w['page_ratio']:.2f}× ({w['page_min']:.2f}–"
        f"{w['page_max']:.2f}) | |",
        f"| its badge, `GET /pages/{{page}}/badge.svg` (counts, draws) | {w['badge_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['badge_ratio']:.2f}× | |",
        f"| the badge alone: {r['badge']['bytes']} bytes of SVG, drawn in | {r['badge']['render_us']:.1f} µs | | | |",
        f"| `count.js`, as served: {r['badge']['count_js_bytes']} bytes (goal: under 2,048) | | | | |",
        f"| telling a bot from a person: an agent seen before (cached) | {r['bots']['cached_us']:.1f} µs | | | |",
        f"| the same, a new agent every request (the list tried in full) | {r['bots']['new_agent_us']:.0f} µs "
        f"| | | a crawler's agent: {r['bots']['crawler_us']:.0f} µs; the list compiled on the first page hit: "
        f"{r['bots']['first_ms']:.0f} ms |",
        f"| the same, the worst of 1,595 hostile agents of 512 characters (`devtools/agents.py`) "
        f"| {r['bots']['worst_adversarial_us']:.0f} µs | | | CrawlerDetect's own matcher on the same kind: "
        f"{r['bots']['worst_adversarial_crawlerdetect_us'] / 1000:.1f} ms |",
        f"| `GET /stats?period=30d` | {w['stats_us']:.0f} µs | {w['incr_us']:.0f} µs | {w['stats_ratio']:.2f}× | |",
        f"| `GET /dashboard` | {w['dashboard_us']:.0f} µs | {w['incr_us']:.0f} µs | {w['dashboard_ratio']:.2f}× | |",
        f"| Redis round trips per counted hit | {rt['ours']:.2f} | seed: {rt['seed']:.2f} | "
        f"| {GOALS['round_trips'].verdict(rt['ours'])} |",
        *(
            f"| hiredis (the layer's): the client's CPU per {label}, with it vs without it (blocked) "
            f"| {r['hiredis'][f'with_{key}']:.0f} µs | {r['hiredis'][f'without_{key}']:.0f} µs "
            f"| {r['hiredis'][f'with_{key}'] / r['hiredis'][f'without_{key}']:.2f}× | |"
            for label, key in (("`GET /`", "root_us"), ("page hit", "page_us"), ("raw `INCR`", "incr_us"))
        ),
        f"| cold: fresh interpreter, import handler, first `GET /` vs import redis + connect + `INCR` "
        f"| {c['handler_ms']:.0f} ms | {c['floor_ms']:.0f} ms | {c['ratio']:.2f}× ({c['ratio_min']:.2f}–"
        f"{c['ratio_max']:.2f}) | {GOALS['cold'].verdict(c['ratio'])} |",
        f"| local server p50, `GET /` over HTTP vs the seed's Flask app | {ls['local_api']['p50_ms']:.2f} ms "
        f"| {ls['seed_flask']['p50_ms']:.2f} ms | {local_ratio:.2f}× ({ls['p50_ratio']['min']:.2f}–"
        f"{ls['p50_ratio']['max']:.2f}) | {GOALS['local_p50'].verdict(local_ratio)} |",
        f"| local server p99 | {ls['local_api']['p99_ms']:.2f} ms | {ls['seed_flask']['p99_ms']:.2f} ms "
        f"| {ls['local_api']['p99_ms'] / ls['seed_flask']['p99_ms']:.2f}× | |",
        f"| local server throughput, 4 clients | {ls['local_api']['rps']:.0f} req/s "
        f"| {ls['seed_flask']['rps']:.0f} req/s | {ls['local_api']['rps'] / ls['seed_flask']['rps']:.2f}× | |",
        f"| imports: streaming parse of a {imp['log_mb']:.0f} MB log ({imp['gzip_mb']:.1f} MB gzip) vs reading and "
        f"hashing it | {imp['mb_per_s']:.0f} MB/s | {imp['hash_mb_per_s']:.0f} MB/s | | |",
        f"| imports: peak memory growth while parsing it | {imp['peak_growth_mib']:.1f} MiB | | | constant |",
        *(
            f"| imports, hostile: {h['name']} ({h['mb']:.1f} MB stored): {h['outcome']} in {h['seconds']:.1f} s, "
            f"peak memory growth | {h['peak_growth_kib'] / 1024:.1f} MiB | | "
            f"| {GOALS['hostile_memory_mib'].verdict(h['peak_growth_kib'] / 1024)} |"
            for h in r["hostile"]
        ),
        f"| hot key: 4 threads × 1500 `GET /` on a local 3-master cluster, `HITS_SHARDS=8` vs 1 "
        f"| {hk['shards8_rps']:.0f}/s | {hk['shards1_rps']:.0f}/s | {hk['shards8_rps'] / hk['shards1_rps']:.2f}× "
        f"| totals exact: {'yes' if hk['shards8_exact'] and hk['shards1_exact'] else '**no**'} |",
        "",
        "Top imports of the cold start (cumulative ms, `python -X importtime`): "
        + ", ".join(f"`{n}` {ms:.0f}" for n, ms in c["top_imports"])
        + ".",
        "",
        *_read_waits(r["read_waits"]),
        "### Deployment size (`sam build`)",
        "",
        "| artifact | unzipped | zipped |",
        "|---|---|---|",
        *(f"| {name} | {raw / 1024:.0f} KiB | {zipped / 1024:.0f} KiB |" for name, (raw, zipped) in sizes.items()),
        "",
        "![ratios](BENCHMARKS.png)",
    ]
    return lines


def _read_waits(waits: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """Waits on Redis per read route (a command or a pipeline), the day's first and steady."""
    routes = list(waits["standalone"])
    goal = GOALS["read_waits"]
    lines = [
        "### Waits on Redis per read",
        "",
        "| read route | standalone: day's first | standalone: steady | 3-master cluster: day's first "
        "| cluster: steady | goal (steady) |",
        "|---|---|---|---|---|---|",
    ]
    for route in routes:
        s, c = waits["standalone"][route], waits["cluster"][route]
        worst = max(s["steady"], c["steady"])
        lines.append(
            f"| `{route}` | {s['first']} | {s['steady']} | {c['first']} | {c['steady']} | {goal.verdict(worst)} |"
        )
    return [*lines, ""]


def _first_invocations(rie: dict[str, Any]) -> list[str]:
    """The first invocation alone: as deployed, from source (no bytecode), compiled by Python."""
    only, ratios = rie["first_only"], rie["first_only_ratio"]
    lines = []
    for case, label in (("ours", "`GET /`"), ("page", "a page hit"), ("bare", "the bare handler")):
        goal = GOALS["deployed_first"]
        deployed, compiled, source = (only[v][case]["median"] for v in ("deployed", "compiled", "source"))
        lines += [
            f"| {label}, first invocation alone, **as deployed** (read-only, the build's bytecode) "
            f"| {deployed:.0f} ms | compiled by Python: {compiled:.0f} ms "
            f"| {_spread(ratios[case]['deployed_vs_compiled'])} "
            f"| {goal.verdict(ratios[case]['deployed_vs_compiled']['median'])} |",
            f"| {label}, first invocation alone, from source (a build without bytecode, as SAM's python builder "
            f"made it) | {source:.0f} ms | as deployed: {deployed:.0f} ms "
            f"| {_spread(ratios[case]['source_vs_deployed'])} | (what the bytecode saves) |",
        ]
    return lines


def _bill(r: dict[str, Any], memory_mb: int) -> list[str]:
    """The cost of a million hits, all in, and the ceiling the defaults set."""
    rie, w = r["runtime"], r["warm"]
    lines = ["", "### What a million hits cost, all in", ""]
    for subject, label, server in (
        ("ours", "`GET /`", "redis_root_us"),
        ("page", "`GET /pages/{page}`", "redis_page_us"),
        ("referred", "`GET /count?path=…&r=…` (a path page's hit with a referrer)", "redis_referred_us"),
    ):
        bill = costs.per_million(
            rie[subject]["duration"]["median"], memory_mb, rie[subject]["log_bytes"]["median"], w[server]
        )
        lines += [f"| {label}: item | USD per million | from |", "|---|---|---|"]
        lines += [f"| {item} | {usd:.4f} | {how} |" for item, usd, how in bill.rows]
        low, high = w[server.replace("_us", "_spread")]
        lines.append(f"| (Redis CPU a hit over the run's measures of 2,000 hits) | | {low:.0f}–{high:.0f} µs |")
        total = bill.but_api_gateway
        lines += [f"| **all but API Gateway** | **{total:.4f}** | {GOALS['bill'].verdict(total)} |", ""]
    floor = costs.per_million(1, memory_mb, 0, 1).floor_month_usd
    lines.append(
        f"Plus the cache's floor, whatever the traffic: ElastiCache Serverless bills at least "
        f"{costs.STORAGE_MINIMUM_GB['valkey'] * 1000:.0f} MB of Valkey (${floor['valkey']:.2f} a month, the "
        f"template's default engine) or {costs.STORAGE_MINIMUM_GB['redis']:.0f} GB of Redis OSS "
        f"(${floor['redis']:.2f} a month). Prices: us-east-1 list prices read {costs.PRICE_DATE}; ECPUs at "
        f"{costs.MICROSECONDS_PER_ECPU:g} µs of Redis CPU each (AWS publishes no rule for scripts)."
    )
    limits = costs.template_limits()
    root_ecpu, page_ecpu = costs.ecpus(w["redis_root_us"]), costs.ecpus(w["redis_page_us"])
    hk = r["hot_key"]
    lines += [
        "",
        "### The ceiling at the defaults",
        "",
        "| limit | allows | binds at | how to raise it |",
        "|---|---|---|---|",
        f"| the stage's route throttle, `GET /` (`ThrottleRateLimit`) | {limits['ThrottleRateLimit']} req/s "
        f"| **first**: {limits['ThrottleRateLimit']} hits/s | the parameter (and `ThrottleBurstLimit`) |",
        f"| the stage's route throttle, a page and its badge (`PageThrottleRateLimit`) "
        f"| {limits['PageThrottleRateLimit']} req/s each, for all pages together | {limits['PageThrottleRateLimit']} "
        f"page hits/s + as many badges | the parameter |",
        "| the per-client limit (`RATE_LIMIT_PER_MINUTE`) | 60 counted page hits a minute per client and page slot "
        "| one client, 1/s on one page | the variable (0: off) |",
        f"| the cache's ECPU limit (`CacheMaxEcpuPerSecond`) | {limits['CacheMaxEcpuPerSecond']} ECPU/s "
        f"| {int(limits['CacheMaxEcpuPerSecond']) / root_ecpu:.0f} `GET /`/s ({root_ecpu:.1f} ECPU each), or "
        f"{int(limits['CacheMaxEcpuPerSecond']) / page_ecpu:.0f} page hits/s ({page_ecpu:.1f} each) "
        f"| the parameter (up to 15,000,000) |",
        f"| one slot of ElastiCache Serverless (about 30,000 ECPU/s, AWS's documented per-slot figure) "
        f"| one counter or one page per slot | {30000 / root_ecpu:.0f} `GET /`/s on `{{hits}}`; "
        f"{30000 / page_ecpu:.0f} hits/s on one page | `HITS_SHARDS` (site and each page over that many slots) |",
        "| API Gateway's account quota | 10,000 req/s per region (burst 5,000) | every route together | a quota "
        "increase |",
        "| Lambda concurrency | 1,000 per region (account default) | at a few ms a hit, about 300,000 req/s | "
        "a quota increase |",
        "",
        f"On a local 3-master cluster, where page hits land: one page puts "
        f"{hk['one_page_busiest_share']:.0%} of the scripts on its master; 64 pages, "
        f"{hk['many_pages_busiest_share']:.0%} on the busiest (a third is even); one page with `HITS_SHARDS=8`, "
        f"{hk['one_page_shards8_busiest_share']:.0%}.",
    ]
    return lines


def plot_rows(r: dict[str, Any]) -> list[tuple[str, float, float | None]]:
    """The ratios drawn in BENCHMARKS.png, each with its goal's limit where it has one."""
    ls, rie = r["local"], r["runtime"]
    return [
        ("runtime: warm ÷ bare INCR", rie["ratio"]["warm"]["median"], GOALS["runtime_warm"].limit),
        ("runtime: billed Duration ÷ bare", rie["ratio"]["duration"]["median"], GOALS["runtime_duration"].limit),
        ("runtime: first invocation ÷ bare", rie["ratio"]["first"]["median"], GOALS["runtime_first"].limit),
        ("in process: warm GET / ÷ INCR", r["warm"]["handler_ratio"], GOALS["inprocess_warm"].limit),
        ("cold start ÷ redis+INCR", r["cold"]["ratio"], GOALS["cold"].limit),
        (
            "local API p50 ÷ seed Flask",
            ls["local_api"]["p50_ms"] / ls["seed_flask"]["p50_ms"],
            GOALS["local_p50"].limit,
        ),
        ("Redis round trips per hit", r["round_trips"]["ours"], GOALS["round_trips"].limit),
    ]


def plot(rows: list[tuple[str, float, float | None]], path: Path) -> None:
    """Bars of each ratio (lower is better), with its goal marked where there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.2))
    names = [row[0] for row in rows][::-1]
    values = [row[1] for row in rows][::-1]
    goals = [row[2] for row in rows][::-1]
    colors = ["#2a9d8f" if g is None or v <= g else "#e76f51" for v, g in zip(values, goals, strict=True)]
    ax.barh(names, values, color=colors)
    for i, (value, goal) in enumerate(zip(values, goals, strict=True)):
        ax.text(value, i, f" {value:.2f}×", va="center", fontsize=9)
        if goal is not None:
            ax.plot([goal, goal], [i - 0.4, i + 0.4], color="black", linewidth=2)
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("ratio to the floor measured in the same run (lower is better; black tick = goal)")
    ax.set_xlim(0, max(values) * 1.25)
    ax.set_title(f"make bench — {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fill(document: str, block: list[str]) -> str:
    """``document`` with the text between the markers replaced by ``block``."""
    head, begin, rest = document.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"BENCHMARKS.md lost its markers ({BEGIN} … {END})")
    return head + BEGIN + "\n" + "\n".join(block) + "\n" + END + tail
