"""billing.handler: one invoice per order, however often the order is delivered."""

from __future__ import annotations

import json
import time

import pytest
from sqs_events import POISON_BODIES, an_order, poison_record

from constructs_lib.testing import lambda_event, lambda_record


def failed_ids(response):
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def order_id_of(enveloped_record):
    return json.loads(json.loads(enveloped_record["body"])["Message"])["order_id"]


def invoiced_orders(table):
    return sorted(item["order_id"] for item in table.items("INVOICE#"))


@pytest.mark.parametrize("delivery", ["raw", "envelope"])
def test_issues_an_invoice_for_an_order_however_it_is_delivered(
    billing, fanout, context, table, delivery
):
    # GIVEN an order received from a queue, raw or in its SNS envelope
    fanout.publish(an_order("o-1"))
    records = fanout.receive(delivery)

    # WHEN billing handles the batch
    response = billing.handler(lambda_event(records), context)

    # THEN no record fails and the order is invoiced for its total, in its currency
    assert response == {"batchItemFailures": []}
    [invoice] = table.items("INVOICE#")
    assert invoice["pk"] == "ORDER#o-1"
    assert invoice["sk"] == f"INVOICE#{invoice['invoice_id']}"
    assert (invoice["amount"], invoice["currency"], invoice["customer_id"]) == (
        "39.98",
        "EUR",
        "c-9",
    )


def test_reports_exactly_the_poison_records_as_batch_item_failures(billing, fanout, context, table):
    # GIVEN a batch of two valid orders and one record of each kind of poison
    fanout.publish(an_order("o-1"))
    fanout.publish(an_order("o-2"))
    valid = fanout.receive("raw")
    queue_arn = fanout.queues["raw"].arn
    poison = [poison_record(body, queue_arn, fanout.region) for body in POISON_BODIES.values()]

    # WHEN billing handles the batch
    response = billing.handler(lambda_event([poison[0], *valid, *poison[1:]]), context)

    # THEN exactly the poison records come back, and both valid orders are invoiced
    assert sorted(failed_ids(response)) == sorted(record["messageId"] for record in poison)
    assert not {record["messageId"] for record in valid} & set(failed_ids(response))
    assert invoiced_orders(table) == ["o-1", "o-2"]


def test_poison_record_is_logged_once_with_why_and_that_it_will_be_dead_lettered(
    billing, fanout, context, output
):
    # GIVEN a record, received for the third time, whose total is not the sum of its lines
    record = poison_record(
        POISON_BODIES["total mismatch"],
        fanout.queues["raw"].arn,
        fanout.region,
        receive_count=3,
    )

    # WHEN billing handles it
    billing.handler(lambda_event([record]), context)

    # THEN one error line says why, which message, how often received, and what happens next
    [error] = output().at("ERROR")
    assert "total 40.00 does not equal the sum" in error["message"]
    assert "dead-letter queue" in error["message"]
    assert "maxReceiveCount" in error["message"]
    assert error["reason"].startswith("total 40.00 does not equal")
    assert error["message_id"] == record["messageId"]
    assert error["approximate_receive_count"] == 3


def test_duplicate_in_the_same_batch_issues_one_invoice(billing, fanout, context, table):
    # GIVEN the same order published twice, both copies in one batch
    fanout.publish(an_order("o-1"))
    fanout.publish(an_order("o-1"))
    records = fanout.receive("envelope")
    assert len(records) == 2

    # WHEN billing handles the batch
    response = billing.handler(lambda_event(records), context)

    # THEN both records succeed and one invoice exists
    assert response == {"batchItemFailures": []}
    assert invoiced_orders(table) == ["o-1"]


def test_redelivery_in_a_later_batch_issues_no_second_invoice(billing, fanout, context, table):
    # GIVEN an order already invoiced, whose message SQS delivers again
    fanout.publish(an_order("o-1"))
    first = fanout.receive("raw")
    billing.handler(lambda_event(first), context)
    fanout.make_visible_again("raw", first)
    again = fanout.receive("raw")
    assert [r["messageId"] for r in again] == [r["messageId"] for r in first]
    assert again[0]["attributes"]["ApproximateReceiveCount"] == "2"

    # WHEN billing handles the later batch
    response = billing.handler(lambda_event(again), context)

    # THEN the record succeeds and there is still one invoice
    assert response == {"batchItemFailures": []}
    assert invoiced_orders(table) == ["o-1"]


def test_idempotency_lock_expires_with_the_invocation(billing, fanout, context, account):
    # GIVEN an invocation with 90 seconds left
    context.remaining_time_in_millis = 90_000
    fanout.publish(an_order("o-1"))

    # WHEN billing handles the batch
    started_ms = time.time() * 1000
    billing.handler(lambda_event(fanout.receive("raw")), context)

    # THEN the order's idempotency record would have stopped blocking retries 90 s later,
    # had the invocation died mid-way (the handler registered the Lambda context)
    [record] = account.dynamodb.scan(TableName="idempotency")["Items"]
    lock_expiry_ms = int(record["in_progress_expiration"]["N"])
    assert started_ms + 89_000 < lock_expiry_ms < time.time() * 1000 + 91_000


def test_duplicate_is_counted_as_skipped_not_as_a_new_invoice(billing, fanout, context, output):
    # GIVEN the same order delivered twice in one batch
    fanout.publish(an_order("o-1"))
    fanout.publish(an_order("o-1"))

    # WHEN billing handles the batch
    billing.handler(lambda_event(fanout.receive("raw")), context)

    # THEN the metrics show one invoice issued and one duplicate skipped
    emitted = output()
    assert emitted.metric("InvoicesIssued") == 1
    assert emitted.metric("DuplicateOrdersSkipped") == 1


def crash_invoicing_of(order_id, error, *, billing, monkeypatch):
    """Makes ``issue_invoice`` raise ``error`` for that order alone."""
    issue_invoice = billing.issue_invoice

    def crash(*, order):
        if order.order_id == order_id:
            raise error
        return issue_invoice(order=order)

    monkeypatch.setattr(billing, "issue_invoice", crash)


def test_unexpected_error_fails_only_that_record(billing, fanout, context, table, monkeypatch):
    # GIVEN invoicing crashes for order o-2 alone
    crash = RuntimeError("payment provider unreachable")
    crash_invoicing_of("o-2", crash, billing=billing, monkeypatch=monkeypatch)
    for order_id in ("o-1", "o-2", "o-3"):
        fanout.publish(an_order(order_id))
    records = fanout.receive("raw")
    crashed = next(r["messageId"] for r in records if '"o-2"' in r["body"])

    # WHEN billing handles the batch
    response = billing.handler(lambda_event(records), context)

    # THEN only o-2's record fails; the others are invoiced
    assert failed_ids(response) == [crashed]
    assert invoiced_orders(table) == ["o-1", "o-3"]


def test_unexpected_error_is_logged_with_its_traceback(
    billing, fanout, context, output, monkeypatch
):
    # GIVEN the orders table rejects every write
    def unavailable(item):
        raise RuntimeError("orders table unavailable")

    monkeypatch.setattr(billing.orders_table, "put", unavailable)
    fanout.publish(an_order("o-1"))
    [record] = fanout.receive("raw")

    # WHEN billing handles the record
    billing.handler(lambda_event([record]), context)

    # THEN one error line names the record, says it will be retried, and has the traceback
    [error] = output().at("ERROR")
    assert error["message_id"] == record["messageId"]
    assert error["order_id"] == "o-1"
    assert error["outcome"] == "retried"
    assert "RuntimeError: orders table unavailable" in error["exception"]


def test_order_whose_invoicing_failed_is_invoiced_when_retried(
    billing, fanout, context, table, monkeypatch
):
    # GIVEN a first delivery whose invoice write failed
    put = billing.orders_table.put

    def fail_once(item):
        monkeypatch.setattr(billing.orders_table, "put", put)
        raise RuntimeError("throttled")

    monkeypatch.setattr(billing.orders_table, "put", fail_once)
    fanout.publish(an_order("o-1"))
    first = fanout.receive("raw")
    assert failed_ids(billing.handler(lambda_event(first), context)) == [first[0]["messageId"]]

    # WHEN SQS delivers the message again
    fanout.make_visible_again("raw", first)
    response = billing.handler(lambda_event(fanout.receive("raw")), context)

    # THEN the retry issues the invoice: a failure is not remembered as done
    assert response == {"batchItemFailures": []}
    assert invoiced_orders(table) == ["o-1"]


def test_order_id_reused_with_different_content_fails_instead_of_replaying(
    billing, fanout, context, table
):
    # GIVEN order o-1 invoiced, then a different order published under the same id
    fanout.publish(an_order("o-1"))
    billing.handler(lambda_event(fanout.receive("raw")), context)
    fanout.publish(an_order("o-1", customer_id="c-other"))
    [conflicting] = fanout.receive("raw")

    # WHEN billing handles it
    response = billing.handler(lambda_event([conflicting]), context)

    # THEN the record fails rather than pass for the first order, and one invoice exists
    assert failed_ids(response) == [conflicting["messageId"]]
    assert invoiced_orders(table) == ["o-1"]


def test_batch_in_which_every_record_fails_reports_each_record(billing, fanout, context):
    # GIVEN a batch of poison records only
    queue_arn = fanout.queues["envelope"].arn
    poison = [poison_record(body, queue_arn, fanout.region) for body in POISON_BODIES.values()]

    # WHEN billing handles the batch
    response = billing.handler(lambda_event(poison), context)

    # THEN the handler returns every record as a batch item failure (it does not raise)
    assert sorted(failed_ids(response)) == sorted(record["messageId"] for record in poison)


def test_every_record_is_either_processed_or_reported(
    billing, fanout, context, table, output, monkeypatch
):
    # GIVEN a full batch: valid orders, a duplicate, poison records, and a crashing order
    crash_invoicing_of("o-4", RuntimeError("boom"), billing=billing, monkeypatch=monkeypatch)
    for order_id in ("o-1", "o-2", "o-2", "o-3", "o-4", "o-5"):
        fanout.publish(an_order(order_id))
    queue_arn = fanout.queues["envelope"].arn
    records = [
        *fanout.receive("envelope"),
        *(poison_record(body, queue_arn, fanout.region) for body in POISON_BODIES.values()),
    ]
    assert len(records) == 10

    # WHEN billing handles the batch
    response = billing.handler(lambda_event(records), context)

    # THEN each record either failed and was logged as an error, or its order is invoiced
    failed = set(failed_ids(response))
    logged = {log["message_id"] for log in output().at("ERROR")}
    invoiced = set(invoiced_orders(table))
    succeeded = [record for record in records if record["messageId"] not in failed]
    assert failed == logged
    assert len(failed) == 5
    assert {order_id_of(record) for record in succeeded} == invoiced == {"o-1", "o-2", "o-3", "o-5"}
    assert len(succeeded) + len(failed) == len(records)


def test_poison_message_reaches_the_dead_letter_queue_after_max_receive_count(
    billing, account, context, table
):
    """What the Lambda poller does, step by step, against a real (emulated) redrive policy."""
    # GIVEN a queue that dead-letters after 3 receives, holding one valid and one bad order
    sqs = account.sqs
    dlq_url = sqs.create_queue(QueueName="billing-dlq-e2e")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="billing-e2e",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bad_body = json.dumps(an_order("o-bad", total="1.00"))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(an_order("o-good")))
    sqs.send_message(QueueUrl=url, MessageBody=bad_body)

    # WHEN the poller receives, invokes billing, deletes what succeeded and lets the reported
    # failures become visible again, until the queue is empty
    for _ in range(10):
        messages = sqs.receive_message(
            QueueUrl=url, AttributeNames=["All"], MaxNumberOfMessages=10
        ).get("Messages", [])
        if not messages:
            break
        records = [lambda_record(m, arn, "eu-west-1") for m in messages]
        failed = set(failed_ids(billing.handler(lambda_event(records), context)))
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    # THEN the good order was invoiced once and the bad one sits in the DLQ, body intact
    assert invoiced_orders(table) == ["o-good"]
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == [bad_body]
