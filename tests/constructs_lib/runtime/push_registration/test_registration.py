"""Device registration on moto: endpoints created, refreshed and subscribed; bad input refused."""

from __future__ import annotations

import json

import pytest
from helpers import refusing_client


def test_new_token_gets_an_endpoint_subscribed_to_broadcast_and_segments(register, push, token):
    response = register({"platform": "fcm", "token": token, "segments": ["news"]})

    assert response.status == 200
    assert response.headers == {"content-type": "application/json"}
    endpoint_arn = response.body["endpoint_arn"]
    assert endpoint_arn in push.endpoints("fcm")
    assert push.endpoint_attributes(endpoint_arn)["Token"] == token
    assert sorted(push.subscriptions(endpoint_arn)) == sorted(
        [push.broadcast_topic_arn, push.segment_topics["news"]]
    )
    assert [s["topic_arn"] for s in response.body["subscriptions"]] == [
        push.broadcast_topic_arn,
        push.segment_topics["news"],
    ]


def test_same_token_twice_keeps_one_endpoint_and_one_subscription_each(register, push, token):
    first = register({"platform": "apns", "token": token, "user_id": "u-1", "segments": ["news"]})
    second = register({"platform": "apns", "token": token, "user_id": "u-1", "segments": ["news"]})

    assert first.status == second.status == 200
    assert second.body == first.body
    endpoint_arn = first.body["endpoint_arn"]
    matching = [
        arn for arn in push.endpoints("apns") if push.endpoint_attributes(arn)["Token"] == token
    ]
    assert matching == [endpoint_arn]
    assert sorted(push.subscriptions(endpoint_arn)) == sorted(
        [push.broadcast_topic_arn, push.segment_topics["news"]]
    )


def test_changed_token_updates_the_stored_endpoint(register, push, token):
    endpoint_arn = register({"platform": "fcm", "token": token}).body["endpoint_arn"]

    response = register({"platform": "fcm", "token": f"{token}-new", "endpoint_arn": endpoint_arn})

    assert response.status == 200
    assert response.body["endpoint_arn"] == endpoint_arn
    assert push.endpoint_attributes(endpoint_arn)["Token"] == f"{token}-new"


def test_disabled_endpoint_is_enabled_again_when_the_device_registers(register, push, token):
    endpoint_arn = register({"platform": "fcm", "token": token}).body["endpoint_arn"]
    push.sns.set_endpoint_attributes(EndpointArn=endpoint_arn, Attributes={"Enabled": "false"})

    response = register({"platform": "fcm", "token": token, "endpoint_arn": endpoint_arn})

    assert response.status == 200
    assert response.body["endpoint_arn"] == endpoint_arn
    assert push.endpoint_attributes(endpoint_arn)["Enabled"] == "true"


def test_stored_endpoint_that_no_longer_exists_is_created_again(register, push, token):
    old_arn = register({"platform": "fcm", "token": token}).body["endpoint_arn"]
    push.sns.delete_endpoint(EndpointArn=old_arn)

    response = register({"platform": "fcm", "token": token, "endpoint_arn": old_arn})

    assert response.status == 200
    new_arn = response.body["endpoint_arn"]
    assert new_arn != old_arn
    assert push.endpoint_attributes(new_arn)["Token"] == token
    assert push.broadcast_topic_arn in push.subscriptions(new_arn)


def test_known_token_with_other_attributes_updates_the_existing_endpoint(register, push, token):
    endpoint_arn = register({"platform": "fcm", "token": token, "user_id": "u-1"}).body[
        "endpoint_arn"
    ]

    # No endpoint_arn: the app lost it. SNS refuses a second endpoint for the token and names
    # the existing one.
    response = register({"platform": "fcm", "token": token, "user_id": "u-2"})

    assert response.status == 200
    assert response.body["endpoint_arn"] == endpoint_arn
    assert push.endpoint_attributes(endpoint_arn)["CustomUserData"] == "u-2"


def test_base64_encoded_body_is_accepted(register, push, token):
    response = register({"platform": "apns", "token": token}, encode_base64=True)

    assert response.status == 200
    assert response.body["endpoint_arn"] in push.endpoints("apns")


def test_method_other_than_post_is_refused_with_405(register):
    response = register({"platform": "fcm", "token": "t"}, method="GET")

    assert response.status == 405
    assert response.headers["allow"] == "POST"
    assert "method GET is not allowed; use POST" in response.body["message"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param("{not json", "the body is not JSON", id="not JSON"),
        pytest.param("", "the request has no body", id="no body"),
        pytest.param('["fcm", "t"]', "the body must be a JSON object", id="not an object"),
        pytest.param(
            {"platform": "wns", "token": "t"},
            "platform is 'wns'; expected one of apns, fcm",
            id="unknown platform",
        ),
        pytest.param(
            {"platform": "apns_sandbox", "token": "t"},
            "platform is 'apns_sandbox'; expected one of apns, fcm",
            id="platform not configured",
        ),
        pytest.param({"token": "t"}, "platform is None", id="no platform"),
        pytest.param({"platform": "fcm", "token": ""}, "token must be a non-empty", id="empty"),
        pytest.param({"platform": "fcm", "token": "  "}, "token must be a non-empty", id="blank"),
        pytest.param({"platform": "fcm"}, "token must be a non-empty string", id="no token"),
        pytest.param({"platform": "fcm", "token": 42}, "token must be a non-empty", id="int"),
        pytest.param(
            {"platform": "fcm", "token": "x" * 4097},
            "token is 4097 characters; at most 4096 allowed",
            id="oversized token",
        ),
        pytest.param(
            {"platform": "fcm", "token": "t", "user_id": 7},
            "user_id must be a string, got int",
            id="non-string user_id",
        ),
        pytest.param(
            {"platform": "fcm", "token": "t", "user_id": "u" * 257},
            "user_id is 257 characters; at most 256 allowed",
            id="oversized user_id",
        ),
        pytest.param(
            {"platform": "fcm", "token": "t", "segments": ["news", "sports"]},
            "unknown segments sports; known: news, offers",
            id="unknown segment",
        ),
        pytest.param(
            {"platform": "fcm", "token": "t", "segments": "news"},
            "segments must be a list of strings",
            id="segments not a list",
        ),
        pytest.param(
            {"platform": "fcm", "token": "t", "device": "pixel"},
            "unknown fields device",
            id="unknown field",
        ),
        pytest.param(
            {
                "platform": "fcm",
                "token": "t",
                "endpoint_arn": "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app-apns/1",
            },
            "is not an endpoint of the fcm platform application",
            id="endpoint of another application",
        ),
    ],
)
def test_invalid_request_is_refused_with_400_naming_the_problem(register, push, body, problem):
    endpoints_before = push.endpoints("fcm")

    response = register(body, raw=isinstance(body, str))

    assert response.status == 400
    assert problem in response.body["message"]
    assert push.endpoints("fcm") == endpoints_before


def test_deeply_nested_body_is_refused_with_400_not_a_crash(register, push):
    endpoints_before = push.endpoints("fcm")
    nested = "[" * 100_000 + "]" * 100_000

    response = register(nested, raw=True)

    assert response.status == 400
    assert "nested too deeply" in response.body["message"]
    assert push.endpoints("fcm") == endpoints_before


def test_every_problem_of_a_request_is_named_at_once(register):
    response = register({"platform": "wns", "token": "", "user_id": 7})

    assert response.status == 400
    assert len(response.body["problems"]) == 3


def test_sns_error_is_answered_with_502_and_its_code(register, registration, monkeypatch, token):
    throttled = refusing_client("create_platform_endpoint", "Throttling", "Rate exceeded")
    monkeypatch.setattr(registration, "sns_client", throttled)

    response = register({"platform": "fcm", "token": token})

    assert response.status == 502
    assert response.body["error_code"] == "Throttling"


def test_settings_name_every_missing_or_invalid_variable(registration):
    environ = {"PLATFORM_APPLICATIONS": json.dumps({"wns": "arn:x"}), "SEGMENT_TOPICS": "{"}

    with pytest.raises(registration.ConfigurationError) as raised:
        registration.Settings.from_environ(environ)

    message = str(raised.value)
    assert "unknown platforms wns" in message
    assert "BROADCAST_TOPIC_ARN is not set" in message
    assert "SEGMENT_TOPICS is not JSON" in message
