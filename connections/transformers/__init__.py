"""The transformer engine: chains of typed steps over JSON entities. Pure Python: it imports no Django.

Use ``validate_chain`` before saving a chain, ``compile_chain`` once per run and ``run_chain`` per entity.
"""

from __future__ import annotations

from . import steps as _steps  # registers the built-in step types
from .chain import (
    MAX_DEPTH,
    MAX_STEPS,
    Chain,
    ChainInvalid,
    Result,
    StepTrace,
    compile_chain,
    run_chain,
    validate_chain,
)
from .errors import ServiceError, StepError, TransformError
from .limits import Budget, LimitExceeded, Limits, json_size
from .registry import STEP_TYPES, FieldSpec, Step, describe_fields, register_step
from .services import (
    Context,
    InMemoryStorage,
    StorageService,
    content_hash,
    get_lookup_provider,
    register_lookup_provider,
    unregister_lookup_provider,
)
from .tables import table_from_csv, table_to_csv

__all__ = [
    "MAX_DEPTH",
    "MAX_STEPS",
    "STEP_TYPES",
    "Budget",
    "Chain",
    "ChainInvalid",
    "Context",
    "FieldSpec",
    "InMemoryStorage",
    "LimitExceeded",
    "Limits",
    "Result",
    "ServiceError",
    "Step",
    "StepError",
    "StepTrace",
    "StorageService",
    "TransformError",
    "compile_chain",
    "content_hash",
    "describe_fields",
    "get_lookup_provider",
    "json_size",
    "register_lookup_provider",
    "register_step",
    "run_chain",
    "table_from_csv",
    "table_to_csv",
    "unregister_lookup_provider",
    "validate_chain",
]

del _steps
