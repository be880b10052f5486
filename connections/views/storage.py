"""Storage screens: list and create storages, browse/search their entries, delete entries or a storage."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connections.forms.transformers import StorageForm
from connections.models import Storage, StorageEntry
from dashboard.access import can_edit, editor_required, get_for_user, viewer_required
from lib.htmx import is_htmx

__all__ = [
    "storage_create",
    "storage_delete",
    "storage_detail",
    "storage_edit",
    "storage_entry_delete",
    "storage_list",
    "storage_purge",
]


def get_storage_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Storage:
    return get_for_user(request, Storage, pk, write=write)


@viewer_required
@require_GET
def storage_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    storages = Storage.objects.annotate(entry_count=Count("entries")).order_by("name")
    if query:
        storages = storages.filter(name__icontains=query)
    context = {"storages": storages, "q": query, "total": Storage.objects.count(), "can_edit": can_edit(request.user)}
    return render(request, "connections/storage/list.html", context)


@editor_required
@require_http_methods(["GET", "POST"])
def storage_create(request: HttpRequest) -> HttpResponse:
    form = StorageForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            storage = form.save()
            messages.success(request, f"Storage {storage.name} created.")
            return redirect("connections:storage_detail", pk=storage.pk)
        return render(request, "connections/storage/form.html", {"form": form, "storage": None}, status=400)
    return render(request, "connections/storage/form.html", {"form": form, "storage": None})


@editor_required
@require_http_methods(["GET", "POST"])
def storage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    storage = get_storage_for_user(request, pk, write=True)
    form = StorageForm(request.POST or None, instance=storage)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, f"Storage {storage.name} saved.")
            return redirect("connections:storage_detail", pk=storage.pk)
        return render(request, "connections/storage/form.html", {"form": form, "storage": storage}, status=400)
    return render(request, "connections/storage/form.html", {"form": form, "storage": storage})


@viewer_required
@require_GET
def storage_detail(request: HttpRequest, pk: int) -> HttpResponse:
    storage = get_storage_for_user(request, pk)
    query = request.GET.get("q", "")
    entries = StorageEntry.objects.filter(storage=storage).search(query).order_by("key")
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {
        "storage": storage,
        "page": page,
        "q": query,
        "entry_total": storage.entries.count(),
        "can_edit": can_edit(request.user),
    }
    if is_htmx(request):
        return render(request, "connections/storage/_entries.html", context)
    return render(request, "connections/storage/detail.html", context)


@editor_required
@require_POST
def storage_entry_delete(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    storage = get_storage_for_user(request, pk, write=True)
    entry = get_for_user(request, StorageEntry.objects.filter(storage=storage), entry_pk, write=True)
    entry.delete()
    messages.success(request, f"Entry {entry.key} deleted from {storage.name}.")
    return redirect("connections:storage_detail", pk=storage.pk)


@editor_required
@require_POST
def storage_purge(request: HttpRequest, pk: int) -> HttpResponse:
    storage = get_storage_for_user(request, pk, write=True)
    removed = storage.purge_expired()
    messages.success(request, f"{removed} expired entr{'y' if removed == 1 else 'ies'} removed from {storage.name}.")
    return redirect("connections:storage_detail", pk=storage.pk)


@editor_required
@require_http_methods(["GET", "POST"])
def storage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    storage = get_storage_for_user(request, pk, write=True)
    if request.method == "POST":
        name = storage.name
        storage.delete()
        messages.success(request, f"Storage {name} and its entries deleted.")
        return redirect("connections:storage_list")
    return render(request, "connections/storage/delete.html", {"storage": storage, "entries": storage.entries.count()})
