"""Synth time, peak memory and resource counts of a fanout of N consumers: constructs_lib
against AWS Solutions Constructs' SnsToSqs.

Run from the repository root, with no AWS account and no network (the SnsToSqs side needs the
``bench`` extra, which ``make setup`` installs):

    .venv/bin/python benchmarks/synth_scale.py [--counts 10,50,200,1000] [--reps 3] [--quick]
        [--figures-dir docs/images/benchmarks]

1. For each N, builds and synthesizes each fanout (``_fanouts.py`` says exactly what is
   built) in a fresh subprocess per measurement, so every figure includes a fresh jsii node
   process and import, and memory is per measurement. The two implementations alternate
   within each repetition (the one that goes first swaps every repetition), so load from
   other work on the machine hits both alike. Reported: the wall time of building the
   construct tree plus ``app.synth()``, its median and min-max, the median of the per-pair
   ratios constructs_lib / SnsToSqs, and separately the ``import aws_cdk`` and library
   import times. Peak memory is the kernel's high-water mark (``VmHWM`` in /proc) of the
   Python process and of its jsii node processes (a small ``jsii-runtime.js`` wrapper and
   the kernel it starts), read by the measured process itself at the end of its synth.
2. A run that CDK refuses (``TooManyResourcesInStack``: CDK checks CloudFormation's
   500-resources-per-stack quota at synth) is a result, not a crash: it is reported with how
   it failed, and the fanout is synthesized once more with the check lifted so that its
   templates can still be counted. Every template of every assembly (nested stacks
   included) is then checked against the 500-resource quota: a template over it would fail
   at deploy whatever CDK said.
3. From the templates: resources per consumer (all templates at N+1 minus N), fixed
   resources, KMS keys, alarms (Metrics Insights query alarms included), templates, the
   largest template, and consumers per stack (the most consumers whose fixed and
   per-consumer resources fit in 500, checked by synthesizing that many and one more).
4. Linearity of synth cost in N, and a checklist of the targets.
5. A figure, ``synth-scale.png`` and ``.svg`` in ``--figures-dir`` (default
   ``docs/images/benchmarks/``; matplotlib, from the ``bench`` extra): the whole-process wall
   time per N (median and range; where CDK refuses a stack, the run with its check lifted) and
   the resources in the assembly and in its largest template, both fanouts, against N.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import math
import platform
import shlex
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _fanouts import (
    IMPLEMENTATIONS,
    OURS,
    STACK_RESOURCE_LIMIT,
    THEIRS,
    Assembly,
    Measurement,
    add_assemblies_option,
    assembly_dir,
    complete_assembly,
    counts_parser,
    machine_load,
    measure,
    missing,
    node_version,
    read_assembly,
    record,
    table,
    versions,
)

DEFAULT_COUNTS = (10, 50, 200, 1000)
QUICK_COUNTS = (10, 50)
LARGE_N = 200
"""Counts above this get ``--large-reps`` repetitions instead of ``--reps``."""
RATIO_TARGET_N = 50
RATIO_TARGET = 1.0
WHOLE_PROCESS_TARGET = 0.85
"""Issue 14: the whole process (wall and CPU) at N = 50 at most this times SnsToSqs's."""
RESOURCES_PER_CONSUMER_TARGET = 5
KMS_KEYS_TARGET = 2
SYNTHESIZE_TARGET_N = 1000
LINEAR_R2 = 0.98
LINEAR_MARGINAL = 2.0
"""Linear: R^2 of a straight-line fit at least LINEAR_R2, and the marginal time per consumer
over the last interval at most LINEAR_MARGINAL times the fitted slope."""


# -- figures -------------------------------------------------------------------------------


def median_range(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    if not values:
        return "-"
    middle = fmt.format(statistics.median(values))
    if len(values) == 1:
        return middle
    return f"{middle} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """Least squares ``y = a + b x``: (a, b, R^2)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    a = my - b * mx
    total = sum((y - my) ** 2 for y in ys)
    residual = sum((y - (a + b * x)) ** 2 for x, y in points)
    return a, b, (1 - residual / total) if total else 1.0


def consumer_cost(
    small: Assembly, n_small: int, large: Assembly, n_large: int
) -> tuple[float, float, Counter[str]]:
    """(resources per consumer, fixed resources, per-consumer resources by type) from two
    assemblies of the same fanout, all templates counted."""
    per = (large.total_resources() - small.total_resources()) / (n_large - n_small)
    by_type = large.types()
    by_type.subtract(small.types())
    return per, small.total_resources() - per * n_small, +by_type


def alarm_summary(assembly: Assembly) -> str:
    alarms = assembly.alarms()
    if not alarms:
        return "0"
    kinds = Counter(a.kind for a in alarms)
    parts = [f"{count:,} {kind}" for kind, count in sorted(kinds.items())]
    return f"{len(alarms):,} ({', '.join(parts)})"


def deploy_verdict(assembly: Assembly) -> str:
    problems = assembly.deploy_problems()
    return "ok" if not problems else "would fail at deploy: " + "; ".join(problems)


FIGURE_STEM = "synth-scale"
FIGURE_LABELS = {
    OURS: "constructs_lib: FanoutTopic + add_queue_consumer() x N",
    THEIRS: "SnsToSqs: one per consumer on a shared topic",
}


@dataclasses.dataclass(frozen=True)
class WallPoint:
    """Whole-process wall time at one N: median and range of the runs that synthesized, or
    the one run with CDK's resource check lifted (``lifted``)."""

    n: int
    median: float
    low: float
    high: float
    lifted: bool = False


@dataclasses.dataclass(frozen=True)
class FigureSeries:
    impl: str
    walls: list[WallPoint]
    resources: list[tuple[int, int, int]]
    """(N, resources in every template, resources in the largest template)."""


def figure_series(
    impls: Sequence[str],
    counts: Sequence[int],
    runs: dict[tuple[str, int], list[Measurement]],
    lifted_process_wall: dict[tuple[str, int], float],
    assemblies: dict[tuple[str, int], Assembly],
) -> list[FigureSeries]:
    series = []
    for impl in impls:
        walls = []
        for n in counts:
            good = [r.process_wall_s for r in runs[(impl, n)] if r.ok]
            if good:
                walls.append(WallPoint(n, statistics.median(good), min(good), max(good)))
            elif (impl, n) in lifted_process_wall:
                wall = lifted_process_wall[(impl, n)]
                walls.append(WallPoint(n, wall, wall, wall, lifted=True))
        resources = [
            (n, a.total_resources(), a.largest().count())
            for n in counts
            if (a := assemblies.get((impl, n))) is not None
        ]
        series.append(FigureSeries(impl, walls, resources))
    return series


def write_figure(series: Sequence[FigureSeries], directory: Path, *, subtitle: str) -> list[Path]:
    """Whole-process wall time and resources against N (log scale), one line per fanout, as
    PNG and SVG in ``directory``."""
    from _plots import COLORS, new_figure, save
    from matplotlib.ticker import LogLocator

    colors = {OURS: COLORS["ours"], THEIRS: COLORS["theirs"]}
    counts = sorted(
        {p.n for s in series for p in s.walls} | {r[0] for s in series for r in s.resources}
    )
    top_wall = _highest({s.impl: [(p.n, p.median) for p in s.walls] for s in series})
    top_total = _highest({s.impl: [(n, total) for n, total, _ in s.resources] for s in series})
    with new_figure(2) as figure:
        time_axes, resource_axes = figure.axes
        handles: list[Any] = []  # ours, theirs, theirs with the check lifted
        for one in series:
            color = colors.get(one.impl, "#2ca02c")
            label = FIGURE_LABELS.get(one.impl, one.impl)
            full = [p for p in one.walls if not p.lifted]
            time_axes.plot(
                [p.n for p in one.walls], [p.median for p in one.walls], color=color, lw=1
            )
            handles.append(
                time_axes.errorbar(
                    [p.n for p in full],
                    [p.median for p in full],
                    yerr=[[p.median - p.low for p in full], [p.high - p.median for p in full]],
                    fmt="o",
                    color=color,
                    capsize=3,
                    label=label,
                )
            )
            lifted = [p for p in one.walls if p.lifted]
            if lifted:
                (hollow,) = time_axes.plot(
                    [p.n for p in lifted],
                    [p.median for p in lifted],
                    "o",
                    mfc="white",
                    color=color,
                    label=f"{one.impl}, CDK refuses the stack (> {STACK_RESOURCE_LIMIT} "
                    "resources): timed with its check lifted",
                )
                handles.append(hollow)
            for point in one.walls:
                time_axes.annotate(
                    f"{point.median:.1f} s",
                    (point.n, point.median),
                    xytext=(6, 8 if top_wall[point.n] == one.impl else -8),
                    textcoords="offset points",
                    ha="left",
                    va="center",
                    color=color,
                    fontsize=9,
                )
            ns = [n for n, _, _ in one.resources]
            resource_axes.plot(
                ns, [total for _, total, _ in one.resources], "o-", color=color, label=label
            )
            if any(total != largest for _, total, largest in one.resources):
                resource_axes.plot(
                    ns,
                    [largest for _, _, largest in one.resources],
                    "s--",
                    color=color,
                    mfc="white",
                    label=f"{one.impl}: largest template (nested stacks)",
                )
                for n, total, largest in one.resources:
                    if largest != total:
                        resource_axes.annotate(
                            f"{largest:,}",
                            (n, largest),
                            xytext=(6, -8),
                            textcoords="offset points",
                            ha="left",
                            va="center",
                            color=color,
                            fontsize=9,
                        )
            for n, total, _ in one.resources:
                resource_axes.annotate(
                    f"{total:,}",
                    (n, total),
                    xytext=(6, 8 if top_total[n] == one.impl else -8),
                    textcoords="offset points",
                    ha="left",
                    va="center",
                    color=color,
                    fontsize=9,
                )
        resource_axes.axhline(STACK_RESOURCE_LIMIT, color="black", ls=":", lw=1)
        resource_axes.annotate(
            f"CloudFormation quota: {STACK_RESOURCE_LIMIT} resources per template",
            (counts[0] if counts else 1, STACK_RESOURCE_LIMIT),
            xytext=(0, 3),
            textcoords="offset points",
            va="bottom",
            fontsize=9,
        )
        time_axes.set_ylabel("whole-process wall time (s)")
        time_axes.set_ylim(0, time_axes.get_ylim()[1] * 1.08)  # room for the value labels
        time_axes.set_title(subtitle, fontsize=9)
        time_axes.legend(handles=handles, loc="upper left", fontsize=9)
        resource_axes.set_ylabel("resources in the cloud assembly")
        resource_axes.set_yscale("log")
        resource_axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        resource_axes.yaxis.set_major_formatter("{x:,.0f}")
        resource_axes.legend(loc="lower right", fontsize=9)
        resource_axes.set_xscale("log")
        resource_axes.set_xticks(counts, [f"{n:,}" for n in counts])
        if counts:
            resource_axes.set_xlim(counts[0] / 1.4, counts[-1] * 1.6)
        low, high = resource_axes.get_ylim()
        resource_axes.set_ylim(low, high * 1.5)
        resource_axes.minorticks_off()
        resource_axes.set_xlabel("N, consumers in the fanout (log scale)")
        figure.suptitle(
            f"Synthesizing a fanout of N consumers: constructs_lib against AWS Solutions "
            f"Constructs' {THEIRS}",
            fontsize=12,
        )
        return save(figure, directory, FIGURE_STEM)


def _highest(values: dict[str, list[tuple[int, float]]]) -> dict[int, str]:
    """For each N, the series with the highest value (the first of those tied): its value
    label goes above its point, the others' below."""
    best: dict[int, tuple[float, str]] = {}
    for name, points in values.items():
        for n, value in points:
            if n not in best or value > best[n][0]:
                best[n] = (value, name)
    return {n: name for n, (_, name) in best.items()}


def _fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


# -- the run -------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--counts",
        type=counts_parser("10,50,200,1000"),
        default=None,
        help="default 10,50,200,1000",
    )
    parser.add_argument("--reps", type=int, default=3, help=f"repetitions for N <= {LARGE_N}")
    parser.add_argument("--large-reps", type=int, default=1, help=f"repetitions for N > {LARGE_N}")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"N = {','.join(map(str, QUICK_COUNTS))}, 1 repetition, no consumers-per-stack check",
    )
    parser.add_argument(
        "--no-check", action="store_true", help="skip synthesizing the consumers-per-stack bound"
    )
    add_assemblies_option(parser, "where the cloud assemblies go (fixed_cost.py reuses them)")
    from _plots import add_figures_option

    add_figures_option(parser, "the figure of synth time and resources against N")
    args = parser.parse_args(argv)
    counts: list[int] = args.counts or list(QUICK_COUNTS if args.quick else DEFAULT_COUNTS)
    reps = 1 if args.quick else args.reps
    large_reps = 1 if args.quick else args.large_reps
    check = not (args.quick or args.no_check)
    base: Path = args.assemblies
    started = time.perf_counter()
    start_date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = machine_load()
    skipped = {impl: reason for impl in IMPLEMENTATIONS if (reason := missing(impl))}
    impls = [impl for impl in IMPLEMENTATIONS if impl not in skipped]

    # 1. timed runs, alternating
    runs: dict[tuple[str, int], list[Measurement]] = {}
    pairs: dict[int, list[float]] = {}
    total = sum(len(impls) * (reps if n <= LARGE_N else large_reps) for n in counts)
    done = 0
    for n in counts:
        for rep in range(reps if n <= LARGE_N else large_reps):
            order = impls if rep % 2 == 0 else impls[::-1]
            this_rep: dict[str, Measurement] = {}
            for impl in order:
                run = measure(impl, n, assembly_dir(base, impl, n))
                if run.ok:
                    record(run)
                runs.setdefault((impl, n), []).append(run)
                this_rep[impl] = run
                done += 1
                progress(
                    f"[{done}/{total}] {impl} N={n} rep {rep + 1}: "
                    f"{(run.wall_s or 0):.1f} s {run.failure() or 'ok'}"
                )
            ours, theirs = this_rep.get(OURS), this_rep.get(THEIRS)
            if ours and theirs and ours.wall_s and theirs.wall_s:
                pairs.setdefault(n, []).append(ours.wall_s / theirs.wall_s)

    # 2. every assembly complete (CDK's check lifted where it refused)
    assemblies: dict[tuple[str, int], Assembly] = {}
    default_synth: dict[tuple[str, int], str] = {}
    lifted_wall: dict[tuple[str, int], float] = {}
    lifted_peak: dict[tuple[str, int], float] = {}
    lifted_process_wall: dict[tuple[str, int], float] = {}
    for impl in impls:
        for n in counts:
            last = runs[(impl, n)][-1]
            default_synth[(impl, n)] = last.failure() or "ok"
            if not last.ok and (last.error or {}).get("code") != "TooManyResourcesInStack":
                continue  # some other failure: nothing to count
            if not last.ok:
                progress(f"{impl} N={n}: synthesizing again with the resource check lifted")
            complete = complete_assembly(base, impl, n)
            assemblies[(impl, n)] = complete.assembly
            if not last.ok and complete.wall_s is not None:
                lifted_wall[(impl, n)] = complete.wall_s
            if not last.ok and complete.peak_mib is not None:
                lifted_peak[(impl, n)] = complete.peak_mib
            if not last.ok and complete.process_wall_s is not None:
                lifted_process_wall[(impl, n)] = complete.process_wall_s

    # 3. resources per consumer, fixed resources, consumers per stack
    small = counts[0]
    costs: dict[str, tuple[float, float, Counter[str]]] = {}
    for impl in impls:
        if (impl, small) not in assemblies:
            continue
        plus_one = complete_assembly(base, impl, small + 1).assembly
        costs[impl] = consumer_cost(assemblies[(impl, small)], small, plus_one, small + 1)
    capacity: dict[str, tuple[int, str]] = {}
    for impl, (per, fixed, _) in costs.items():
        fit = math.floor((STACK_RESOURCE_LIMIT - fixed) / per) if per > 0 else 0
        capacity[impl] = (fit, _check_capacity(base, impl, fit) if check and fit > 0 else "")

    def full(impl: str, n: int, lifted: dict[tuple[str, int], float], wall: bool) -> float | None:
        """A full synth's figure: median of the runs that synthesized, else the lifted run."""
        good = [r.wall_s if wall else r.peak_mib for r in runs[(impl, n)] if r.ok]
        values = [v for v in good if v is not None]
        return statistics.median(values) if values else lifted.get((impl, n))

    full_wall = {(i, n): full(i, n, lifted_wall, True) for i in impls for n in counts}
    full_peak = {(i, n): full(i, n, lifted_peak, False) for i in impls for n in counts}
    refused_at = [n for n in counts if any(not r.ok for i in impls for r in runs[(i, n)])]

    # -- output ------------------------------------------------------------------------
    installed = versions()
    print("Synth scale: a fanout of N consumers, constructs_lib against SnsToSqs")
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(f"started: {start_date}; machine: {platform.machine()}, {load_before} at start")
    print(
        f"Python {platform.python_version()}, {node_version()}, "
        + ", ".join(f"{name} {version}" for name, version in installed.items())
    )
    for impl, reason in skipped.items():
        print(f"SKIPPED {impl}: {reason}")
    print()
    print("What is measured:")
    for line in assumptions(reps, large_reps):
        print(f"  - {line}")
    print()
    print(
        "Synth wall time, build + app.synth() (s): median [min-max]; ratio = median of "
        "per-repetition ratios"
    )
    rows = [["N", "reps", *(f"{impl} (s)" for impl in impls)]]
    if len(impls) == 2:
        rows[0].append(f"{OURS} / {THEIRS}")
    footnotes: list[str] = []
    for n in counts:
        row = [f"{n:,}", str(len(runs[(impls[0], n)]))]
        for impl in impls:
            measured = runs[(impl, n)]
            cell = median_range([r.wall_s for r in measured if r.wall_s is not None])
            failure = next((r.failure() for r in measured if not r.ok), None)
            if failure:
                cell += " *"
                footnotes.append(f"* {impl} N={n:,}: {failure}")
            row.append(cell)
        if len(impls) == 2:
            outcomes = {all(r.ok for r in runs[(impl, n)]) for impl in impls}
            ratios = pairs.get(n, []) if len(outcomes) == 1 else []
            cell = median_range(ratios, "{:.2f}x") if ratios else "- (see below)"
            row.append(cell + (" *" if ratios and outcomes == {False} else ""))
        rows.append(row)
    print("\n".join(table(rows)))
    for note in footnotes:
        print(f"  {note}")
    if footnotes:
        print(
            "  (* time until CDK refused the stack: its resource check runs after the template "
            "is rendered, before it is written and validated)"
        )
        print(f"  {lifted_line(impls, refused_at, full_wall, 's')}")
    print()
    print("Imports and whole process (s), median over every run of the implementation:")
    rows = [["", "import aws_cdk", "import library", "process wall (all N)"]]
    for impl in impls:
        every = [r for n in counts for r in runs[(impl, n)]]
        rows.append(
            [
                impl,
                median_range([r.import_cdk_s for r in every if r.import_cdk_s is not None]),
                median_range([r.import_library_s for r in every if r.import_library_s is not None]),
                f"{statistics.median(r.process_wall_s for r in every):.2f}",
            ]
        )
    print("\n".join(table(rows)))
    print()
    whole = whole_process(impls, counts, runs)
    print(
        "Whole process per N: wall (start to exit) and CPU (user + system of the process and "
        "its jsii node processes), median [min-max]; ratio = median of per-repetition ratios"
    )
    print("\n".join(table(whole.rows)))
    print()
    print("Peak memory (MiB): Python process + jsii node processes, median [min-max]")
    rows = [["N", *(f"{impl}: python + node = total" for impl in impls)]]
    if len(impls) == 2:
        rows[0].append("total ratio")
    refused = False
    for n in counts:
        row = [f"{n:,}"]
        medians = []
        for impl in impls:
            measured = runs[(impl, n)]
            py = [r.python_peak_kib / 1024 for r in measured if r.python_peak_kib]
            node = [r.node_peak_kib / 1024 for r in measured if r.node_peak_kib]
            both = [r.peak_mib for r in measured if r.peak_mib is not None]
            medians.append(statistics.median(both) if both else math.nan)
            failed = any(not r.ok for r in measured)
            refused = refused or failed
            row.append(
                f"{median_range(py, '{:.0f}')} + {median_range(node, '{:.0f}')} = "
                f"{median_range(both, '{:.0f}')}" + (" *" if failed else "")
            )
        if len(impls) == 2:
            row.append(f"{medians[0] / medians[1]:.2f}x" if medians[1] else "-")
        rows.append(row)
    print("\n".join(table(rows)))
    if refused:
        print(
            "  (* stopped at CDK's resource check, before writing and validating the assembly, "
            "where a full synth peaks)"
        )
        print(f"  {lifted_line(impls, refused_at, full_peak, 'MiB')}")
    print()

    linear: dict[str, bool | None] = {}
    print(
        "Synth cost against N (median wall of the runs that synthesized; where CDK refused the "
        "stack, the one run with its check lifted, marked +):"
    )
    for impl in impls:
        points: list[tuple[float, float]] = []
        labels = []
        for n in counts:
            wall = full_wall[(impl, n)]
            if wall is not None:
                points.append((n, wall))
                mark = "+" if all(not r.ok for r in runs[(impl, n)]) else ""
                labels.append(f"N={n:,} {wall:.2f} s{mark}")
        print(f"  {impl}: {', '.join(labels) or 'nothing synthesized'}")
        if len(points) < 2:
            linear[impl] = None
            continue
        marginals = [
            f"{(y2 - y1) / (x2 - x1) * 1000:.1f}"
            for (x1, y1), (x2, y2) in itertools.pairwise(points)
        ]
        print(f"    marginal ms per consumer between successive N: {', '.join(marginals)}")
        if len(points) < 3:
            print("    (a straight-line fit needs at least 3 values of N)")
            linear[impl] = None
            continue
        a, b, r2 = fit_line(points)
        marginal = (points[-1][1] - points[-2][1]) / (points[-1][0] - points[-2][0])
        linear[impl] = r2 >= LINEAR_R2 and marginal <= LINEAR_MARGINAL * b
        print(
            f"    least squares: {a:.2f} s + {b * 1000:.1f} ms x N, R^2 = {r2:.4f}; last "
            f"interval {marginal * 1000:.1f} ms/consumer = {marginal / b:.2f}x the slope"
            if b > 0
            else f"    least squares: {a:.2f} s + {b * 1000:.1f} ms x N, R^2 = {r2:.4f}"
        )
    print()

    print("Resources (counted in every template of the cloud assembly, nested stacks included):")
    rows = [["", *impls]]
    if costs:
        rows.append(
            [
                f"resources per consumer (N={small + 1} minus N={small})",
                *(_fmt(costs[i][0]) if i in costs else "-" for i in impls),
            ]
        )
        rows.append(
            [
                "  of which alarms",
                *(
                    _fmt(
                        costs[i][2]["AWS::CloudWatch::Alarm"]
                        + costs[i][2]["AWS::CloudWatch::CompositeAlarm"]
                    )
                    if i in costs
                    else "-"
                    for i in impls
                ),
            ]
        )
        rows.append(
            [
                f"fixed resources (N={small} minus N x per consumer)",
                *(_fmt(costs[i][1]) if i in costs else "-" for i in impls),
            ]
        )
        rows.append(
            [
                f"consumers per stack (fixed + N x per <= {STACK_RESOURCE_LIMIT})",
                *(str(capacity[i][0]) if i in capacity else "-" for i in impls),
            ]
        )
    print("\n".join(table(rows)))
    for impl in impls:
        if impl in costs:
            by_type = ", ".join(
                f"{kind.removeprefix('AWS::')} {count}" for kind, count in costs[impl][2].items()
            )
            print(f"  {impl} per consumer: {by_type}")
    for impl in impls:
        if impl in capacity and capacity[impl][1]:
            print(f"  {impl} consumers per stack, checked: {capacity[impl][1]}")
    for impl in impls:
        if impl not in costs:
            continue
        per, fixed, _ = costs[impl]
        off = [
            f"N={n:,}: {assemblies[(impl, n)].total_resources():,} (expected "
            f"{fixed + per * n:,.0f})"
            for n in counts
            if (impl, n) in assemblies
            and abs(assemblies[(impl, n)].total_resources() - (fixed + per * n)) > 0.5
        ]
        print(
            f"  {impl}: resources = {_fmt(fixed)} + {_fmt(per)} x N at every N measured"
            if not off
            else f"  {impl}: resources are NOT {_fmt(fixed)} + {_fmt(per)} x N: {'; '.join(off)}"
        )
    print()
    print("Per N (templates as written with CDK's resource check lifted where it refused):")
    rows = [
        [
            "N",
            "fanout",
            "resources",
            "templates",
            "largest (resources, KiB)",
            "max in template",
            "KMS keys",
            "alarms",
            "synth (CDK defaults)",
            "deploy",
        ]
    ]
    for n in counts:
        for impl in impls:
            assembly = assemblies.get((impl, n))
            if assembly is None:
                rows.append(
                    [f"{n:,}", impl, "-", "-", "-", "-", "-", "-", default_synth[(impl, n)]]
                )
                continue
            biggest = assembly.largest()
            nested = sum(t.nested for t in assembly.templates)
            rows.append(
                [
                    f"{n:,}",
                    impl,
                    f"{assembly.total_resources():,}",
                    f"{len(assembly.templates)}" + (f" ({nested} nested)" if nested else ""),
                    f"{biggest.count():,}, {biggest.size_bytes / 1024:,.0f}",
                    f"{assembly.consumers_per_template():,}",
                    f"{assembly.kms_keys():,}",
                    alarm_summary(assembly),
                    brief(default_synth[(impl, n)]),
                    brief(deploy_verdict(assembly)),
                ]
            )
    print("\n".join(table(rows)))
    print(
        "  max in template: the most SNS subscriptions (one per consumer in both fanouts) in "
        "one template; alarms: AWS::CloudWatch::Alarm and CompositeAlarm resources by kind"
    )
    print()
    print("Targets (issue 7):")
    for line in targets(impls, counts, runs, pairs, assemblies, costs, linear):
        print(f"  {line}")
    if THEIRS in costs:
        theirs_per, _, theirs_types = costs[THEIRS]
        stack = capacity[THEIRS][0]
        keys = {n: assemblies[(THEIRS, n)].kms_keys() for n in counts if (THEIRS, n) in assemblies}
        print(
            f"  context (issue 7 about SnsToSqs: 6 resources per consumer, 82 consumers per "
            f"stack, 200 fails at synth, one KMS key per consumer): measured {_fmt(theirs_per)} "
            f"per consumer ({theirs_types['AWS::KMS::Key']} KMS key), {stack} per stack, N=200: "
            f"{brief(default_synth.get((THEIRS, 200), 'not run'))}, KMS keys {keys}"
        )
    print("Targets (issue 14):")
    print(f"  {whole.target_line()}")
    print()
    series = figure_series(impls, counts, runs, lifted_process_wall, assemblies)
    print(
        "Figure (whole-process wall time and resources against N): "
        + figure(series, args.figures_dir, reps, large_reps)
    )
    print(
        f"Machine load at the end: {machine_load()}; total run time "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


def figure(series: Sequence[FigureSeries], directory: Path, reps: int, large_reps: int) -> str:
    """Write the figure into ``directory``; what was written, or why not."""
    from _plots import missing, written

    reason = missing()
    if reason:
        return f"SKIPPED, {reason}"
    subtitle = (
        "each point: a fresh Python process and its jsii node process, start to exit "
        "(imports, build, app.synth())\n"
        f"median of {reps} run(s) for N <= {LARGE_N}, {large_reps} above, bars min-max; "
        "resources counted in every template, nested stacks included"
    )
    return written(write_figure(series, directory, subtitle=subtitle))


@dataclasses.dataclass
class WholeProcess:
    """The whole-process table and the N = 50 ratios it holds."""

    rows: list[list[str]]
    ratios: dict[str, float]

    def target_line(self) -> str:
        if not self.ratios:
            return (
                f"[not measured] N={RATIO_TARGET_N}: whole process <= {WHOLE_PROCESS_TARGET}x "
                "SnsToSqs (wall and CPU)"
            )
        ok = all(r <= WHOLE_PROCESS_TARGET for r in self.ratios.values())
        figures = ", ".join(f"{kind} {ratio:.2f}x" for kind, ratio in self.ratios.items())
        return (
            f"[{'met' if ok else 'NOT MET'}] N={RATIO_TARGET_N}: whole process <= "
            f"{WHOLE_PROCESS_TARGET}x SnsToSqs, wall and CPU: {figures}"
        )


def whole_process(
    impls: Sequence[str], counts: Sequence[int], runs: dict[tuple[str, int], list[Measurement]]
) -> WholeProcess:
    header = ["N", *(f"{impl} wall / CPU (s)" for impl in impls)]
    both = OURS in impls and THEIRS in impls
    if both:
        header += ["wall ratio", "CPU ratio"]
    rows, ratios = [header], {}
    for n in counts:
        row = [f"{n:,}"]
        for impl in impls:
            measured = [r for r in runs[(impl, n)] if r.ok]
            walls = [r.process_wall_s for r in measured]
            cpus = [r.process_cpu_s for r in measured if r.process_cpu_s is not None]
            row.append(f"{median_range(walls)} / {median_range(cpus)}")
        if both:
            pairs = list(zip(runs[(OURS, n)], runs[(THEIRS, n)], strict=False))
            ok = [(a, b) for a, b in pairs if a.ok and b.ok]
            wall = [a.process_wall_s / b.process_wall_s for a, b in ok]
            cpu = [
                a.process_cpu_s / b.process_cpu_s
                for a, b in ok
                if a.process_cpu_s and b.process_cpu_s
            ]
            row += [median_range(wall, "{:.2f}x"), median_range(cpu, "{:.2f}x")]
            if n == RATIO_TARGET_N and wall and cpu:
                ratios = {"wall": statistics.median(wall), "CPU": statistics.median(cpu)}
        rows.append(row)
    return WholeProcess(rows, ratios)


def lifted_line(
    impls: Sequence[str],
    counts: Sequence[int],
    values: dict[tuple[str, int], float | None],
    unit: str,
) -> str:
    """Full synths where CDK refused a stack: its check lifted (one run, not alternated) for
    the side it refused, the median of the timed runs for a side that synthesized."""
    cells = []
    for n in counts:
        found = [values.get((impl, n)) for impl in impls]
        text = " vs ".join(
            "-" if v is None else f"{v:,.{0 if unit == 'MiB' else 2}f}" for v in found
        )
        text += f" {unit}"
        if len(found) == 2 and found[0] is not None and found[1]:
            text += f" ({found[0] / found[1]:.2f}x)"
        cells.append(f"N={n:,}: {text}")
    who = " vs ".join(impls)
    return f"full synths, CDK's check lifted where it refused ({who}): " + "; ".join(cells)


def brief(outcome: str) -> str:
    """A synth or deploy outcome in a few words, for a table cell."""
    if outcome == "ok":
        return outcome
    if outcome.startswith("would fail at deploy"):
        reasons = [f"> {STACK_RESOURCE_LIMIT} resources"] if "resources" in outcome else []
        reasons += ["> 1 MB"] if "bytes" in outcome else []
        return f"would fail ({', '.join(reasons)})"
    head = outcome.split(" (", 1)[0]
    return head.replace("fails at synth: ", "fails: ").replace("fails at build: ", "fails: ")


def _check_capacity(base: Path, impl: str, fit: int) -> str:
    """Synthesize ``fit`` and ``fit + 1`` consumers with CDK's defaults and say what happened."""
    results = []
    for n in (fit, fit + 1):
        progress(f"{impl} N={n}: checking consumers per stack")
        run = measure(impl, n, base / f"{impl}-{n}-check")
        if run.ok:
            assembly = read_assembly(run.outdir)
            largest = assembly.largest()
            results.append(
                f"N={n} synthesizes ({len(assembly.templates)} template(s), largest "
                f"{largest.count()} resources)"
            )
        else:
            results.append(f"N={n} {run.failure()}")
    return "; ".join(results)


def assumptions(reps: int, large_reps: int) -> list[str]:
    return [
        "each measurement: a fresh `python benchmarks/_fanouts.py IMPL N OUTDIR` process; "
        "synth wall = building the App, stack and constructs + app.synth() writing the "
        "assembly; imports are timed apart",
        f"{reps} repetition(s) for N <= {LARGE_N}, {large_reps} above; ours and theirs "
        "alternate within a repetition, the first one swapping each repetition",
        "peak memory: VmHWM (peak resident set) of the Python process and of its node "
        "descendants (jsii-runtime.js wrapper + jsii kernel), read from /proc by the measured "
        "process after synth; their sum is an upper bound of the combined peak",
        "constructs_lib: FanoutTopic + add_queue_consumer() x N, all defaults (alarms on); "
        "SnsToSqs: one shared topic with its own rotating KMS key, SnsToSqs(existing_topic_obj"
        "=topic) x N, all defaults",
        "both apps: cdk.json context (feature flags) + aws:cdk:version-reporting (the "
        "AWS::CDK::Metadata resource cdk synth adds); env-agnostic stack 'Fanout'",
        f"a stack over {STACK_RESOURCE_LIMIT} resources is CDK's TooManyResourcesInStack at "
        "synth, and a CloudFormation quota at deploy; every template is checked against it",
        "timings on a shared 2-core machine are noisy: compare the ratios, not the seconds",
    ]


def targets(
    impls: Sequence[str],
    counts: Sequence[int],
    runs: dict[tuple[str, int], list[Measurement]],
    pairs: dict[int, list[float]],
    assemblies: dict[tuple[str, int], Assembly],
    costs: dict[str, tuple[float, float, Counter[str]]],
    linear: dict[str, bool | None],
) -> list[str]:
    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "NOT MET")

    lines = []
    if OURS not in impls:
        return ["constructs_lib was not measured"]
    ratio = statistics.median(pairs[RATIO_TARGET_N]) if pairs.get(RATIO_TARGET_N) else None
    ours_50 = assemblies.get((OURS, RATIO_TARGET_N))
    theirs_50 = assemblies.get((THEIRS, RATIO_TARGET_N))
    alarms = (len(ours_50.alarms()), len(theirs_50.alarms())) if ours_50 and theirs_50 else None
    ok = (
        None
        if ratio is None or alarms is None
        else ratio <= RATIO_TARGET and alarms[0] > 0 and alarms[1] == 0
    )
    lines.append(
        f"[{verdict(ok)}] N={RATIO_TARGET_N}: synth wall <= {RATIO_TARGET:.1f}x SnsToSqs while "
        "emitting alarms it does not: "
        + (
            f"{ratio:.2f}x, alarms {alarms[0]} vs {alarms[1]}"
            if ratio is not None and alarms
            else f"needs N={RATIO_TARGET_N} measured for both"
        )
    )
    lines.append(
        f"[{verdict(linear.get(OURS))}] synth cost grows linearly with N (R^2 >= {LINEAR_R2}, "
        f"last interval <= {LINEAR_MARGINAL:g}x the slope; see above)"
    )
    if SYNTHESIZE_TARGET_N in counts:
        last = runs[(OURS, SYNTHESIZE_TARGET_N)][-1]
        assembly = assemblies.get((OURS, SYNTHESIZE_TARGET_N))
        deploys = assembly is not None and not assembly.over_limit()
        lines.append(
            f"[{verdict(last.ok and deploys)}] {SYNTHESIZE_TARGET_N:,} consumers synthesize "
            "(and fit CloudFormation's quota): "
            + (last.failure() or ("ok" if deploys else deploy_verdict(assembly)))  # type: ignore[arg-type]
        )
    else:
        lines.append(f"[not measured] {SYNTHESIZE_TARGET_N:,} consumers synthesize")
    per = costs[OURS][0] if OURS in costs else None
    lines.append(
        f"[{verdict(None if per is None else per <= RESOURCES_PER_CONSUMER_TARGET)}] resources "
        f"per consumer, alarms included, <= {RESOURCES_PER_CONSUMER_TARGET}: "
        + ("-" if per is None else _fmt(per))
    )
    keys = {n: a.kms_keys() for (impl, n), a in assemblies.items() if impl == OURS}
    lines.append(
        f"[{verdict(max(keys.values()) <= KMS_KEYS_TARGET if keys else None)}] at most "
        f"{KMS_KEYS_TARGET} KMS keys per fanout: "
        + ", ".join(f"N={n:,}: {k}" for n, k in sorted(keys.items()))
    )
    return lines


if __name__ == "__main__":
    sys.exit(main())
