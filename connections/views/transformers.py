"""Transformer screens: list, create, edit (chain editor with htmx partials), duplicate, delete, tester."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from configuration.variables import UnknownVariable, resolve
from connections.flow.transform import tester_limits
from connections.forms.transformers import (
    TransformerForm,
    apply_op,
    chain_from_post,
    clean_steps,
    editor_state,
    field_options,
    step_type_groups,
)
from connections.models import Incoming, Route, Transformer
from connections.storage_service import DatabaseStorage
from connections.transformers import Context, InMemoryStorage, ServiceError, get_lookup_provider
from connections.transformers.tester import test_chain
from connections.waits import WaitUntil, until_text
from dashboard.access import can_edit, editor_required, get_for_user, viewer_required
from lib.htmx import is_htmx
from lib.json_input import parse_json

__all__ = [
    "transformer_chain",
    "transformer_create",
    "transformer_delete",
    "transformer_detail",
    "transformer_duplicate",
    "transformer_edit",
    "transformer_list",
    "transformer_test",
]

SAMPLE_INPUT = '{\n  "Code": "C0001",\n  "Name": "Jansen B.V.",\n  "Modified": "/Date(1711677600000)/"\n}'


def get_transformer_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Transformer:
    return get_for_user(request, Transformer, pk, write=write)


@viewer_required
@require_GET
def transformer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    transformers = Transformer.objects.search(query).order_by("name")
    page = Paginator(transformers, 50).get_page(request.GET.get("page"))
    context = {"page": page, "q": query, "total": Transformer.objects.count(), "can_edit": can_edit(request.user)}
    template = "connections/transformers/_rows.html" if is_htmx(request) else None
    return render(request, template or "connections/transformers/list.html", context)


def _editor_context(request: HttpRequest, form: TransformerForm, state: Any, transformer: Transformer | None) -> dict:
    return {
        "form": form,
        "state": state,
        "transformer": transformer,
        "step_type_groups": step_type_groups(),
        "can_edit": can_edit(request.user),
        # A save that fails shows the tester's input as it was (app.js carries it along with the form).
        "sample_input": request.POST.get("tester_input") or SAMPLE_INPUT,
        # The tester's sources: load the input from a route's last task or an Incoming's Fetch sample.
        "tester_routes": Route.objects.order_by("name").only("pk", "name"),
        "tester_incomings": Incoming.objects.order_by("name").only("pk", "name"),
    }


def _save(request: HttpRequest, transformer: Transformer | None) -> HttpResponse:
    form = TransformerForm(request.POST, instance=transformer)
    steps, problems = chain_from_post(request.POST)
    state = editor_state(steps, problems, options=field_options())
    if form.is_valid() and state.valid:
        instance = form.save(commit=False)
        instance.steps = clean_steps(steps)
        try:
            instance.full_clean()
        except ValidationError as exc:
            state = editor_state(steps, problems, extra_errors=exc.messages, options=field_options())
        else:
            with transaction.atomic():
                instance.save()
            messages.success(request, f"Transformer {instance.name} saved.")
            return redirect("connections:transformer_detail", pk=instance.pk)
    template = "connections/transformers/editor.html"
    return render(request, template, _editor_context(request, form, state, transformer), status=400)


@editor_required
@require_http_methods(["GET", "POST"])
def transformer_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request, None)
    state = editor_state([], validate=False, options=field_options())
    context = _editor_context(request, TransformerForm(), state, None)
    return render(request, "connections/transformers/editor.html", context)


@viewer_required
@require_GET
def transformer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    transformer = get_transformer_for_user(request, pk)
    steps = transformer.steps if isinstance(transformer.steps, list) else []
    state = editor_state(steps, options=field_options())
    context = _editor_context(request, TransformerForm(instance=transformer), state, transformer)
    return render(request, "connections/transformers/editor.html", context)


@editor_required
@require_POST
def transformer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _save(request, get_transformer_for_user(request, pk, write=True))


def _steps_from_json(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        loaded = parse_json(text)
    except ValueError as exc:
        return [], [f"The JSON is not valid: {exc}"]
    if isinstance(loaded, dict) and "steps" in loaded:
        loaded = loaded["steps"]
    if not isinstance(loaded, list):
        return [], ["The JSON must be a list of steps."]
    return [step if isinstance(step, dict) else {"type": repr(step), "params": {}} for step in loaded], []


@editor_required
@require_POST
def transformer_chain(request: HttpRequest) -> HttpResponse:
    """The chain editor's htmx actions: add/up/down/remove/toggle a step, or load the chain from its JSON."""
    op = request.POST.get("op", "")
    extra: list[str] = []
    if op == "apply_json":
        steps, extra = _steps_from_json(request.POST.get("chain_json", ""))
        problems: dict[int, dict[str, str]] = {}
        if extra:  # keep what the step forms say, and show why the JSON was not taken
            steps, problems = chain_from_post(request.POST)
    else:
        steps, problems = chain_from_post(request.POST)
        problems = {}  # each step carries its own unreadable fields (_raw, _problems) through the move
        target = request.POST.get("target", "")
        step_type = request.POST.get(f"step_type@{target}" if target else "step_type", "")
        steps = apply_op(steps, op, request.POST.get("index", ""), step_type, target=target)
    state = editor_state(steps, problems, validate=op != "add", extra_errors=extra, options=field_options())
    context = {"state": state, "can_edit": True, "step_type_groups": step_type_groups()}
    return render(request, "connections/transformers/_chain.html", context)


def _tester_context(request: HttpRequest) -> Context:
    """Reads real storages but keeps writes to itself; HTTP lookups only for editors (they cost quota)."""
    storage = InMemoryStorage(backing=DatabaseStorage())
    if can_edit(request.user):
        provider = get_lookup_provider()
        if provider is None:
            return Context(storage=storage, lookup=None)

        def look_up(client: Any, spec: dict[str, Any]) -> Any:
            try:
                return provider(client, spec)
            except WaitUntil as wait:  # a quota used up or a system down: say so and until when, never wait here
                raise ServiceError(f"{wait.reason} until {until_text(wait.until)}: try again then",
                                   retryable=True) from None

        return Context(storage=storage, lookup=look_up)

    def refuse(client: Any, spec: dict[str, Any]) -> Any:
        raise ServiceError("HTTP lookups in the tester need the Editor role (they use the API quota)")

    return Context(storage=storage, lookup=refuse)


@viewer_required
@require_POST
def transformer_test(request: HttpRequest) -> HttpResponse:
    """The tester endpoint every page reuses: POST ``input`` and the chain as ``transformer`` (a saved one's id),
    ``steps_json``, or the chain editor's step fields."""
    problems: dict[int, dict[str, str]] = {}
    if request.POST.get("transformer", "").isdigit():
        steps: Any = get_transformer_for_user(request, int(request.POST["transformer"])).steps
    elif "steps_json" in request.POST:
        steps = request.POST["steps_json"]
    else:
        steps, problems = chain_from_post(request.POST)
        steps = clean_steps(steps)
    if problems:
        messages_ = [f"step {index + 1}: {text}" for index, fields in problems.items() for text in fields.values()]
        return render(request, "connections/transformers/_test_result.html", {"report": None, "problems": messages_})
    try:
        steps = resolve(steps)  # the chain as a run would see it: its ${NAME} variables filled in
    except UnknownVariable as exc:
        return render(request, "connections/transformers/_test_result.html", {"report": None, "problems": [str(exc)]})
    report = test_chain(steps, request.POST.get("input", ""), _tester_context(request), limits=tester_limits())
    return render(request, "connections/transformers/_test_result.html", {"report": report, "problems": []})


@editor_required
@require_POST
def transformer_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    copy = get_transformer_for_user(request, pk, write=True).duplicate()
    messages.success(request, f"Duplicated as {copy.name}.")
    return redirect("connections:transformer_detail", pk=copy.pk)


@editor_required
@require_http_methods(["GET", "POST"])
def transformer_delete(request: HttpRequest, pk: int) -> HttpResponse:
    transformer = get_transformer_for_user(request, pk, write=True)
    dependents = transformer.dependents()
    if request.method == "POST":
        name = transformer.name
        try:
            transformer.delete()
        except ProtectedError:
            messages.error(request, f"{name} is still used; detach it first.")
            return redirect("connections:transformer_delete", pk=pk)
        messages.success(request, f"Transformer {name} deleted.")
        return redirect("connections:transformer_list")
    context = {
        "transformer": transformer,
        "blocking": [d for d in dependents if d.protects],
        "detached": [d for d in dependents if not d.protects],
    }
    return render(request, "connections/transformers/delete.html", context)
