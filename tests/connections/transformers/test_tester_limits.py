"""The tester (open to Viewers) cannot be made to use a gigabyte: output, size, time and tracing are capped.

The input is the one from issue 10: 22 KB of order lines, split with a parent key over a wildcard path, so
every branch would get a copy of the parent with all its lines (quadratic), and tracing copies them again.
Before the limits this took 2.9 GB of memory and 72 s (bench/bench_tester_memory.py).
"""

from __future__ import annotations

import json
import tracemalloc

from django.urls import reverse

SPLIT_WITH_PARENT = json.dumps([{"type": "split", "params": {"path": "Lines.*", "parent_key": "order"}}])


def order_with_lines(count: int) -> str:
    return json.dumps({"Lines": [{"i": n} for n in range(count)]}, separators=(",", ":"))


def _peak_mb_of_test(client, steps: str, input_text: str) -> tuple[float, str]:
    tracemalloc.start()
    try:
        response = client.post(reverse("connections:transformer_test"), {"steps_json": steps, "input": input_text})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    return peak / 2**20, response.content.decode()


def test_split_with_parent_on_22_kb_stops_at_the_default_limit_for_a_viewer(viewer_client):
    text = order_with_lines(2000)
    assert 20_000 < len(text) < 23_000
    response = viewer_client.post(reverse("connections:transformer_test"),
                                  {"steps_json": SPLIT_WITH_PARENT, "input": text})
    page = response.content.decode()
    assert response.status_code == 200
    assert "more than 2 MB of data, the limit per test" in page and 'data-testid="tester-stopped"' in page
    assert 'data-status="failed"' in page
    assert len(page) < 200_000  # a size count: before the limits the page held 2,000 copies of the order


def test_split_with_parent_memory_is_capped_by_the_size_limit(viewer_client, settings):
    settings.TRANSFORM_MAX_BYTES = 100_000  # before the limits: a 59 MB peak for these 3 KB of input
    peak_mb, page = _peak_mb_of_test(viewer_client, SPLIT_WITH_PARENT, order_with_lines(300))
    assert "more than 100 KB of data, the limit per test" in page
    assert peak_mb < 16, f"the tester used {peak_mb:.0f} MB"


def test_the_entity_limit_is_a_setting(viewer_client, settings):
    settings.TRANSFORM_MAX_ENTITIES = 50
    page = viewer_client.post(reverse("connections:transformer_test"),
                              {"steps_json": json.dumps([{"type": "split", "params": {"path": "Lines"}}]),
                               "input": order_with_lines(300)}).content.decode()
    assert "more than 50 entities, the limit per test" in page


def test_the_entity_cap_counts_every_input_of_one_test(viewer_client, settings):
    settings.TRANSFORM_MAX_ENTITIES = 25
    steps = json.dumps([{"type": "split", "params": {"path": "Lines"}}])
    inputs = json.dumps([{"Lines": list(range(10))} for _ in range(5)])
    page = viewer_client.post(reverse("connections:transformer_test"),
                              {"steps_json": steps, "input": inputs}).content.decode()
    assert page.count('data-status="ok"') == 2  # 20 entities made; the third input would pass 25
    assert page.count('data-status="failed"') == 1
    assert "2 more entities were not tested" in page


def test_a_wildcard_set_value_that_copies_the_entity_into_every_line_is_stopped(viewer_client):
    steps = json.dumps([{"type": "set_value", "params": {"path": "Lines.*.copy", "template": "&{Lines}"}}])
    peak_mb, page = _peak_mb_of_test(viewer_client, steps, order_with_lines(2000))
    assert "the limit per test" in page
    assert peak_mb < 64, f"the tester used {peak_mb:.0f} MB"


def test_steps_over_the_trace_size_are_run_but_not_traced(viewer_client, settings):
    settings.TESTER_TRACE_BYTES = 5_000
    steps = json.dumps([{"type": "set_value", "params": {"path": "Note", "value": "x"}}])
    page = viewer_client.post(reverse("connections:transformer_test"),
                              {"steps_json": steps, "input": order_with_lines(1000)}).content.decode()
    assert 'data-status="ok"' in page
    assert "not traced: the data is larger than the tester shows step by step" in page


def test_the_time_budget_stops_a_slow_test(viewer_client, settings):
    settings.TESTER_MAX_SECONDS = 0  # every step takes longer than no time at all
    steps = json.dumps([{"type": "set_value", "params": {"path": "Note", "value": "x"}}])
    page = viewer_client.post(reverse("connections:transformer_test"),
                              {"steps_json": steps, "input": '{"a": 1}'}).content.decode()
    assert "longer than 0 s, the time limit per test" in page
