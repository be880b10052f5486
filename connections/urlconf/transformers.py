"""URLs of transformers (chain editor and tester) and storages, in the ``connections`` namespace."""

from django.urls import URLPattern, URLResolver, path

from connections.views import storage, tester_sources, transformers

urlpatterns: list[URLPattern | URLResolver] = [
    path("transformers/", transformers.transformer_list, name="transformer_list"),
    path("transformers/new", transformers.transformer_create, name="transformer_create"),
    path("transformers/chain", transformers.transformer_chain, name="transformer_chain"),
    path("transformers/test", transformers.transformer_test, name="transformer_test"),
    path("transformers/tester-source", tester_sources.tester_source, name="tester_source"),
    path("transformers/<int:pk>/", transformers.transformer_detail, name="transformer_detail"),
    path("transformers/<int:pk>/edit", transformers.transformer_edit, name="transformer_edit"),
    path("transformers/<int:pk>/duplicate", transformers.transformer_duplicate, name="transformer_duplicate"),
    path("transformers/<int:pk>/delete", transformers.transformer_delete, name="transformer_delete"),
    path("storages/", storage.storage_list, name="storage_list"),
    path("storages/new", storage.storage_create, name="storage_create"),
    path("storages/<int:pk>/", storage.storage_detail, name="storage_detail"),
    path("storages/<int:pk>/edit", storage.storage_edit, name="storage_edit"),
    path("storages/<int:pk>/delete", storage.storage_delete, name="storage_delete"),
    path("storages/<int:pk>/purge", storage.storage_purge, name="storage_purge"),
    path("storages/<int:pk>/entries/<int:entry_pk>/delete", storage.storage_entry_delete, name="storage_entry_delete"),
]
