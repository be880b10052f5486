import pytest


@pytest.mark.django_db
def test_preview_before_an_entity_is_chosen_is_a_hint_not_errors(editor_client):
    response = editor_client.get("/connections/incoming/preview/", {"subscriber": "exact_online", "entity": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Choose an entity to see the request URL." in body
    assert "preview-errors" not in body


@pytest.mark.django_db
def test_preview_with_an_unknown_entity_still_says_why(editor_client):
    response = editor_client.get("/connections/incoming/preview/", {"subscriber": "exact_online", "entity": "crm/Nope"})
    assert "preview-errors" in response.content.decode()


@pytest.mark.django_db
def test_preview_before_a_client_is_chosen_shows_the_default_exact_host(editor_client):
    response = editor_client.get("/connections/incoming/preview/", {
        "subscriber": "exact_online", "entity": "crm/Accounts", "http_client": "", "divisions": "selected",
        "division_codes": "101001", "endpoint": "standard"})
    body = response.content.decode()
    assert "preview-errors" not in body, body
    assert "https://start.exactonline.nl/api/v1/101001/crm/Accounts?" in body
