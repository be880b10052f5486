"""The publisher's configuration helpers come from the catalog: entities per action, templates, validation."""

from __future__ import annotations

from connections.publishers import get_publisher, publisher_choices
from exact_online.catalog import catalog


def test_the_exact_online_publisher_is_registered():
    assert ("exact_online", "Exact Online Publisher") in publisher_choices()


def test_entities_are_limited_to_those_supporting_the_action():
    publisher = get_publisher("exact_online")
    creatable = {value for value, _ in publisher.entity_choices("create")}
    readable = {value for value, _ in publisher.entity_choices("get")}
    assert "crm/Accounts" in creatable
    assert readable - creatable  # something can be read that cannot be created
    for endpoint in creatable:
        assert catalog().get(endpoint).supports("POST")
    for endpoint in readable:
        assert catalog().get(endpoint).supports("GET")


def test_payload_template_lists_writable_properties_mandatory_first():
    template = get_publisher("exact_online").payload_template(action="create", entity="crm/Accounts")
    assert next(iter(template)) == "Name"
    assert "ID" not in template
    assert all(catalog().get("crm/Accounts").has_property(name) for name in template)


def test_validation_names_unknown_and_missing_properties():
    publisher = get_publisher("exact_online")
    problems = publisher.validate(action="create", entity="crm/Accounts", path={}, query={},
                                  payload={"City": "Delft", "Colour": "red"}, config={"payload_from_tasks": False})
    text = " ".join(problems["payload"])
    assert "Colour" in text and "Name" in text


def test_validation_refuses_an_action_the_entity_does_not_support():
    read_only = next(e for e in catalog() if e.kind == "standard" and e.methods == ("GET",))
    problems = get_publisher("exact_online").validate(action="create", entity=read_only.endpoint, path={},
                                                      query={}, payload={}, config={})
    assert "entity" in problems


def test_no_reference_field_is_chosen_by_default_and_writing_one_needs_a_confirmed_overwrite():
    publisher = get_publisher("exact_online")
    assert publisher.default_reference_field("crm/Accounts") == ""  # kept on our side
    choices = {name for name, _ in publisher.reference_field_choices("crm/Accounts")}
    assert "SearchCode" in choices and all(catalog().get("crm/Accounts").has_property(name) for name in choices)
    common = {"action": "create", "entity": "crm/Accounts", "path": {}, "query": {}, "payload": {}}
    unconfirmed = publisher.validate(**common, config={"reference_field": "SearchCode"})
    assert "replacing what people keep there" in unconfirmed["reference_overwrite"][0]
    assert not publisher.validate(**common, config={"reference_field": "SearchCode", "reference_overwrite": True})
    assert not publisher.validate(**common, config={})


def test_an_upsert_needs_its_key():
    publisher = get_publisher("exact_online")
    common = {"action": "upsert", "entity": "crm/Accounts", "path": {}, "query": {}, "payload": {}}
    assert "Upsert needs an upsert key" in publisher.validate(**common, config={})["upsert_key"][0]
    assert not publisher.validate(**common, config={"upsert_key": "Code"})
