"""Property: on arbitrary JSON, a chain from the valid step space returns or raises TransformError, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connections.transformers import (
    Context,
    InMemoryStorage,
    ServiceError,
    TransformError,
    compile_chain,
    paths,
    run_chain,
    validate_chain,
)
from connections.transformers.chain import RunState, run_steps
from connections.transformers.limits import Budget

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

KEYS = st.sampled_from(["a", "b", "Lines", "Name", "0", "1", "Zoë", "x y"])
PATH = st.lists(st.one_of(KEYS, st.just("*")), min_size=1, max_size=4).map(".".join)
PLAIN_PATH = st.lists(KEYS, min_size=1, max_size=3).map(".".join)
TEMPLATE = st.one_of(st.text(max_size=8), PATH.map(lambda p: "&{" + p + "}"), PATH.map(lambda p: "x &{" + p + "|d} y"))
EXPR = st.sampled_from(
    [
        "a",
        "a == `1`",
        "length(Lines)",
        "sum(Lines)",
        "Lines[].Name",
        "{n: Name}",
        "`null`",
        "to_number(a)",
        "@",
        "a.b.c",
    ]
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
JSON = st.recursive(
    SCALAR,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=20,
)


def _steps(depth: int):
    simple = st.one_of(
        st.builds(
            lambda p, v, t: {"type": "set_value", "params": {"path": p, "value": v, "template": t}},
            PATH,
            JSON,
            st.one_of(st.just(""), TEMPLATE),
        ),
        st.builds(
            lambda s, t, m: {"type": "copy", "params": {"source": s, "target": t, "if_missing": m}},
            PATH,
            PLAIN_PATH,
            st.sampled_from(["skip", "null", "fail"]),
        ),
        st.builds(lambda s, t: {"type": "move", "params": {"source": s, "target": t}}, PLAIN_PATH, PLAIN_PATH),
        st.builds(
            lambda ps, n: {"type": "remove", "params": {"paths": ps, "drop_nulls": n}},
            st.lists(PATH, min_size=1, max_size=3),
            st.booleans(),
        ),
        st.builds(
            lambda p, m: {"type": "key_map", "params": {"path": p, "mapping": m}},
            st.one_of(st.just(""), PATH),
            st.dictionaries(KEYS, st.text(min_size=1, max_size=3), min_size=1, max_size=3),
        ),
        st.builds(
            lambda p, w: {
                "type": "value_map",
                "params": {
                    "path": p,
                    "table": [{"from": "1", "to": "one"}, {"from": "null", "to": 0}],
                    "when_missing": w,
                },
            },
            PATH,
            st.sampled_from(["keep", "default", "null", "fail"]),
        ),
        st.builds(
            lambda p, to, e: {"type": "cast", "params": {"path": p, "to": to, "on_error": e}},
            PATH,
            st.sampled_from(["string", "integer", "number", "boolean", "date", "exact_date"]),
            st.sampled_from(["fail", "null", "keep"]),
        ),
        st.builds(
            lambda c, a: {"type": "filter", "params": {"condition": c, "action": a}},
            EXPR,
            st.sampled_from(["keep", "skip"]),
        ),
        st.builds(
            lambda p, pf: {"type": "split", "params": {"path": p, "parent_fields": pf}},
            PATH,
            st.dictionaries(KEYS, PLAIN_PATH, max_size=2),
        ),
        st.builds(
            lambda p, g, m, s: {"type": "merge", "params": {"path": p, "group_by": g, "mode": m, "sum": s}},
            st.one_of(st.just(""), PLAIN_PATH),
            st.one_of(st.just(""), PLAIN_PATH),
            st.sampled_from(["merge", "collect"]),
            st.lists(KEYS, max_size=2),
        ),
        st.builds(
            lambda e, t: {"type": "expression", "params": {"expression": e, "target": t}},
            EXPR,
            st.one_of(st.just(""), PLAIN_PATH),
        ),
        st.builds(
            lambda k, t: {"type": "storage_get", "params": {"store": "s", "key": k, "target": t}},
            TEMPLATE.filter(bool),
            PLAIN_PATH,
        ),
        st.builds(
            lambda k, s: {"type": "storage_save", "params": {"store": "s", "key": k, "source": s}},
            TEMPLATE.filter(bool),
            st.one_of(st.just(""), PLAIN_PATH),
        ),
        st.builds(
            lambda k, f: {"type": "skip_unchanged", "params": {"store": "h", "key": k, "fields": f}},
            TEMPLATE.filter(bool),
            st.lists(PATH, max_size=2),
        ),
        st.builds(
            lambda p, t: {
                "type": "http_lookup",
                "params": {"http_client": 1, "path": p, "target": t, "result": "d.results[0].ID"},
            },
            TEMPLATE,
            PLAIN_PATH,
        ),
    )
    if depth == 0:
        return simple
    nested = st.lists(_steps(depth - 1), max_size=3)
    return st.one_of(
        simple,
        st.builds(
            lambda c, t, e: {"type": "conditional", "params": {"condition": c, "then": t, "else": e}},
            EXPR,
            nested,
            nested,
        ),
    )


CHAINS = st.lists(_steps(2), min_size=1, max_size=6).filter(lambda chain: not validate_chain(chain))


def flaky_lookup(client, request):
    if "1" in request["path"]:
        raise ServiceError("not found")
    return {"d": {"results": [{"ID": request["path"]}]}}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(chain=CHAINS, entity=JSON)
def test_a_chain_only_ever_raises_transform_error(chain, entity):
    context = Context(storage=InMemoryStorage(), lookup=flaky_lookup)
    for trace in (True, False):
        try:
            result = run_chain(chain, entity, context, trace=trace)
        except TransformError as exc:
            assert exc.step_type and str(exc)
        else:
            assert isinstance(result.entities, list)
            assert (result.skipped_reason is None) == bool(result.entities)


STEP_NAMES = st.sampled_from(["set_value", "copy", "cast", "conditional", "value_map", "filter", "nope"])
JUNK_STEP = st.one_of(
    JSON,
    st.fixed_dictionaries({"type": STEP_NAMES, "params": JSON}),
    st.fixed_dictionaries(
        {
            "type": STEP_NAMES,
            "params": st.dictionaries(
                st.sampled_from(["path", "to", "then", "table", "condition", "value"]), JSON, max_size=4
            ),
        }
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain=st.one_of(JSON, st.lists(JUNK_STEP, max_size=5), st.text(max_size=30)), entity=JSON)
def test_arbitrary_chain_json_is_refused_with_reasons_never_crashes(chain, entity):
    errors = validate_chain(chain)
    assert all(error.message for error in errors)
    try:
        run_chain(chain, entity, Context(storage=InMemoryStorage()), trace=False)
    except TransformError as exc:
        assert str(exc)
    else:
        assert not errors, "an invalid chain must never run"


def _outcome(chain, entity, *, planned: bool):
    """What a run makes (entities, skips, deferred writes, storage after it) or the error it raises; ``planned``:
    the compiled plan the reader uses, else the step-by-step interpreter (``run_steps``)."""
    storage = InMemoryStorage()
    context = Context(storage=storage, lookup=flaky_lookup)
    compiled = compile_chain(chain)
    try:
        if planned:
            result = run_chain(compiled, entity, context, trace=False)
            made = (result.entities, result.skipped, result.deferred)
        else:
            run = RunState(context=context, tracing=False, budget=Budget())
            made = (run_steps(compiled.steps, [paths.clone(entity)], run), run.skipped, run.deferred)
    except TransformError as exc:
        return ("error", type(exc), str(exc), exc.step_index, exc.location, exc.path, exc.retryable)
    stored = {key: (entry.value, entry.content_hash) for key, entry in storage.data.items()}
    return ("made", made, storage.writes, stored)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(chain=CHAINS, entity=JSON, disabled=st.lists(st.booleans(), max_size=6))
def test_the_compiled_plan_gives_what_the_step_by_step_run_gives(chain, entity, disabled):
    chain = [{**step, "disabled": off} for step, off in zip(chain, disabled + [False] * len(chain), strict=False)]
    assert _outcome(chain, entity, planned=True) == _outcome(chain, entity, planned=False)


def test_the_compiled_plan_on_a_page_of_accounts_with_errors_skips_and_disabled_steps():
    chain = [
        {"type": "filter", "params": {"condition": "Blocked == `false`", "reason": "blocked &{Code}"}},
        {"type": "cast", "params": {"path": "Modified", "to": "date"}},  # fails on the entity without a date
        {"type": "set_value", "params": {"path": "x", "value": 1}, "disabled": True},
        {"type": "split", "params": {"path": "Lines"}},  # run_list of its own: several entities on
        {"type": "set_value", "params": {"path": "ref", "template": "R-&{Code}"}},
        {"type": "skip_unchanged", "params": {"store": "h", "key": "&{Code}"}},
    ]
    page = [
        {"Code": "1", "Blocked": False, "Modified": "/Date(1774755000000)/", "Lines": [{"n": 1}, {"n": 2}]},
        {"Code": "2", "Blocked": True, "Modified": "/Date(1774755000000)/", "Lines": [{"n": 1}]},
        {"Code": "3", "Blocked": False, "Modified": "not a date", "Lines": [{"n": 1}]},
        {"Code": "4", "Blocked": False, "Modified": None, "Lines": []},
        {"Code": "5", "Blocked": False, "Modified": "/Date(1774755000000)/", "Lines": "one"},
    ]
    outcomes = [_outcome(chain, entity, planned=True) for entity in page]
    assert outcomes == [_outcome(chain, entity, planned=False) for entity in page]
    assert {outcome[0] for outcome in outcomes} == {"made", "error"}
