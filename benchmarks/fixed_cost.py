"""Fixed monthly cost of a fanout's resources at list prices: constructs_lib against SnsToSqs.

Run from the repository root, with no AWS account and no network:

    .venv/bin/python benchmarks/fixed_cost.py [--counts 10,50,1000]

For each N, takes the cloud assembly of each fanout (``_fanouts.py`` says what is built):
the one ``synth_scale.py`` left in ``cdk.out/benchmarks`` if it was written by the current
code and versions, otherwise a fresh synth (in a subprocess, CDK's 500-resource check lifted
so that a fanout too big for one stack is still counted). From every template it counts what
is billed by the month whether or not a message flows: KMS customer-managed keys, CloudWatch
alarms by their billed metrics (standard and high resolution, metric math, anomaly bands,
composite alarms; a Metrics Insights query alarm by the queues or topics its query matches in
the templates), and dashboards; and prices them with the constants below.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shlex
import sys
import time
from collections.abc import Sequence

from _fanouts import (
    IMPLEMENTATIONS,
    OURS,
    THEIRS,
    Assembly,
    add_assemblies_option,
    complete_assembly,
    counts_parser,
    machine_load,
    missing,
    table,
    versions,
)

# List prices, us-east-1, per month; read 2026-12-01 on the AWS pricing pages named.
PRICES_DATE = "2026-12-01"
KMS_KEY = 1.00
"""aws.amazon.com/kms/pricing: each customer managed key, $1/month (prorated hourly)."""
KMS_ROTATION = 1.00
"""Same page: with automatic rotation each new backing key adds $1/month, and since April 2024
(AWS Security Blog) the price stops rising after the second rotation: a yearly-rotated key
costs $1, then $2, then $3 a month from its third year on."""
ALARM_METRIC = 0.10
"""aws.amazon.com/cloudwatch/pricing, Alarms: standard resolution (60 s), per alarm metric;
a metric math alarm pays for each metric in it, an anomaly detection alarm for three."""
ALARM_METRIC_HIGH_RESOLUTION = 0.30
"""Same page: high resolution (10 s or 30 s period), per alarm metric."""
COMPOSITE_ALARM = 0.50
"""Same page: per composite alarm."""
INSIGHTS_METRIC_ANALYZED = 0.10
"""Same page: Metrics Insights query alarms, per metric the query analyzes (no free tier;
the free 10 alarm metrics cover only standard alarms that list their metrics)."""
DASHBOARD = 3.00
"""Same page: per dashboard (the first 3 of an account are free, up to 50 metrics each)."""
KMS_FREE_REQUESTS = 20_000
KMS_REQUESTS_PER_10K = 0.03

DEFAULT_COUNTS = (10, 50, 1000)


@dataclasses.dataclass(frozen=True)
class Bill:
    """The fixed monthly items of one assembly, counted from its templates."""

    kms_keys: int
    rotating_keys: int
    standard_metrics: int
    high_resolution_metrics: int
    composite_alarms: int
    insights_alarms: int
    insights_metrics: int
    insights_exact: bool
    dashboards: int

    @classmethod
    def of(cls, assembly: Assembly) -> Bill:
        alarms = assembly.alarms()
        insights = [a for a in alarms if a.kind == "insights"]
        return cls(
            kms_keys=assembly.kms_keys(),
            rotating_keys=assembly.rotating_kms_keys(),
            standard_metrics=sum(a.metrics for a in alarms if a.kind == "standard"),
            high_resolution_metrics=sum(a.metrics for a in alarms if a.kind == "high-resolution"),
            composite_alarms=sum(1 for a in alarms if a.kind == "composite"),
            insights_alarms=len(insights),
            insights_metrics=sum(a.metrics for a in insights),
            insights_exact=all(a.exact for a in insights),
            dashboards=assembly.dashboards(),
        )

    def items(self) -> list[tuple[str, int, float]]:
        """(what, how many, unit price) for every non-zero line."""
        lines = [
            ("KMS keys", self.kms_keys, KMS_KEY),
            ("standard alarm metrics", self.standard_metrics, ALARM_METRIC),
            (
                "high-resolution alarm metrics",
                self.high_resolution_metrics,
                ALARM_METRIC_HIGH_RESOLUTION,
            ),
            ("composite alarms", self.composite_alarms, COMPOSITE_ALARM),
            (
                f"metrics analyzed by {self.insights_alarms} Metrics Insights alarm(s)"
                + ("" if self.insights_exact else " (upper bound)"),
                self.insights_metrics,
                INSIGHTS_METRIC_ANALYZED,
            ),
            ("dashboards", self.dashboards, DASHBOARD),
        ]
        return [line for line in lines if line[1]]

    def total(self) -> float:
        return sum(count * price for _, count, price in self.items())

    def kms_after_rotations(self) -> float:
        """The KMS line once every rotating key has been rotated twice."""
        return self.kms_keys * KMS_KEY + self.rotating_keys * 2 * KMS_ROTATION


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--counts", type=counts_parser("10,50,1000"), default=list(DEFAULT_COUNTS))
    add_assemblies_option(parser, "cloud assemblies to reuse (synth_scale.py writes them)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    skipped = {impl: reason for impl in IMPLEMENTATIONS if (reason := missing(impl))}
    impls = [impl for impl in IMPLEMENTATIONS if impl not in skipped]
    bills: dict[tuple[str, int], Bill] = {}
    outcomes: dict[tuple[str, int], tuple[str, str, bool]] = {}
    for n in args.counts:
        for impl in impls:
            print(f"{impl} N={n}: reading its assembly", file=sys.stderr, flush=True)
            complete = complete_assembly(args.assemblies, impl, n)
            bills[(impl, n)] = Bill.of(complete.assembly)
            problems = complete.assembly.deploy_problems()
            deploy = "ok" if not problems else f"cannot deploy ({'; '.join(problems)})"
            outcomes[(impl, n)] = (complete.default_synth, deploy, complete.reused)

    print("Fixed monthly cost of a fanout's resources, at list prices")
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(
        f"date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; {machine_load()}; "
        + ", ".join(f"{name} {version}" for name, version in versions().items())
    )
    for impl, reason in skipped.items():
        print(f"SKIPPED {impl}: {reason}")
    print()
    print(f"Prices (us-east-1 list prices per month, read {PRICES_DATE}):")
    for line in price_notes():
        print(f"  - {line}")
    print()
    rows = [
        [
            "N",
            "fanout",
            "KMS keys",
            "alarm metrics",
            "MI alarms (metrics)",
            "dashboards",
            "$/month",
            "$/consumer",
            "deploys",
        ]
    ]
    for n in args.counts:
        for impl in impls:
            bill = bills[(impl, n)]
            rows.append(
                [
                    f"{n:,}",
                    impl,
                    f"{bill.kms_keys:,}",
                    f"{bill.standard_metrics + bill.high_resolution_metrics:,}",
                    f"{bill.insights_alarms} ({bill.insights_metrics:,}"
                    + ("" if bill.insights_exact else " max")
                    + ")",
                    f"{bill.dashboards}",
                    f"{bill.total():,.2f}",
                    f"{bill.total() / n:.3f}",
                    "yes" if outcomes[(impl, n)][1] == "ok" else "NO",
                ]
            )
        if len(impls) == 2:
            ours, theirs = bills[(OURS, n)].total(), bills[(THEIRS, n)].total()
            rows.append(
                [
                    "",
                    f"{OURS} / {THEIRS}",
                    "",
                    "",
                    "",
                    "",
                    f"{ours / theirs:.2f}x" if theirs else "-",
                    "",
                    "",
                ]
            )
    print("\n".join(table(rows)))
    print()
    print("How each total is made:")
    for n in args.counts:
        for impl in impls:
            bill = bills[(impl, n)]
            parts = " + ".join(
                f"{count:,} {what} x ${price:.2f}" for what, count, price in bill.items()
            )
            print(f"  N={n:,} {impl}: ${bill.total():,.2f} = {parts or 'nothing'}")
            synth, deploy, reused = outcomes[(impl, n)]
            source = "assembly reused from synth_scale.py" if reused else "synthesized here"
            print(f"    synth with CDK defaults: {synth}; deploy: {deploy}; {source}")
            if bill.rotating_keys:
                print(
                    f"    KMS line after two yearly rotations of its {bill.rotating_keys:,} "
                    f"rotating key(s): ${bill.kms_after_rotations():,.2f} instead of "
                    f"${bill.kms_keys * KMS_KEY:,.2f}"
                )
    print()
    print("Not in these figures:")
    for line in exclusions():
        print(f"  - {line}")
    print(f"total run time {time.perf_counter() - started:.0f} s")
    return 0


def price_notes() -> list[str]:
    return [
        f"KMS customer managed key ${KMS_KEY:.2f} (aws.amazon.com/kms/pricing), priced in its "
        f"first year; each of its first two rotations adds ${KMS_ROTATION:.2f}",
        f"CloudWatch standard-resolution alarm ${ALARM_METRIC:.2f} per alarm metric, "
        f"high-resolution ${ALARM_METRIC_HIGH_RESOLUTION:.2f}, composite "
        f"${COMPOSITE_ALARM:.2f} per alarm (aws.amazon.com/cloudwatch/pricing)",
        f"CloudWatch Metrics Insights query alarm ${INSIGHTS_METRIC_ANALYZED:.2f} per metric "
        "analyzed by the query (same page); counted here as one metric per queue (AWS/SQS) or "
        "topic (AWS/SNS) in the templates that the query's WHERE clause matches",
        f"CloudWatch dashboard ${DASHBOARD:.2f} each (same page)",
        "free tiers ignored (they are per account and shared with everything else in it): the "
        "10 standard alarm metrics and the 3 dashboards CloudWatch gives each account; KMS "
        "has no free keys",
    ]


def exclusions() -> list[str]:
    return [
        "usage, which depends on traffic, not on the fanout's shape: KMS requests "
        f"(${KMS_REQUESTS_PER_10K:.2f} per 10,000 beyond {KMS_FREE_REQUESTS:,} a month; SNS "
        "and SQS call GenerateDataKey/Decrypt as messages flow), SNS publishes and "
        "deliveries, SQS requests, CloudWatch API calls",
        "SNS topics, SQS queues, subscriptions and queue policies: no monthly charge",
        "the metrics themselves: SQS and SNS publish theirs to CloudWatch at no charge",
        "a Metrics Insights alarm's count assumes every matching queue reports the metric; "
        "a queue CloudWatch deems inactive (no messages and no calls for six hours) reports "
        "no metrics, and so costs a Metrics Insights alarm nothing while idle",
    ]


if __name__ == "__main__":
    sys.exit(main())
