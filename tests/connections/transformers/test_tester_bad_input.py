"""The tester (open to Viewers) answers bad pasted JSON with a message, never an HTTP 500."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

DEEP_LIST = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000
STEPS = json.dumps([{"type": "remove", "params": {"paths": ["x"]}}])


def _test(client, **data):
    return client.post(reverse("connections:transformer_test"), data)


@pytest.mark.parametrize(
    ("input_text", "reason"),
    [
        (DEEP_LIST, "nested too deeply"),
        (DEEP_OBJECT, "nested too deeply"),
        ('{"Amount": NaN}', "NaN is not a JSON value"),
        ('[{"Amount": Infinity}]', "Infinity is not a JSON value"),
    ],
)
def test_a_viewer_gets_a_message_for_bad_input(viewer_client, input_text, reason):
    response = _test(viewer_client, steps_json=STEPS, input=input_text)
    assert response.status_code == 200
    assert reason in response.content.decode()


def test_a_viewer_gets_a_message_for_a_deeply_nested_chain(viewer_client):
    response = _test(viewer_client, steps_json=DEEP_LIST, input="{}")
    assert response.status_code == 200
    assert "nested too deeply" in response.content.decode()
