"""Delivery feedback on moto: dead endpoints retired, live ones kept, bad records reported.

Events are published to an SNS topic as a platform application would, received from the SQS
queue subscribed to it (SNS envelope) and handed to the handler as Lambda would.
"""

from __future__ import annotations

import json

import pytest
from sqs_events import poison_record


def failed_ids(response) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


@pytest.mark.parametrize("failure_type", ["EndpointDisabled", "InvalidPlatformToken"])
def test_delivery_failure_retires_the_disabled_endpoint(push, events, run, failure_type):
    dead = push.device(segments=["news"])
    push.disable(dead)
    events.publish(events.delivery_failure(dead, failure_type))

    response = run(events.receive())

    assert failed_ids(response) == []
    assert not push.exists(dead)
    assert push.subscriptions(dead) == []


def test_only_the_dead_endpoints_of_a_batch_are_retired(push, events, run):
    disabled, invalid, live, unrelated = (push.device(segments=["news"]) for _ in range(4))
    push.disable(disabled)
    push.disable(invalid)
    events.publish(events.delivery_failure(disabled, "EndpointDisabled"))
    events.publish(events.delivery_failure(invalid, "InvalidPlatformToken"))
    events.publish(events.delivery_failure(live, "PushNotificationServiceUnavailable"))

    response = run(events.receive())

    assert failed_ids(response) == []
    for dead in (disabled, invalid):
        assert not push.exists(dead)
        assert push.subscriptions(dead) == []
    for kept in (live, unrelated):
        assert push.exists(kept)
        assert sorted(push.subscriptions(kept)) == sorted(
            [push.broadcast_topic_arn, push.segment_topics["news"]]
        )


def test_endpoint_updated_to_disabled_is_retired(push, events, run):
    endpoint = push.device()
    push.disable(endpoint)
    events.publish(events.endpoint_event("EndpointUpdated", endpoint))

    response = run(events.receive())

    assert failed_ids(response) == []
    assert not push.exists(endpoint)
    assert push.subscriptions(endpoint) == []


def test_endpoint_updated_and_still_enabled_is_kept(push, events, run):
    endpoint = push.device()
    events.publish(events.endpoint_event("EndpointUpdated", endpoint))

    response = run(events.receive())

    assert failed_ids(response) == []
    assert push.exists(endpoint)
    assert push.subscriptions(endpoint) == [push.broadcast_topic_arn]


def test_failure_for_an_endpoint_enabled_again_since_keeps_it(push, events, run):
    # SNS disabled the endpoint, then the device registered a fresh token before the event
    # was processed.
    endpoint = push.device()
    events.publish(events.delivery_failure(endpoint, "InvalidPlatformToken"))

    response = run(events.receive())

    assert failed_ids(response) == []
    assert push.exists(endpoint)
    assert push.subscriptions(endpoint) == [push.broadcast_topic_arn]


def test_already_deleted_endpoint_is_a_success_and_its_subscriptions_go(push, events, run):
    endpoint = push.device(segments=["news"])
    push.sns.delete_endpoint(EndpointArn=endpoint)
    events.publish(events.delivery_failure(endpoint, "EndpointDisabled"))

    response = run(events.receive())

    assert failed_ids(response) == []
    assert push.subscriptions(endpoint) == []


def test_same_failure_delivered_twice_is_a_success_both_times(push, events, run):
    endpoint = push.device()
    push.disable(endpoint)
    events.publish(events.delivery_failure(endpoint, "EndpointDisabled"))
    records = events.receive()

    assert failed_ids(run(records)) == []
    assert failed_ids(run(records)) == []
    assert not push.exists(endpoint)


def test_dead_endpoint_is_found_among_more_than_a_page_of_subscriptions(push, events, run):
    crowd = [push.device() for _ in range(120)]
    dead = push.device()
    push.disable(dead)
    events.publish(events.delivery_failure(dead, "EndpointDisabled"))

    response = run(events.receive())

    assert failed_ids(response) == []
    assert push.subscriptions(dead) == []
    assert all(push.exists(endpoint) for endpoint in crowd[::20])


@pytest.mark.parametrize("event_type", ["EndpointCreated", "EndpointDeleted", "SomethingNew"])
def test_other_events_are_acknowledged_and_change_nothing(push, events, run, event_type):
    endpoint = push.device()
    events.publish(events.endpoint_event(event_type, endpoint))

    response = run(events.receive())

    assert failed_ids(response) == []
    assert push.exists(endpoint)
    assert push.subscriptions(endpoint) == [push.broadcast_topic_arn]


MALFORMED = {
    "not JSON": ("device gone", "the body is not JSON"),
    "raw delivery": (
        json.dumps({"EventType": "DeliveryFailure"}),
        "the body is not an SNS envelope",
    ),
    "Message not JSON": (
        json.dumps({"Type": "Notification", "Message": "endpoint disabled"}),
        "the SNS Message is not JSON",
    ),
    "Message without EventType": (
        json.dumps({"Type": "Notification", "Message": json.dumps({"EndpointArn": "arn:x"})}),
        "no EventType",
    ),
    "failure without EndpointArn": (
        json.dumps(
            {
                "Type": "Notification",
                "Message": json.dumps(
                    {"EventType": "DeliveryFailure", "FailureType": "EndpointDisabled"}
                ),
            }
        ),
        "the DeliveryFailure event names no EndpointArn",
    ),
}


@pytest.mark.parametrize(("body", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_record_is_reported_failed_with_why(push, events, run, logs, body, reason):
    dead = push.device()
    push.disable(dead)
    events.publish(events.delivery_failure(dead, "EndpointDisabled"))
    malformed = poison_record(body, events.queue_arn, events.region)
    logs()

    response = run([*events.receive(), malformed])

    assert failed_ids(response) == [malformed["messageId"]]
    assert not push.exists(dead)
    errors = [line for line in logs() if line["level"] == "ERROR"]
    malformed_lines = [line for line in errors if line["message"] == "Record is malformed"]
    assert len(malformed_lines) == 1
    assert reason in malformed_lines[0]["reason"]
    assert errors[0]["message_id"] == malformed["messageId"]


def test_settings_name_every_missing_or_invalid_variable(feedback):
    with pytest.raises(feedback.ConfigurationError) as raised:
        feedback.Settings.from_environ({"SEGMENT_TOPICS": "[1]", "LOG_LEVEL": "loud"})

    message = str(raised.value)
    assert "BROADCAST_TOPIC_ARN is not set" in message
    assert "SEGMENT_TOPICS must be a JSON object of ARNs" in message
    assert "LOG_LEVEL is 'loud'" in message
