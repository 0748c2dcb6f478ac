"""consumer: the settings every order consumer reads, and what the handler modules import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STACK_ENVIRONMENT = {
    "ORDERS_TABLE_NAME": "orders",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "POWERTOOLS_SERVICE_NAME": "billing",
    "POWERTOOLS_METRICS_NAMESPACE": "Orders",
}


def test_reads_the_settings_the_stack_sets(consumer):
    settings = consumer.Settings.from_environ({**STACK_ENVIRONMENT, "LOG_LEVEL": "debug"})

    assert settings == consumer.Settings(
        orders_table_name="orders",
        idempotency_table_name="idempotency",
        service_name="billing",
        metrics_namespace="Orders",
        log_level="DEBUG",
    )


def test_logs_at_info_unless_told_otherwise(consumer):
    assert consumer.Settings.from_environ(STACK_ENVIRONMENT).log_level == "INFO"


def test_names_every_missing_variable_at_once(consumer):
    environ = {"POWERTOOLS_SERVICE_NAME": "billing", "ORDERS_TABLE_NAME": ""}

    with pytest.raises(
        consumer.ConfigurationError,
        match=r"^the order consumer cannot start: ORDERS_TABLE_NAME is not set; "
        r"IDEMPOTENCY_TABLE_NAME is not set; POWERTOOLS_METRICS_NAMESPACE is not set$",
    ):
        consumer.Settings.from_environ(environ)


def test_rejects_a_log_level_logging_does_not_know(consumer):
    with pytest.raises(
        consumer.ConfigurationError,
        match=r"LOG_LEVEL is 'verbose'; expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    ):
        consumer.Settings.from_environ({**STACK_ENVIRONMENT, "LOG_LEVEL": "verbose"})


def test_handler_modules_import_neither_pydantic_nor_the_xray_sdk():
    # GIVEN a fresh interpreter in the asset folder, with the stack's environment
    source = Path(__file__).resolve().parents[3] / "lambda_src" / "order_consumers"
    environment = {
        **os.environ,
        **STACK_ENVIRONMENT,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    code = (
        "import sys, billing, shipping, inventory; "
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'pydantic', 'aws_xray_sdk'}))"
    )

    # WHEN the three handler modules are imported, as Lambda would on a cold start
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=source, env=environment, capture_output=True, text=True
    )

    # THEN neither pydantic (not in the Powertools layer) nor the X-Ray SDK was loaded
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
