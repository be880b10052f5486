"""The Transformer model: a named, reusable chain of steps. The engine (connections.transformers) runs it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from connections.transformers import Chain, compile_chain, validate_chain
from lib.naming import save_copy
from lib.relations import Dependent, dependents_of

__all__ = ["Transformer"]


class TransformerQuerySet(models.QuerySet["Transformer"]):
    def search(self, text: str) -> TransformerQuerySet:
        text = text.strip()
        if not text:
            return self
        return self.filter(models.Q(name__icontains=text) | models.Q(description__icontains=text))


class Transformer(models.Model):
    """A named chain of transformer steps, stored as JSON and validated by the engine before it is saved."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    steps = models.JSONField(default=list, blank=True, help_text="The chain: a list of {type, params} steps.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TransformerQuerySet.as_manager()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The chain must validate with its ``${NAME}`` variables filled in (an unknown one is an error too)."""
        from configuration.variables import UnknownVariable, resolve

        super().clean()
        try:
            steps = resolve(self.steps)
        except UnknownVariable as exc:
            raise ValidationError({"steps": [f"{exc}. Create it under Settings → Environment variables first."]}) \
                from None
        errors = validate_chain(steps)
        if errors:
            raise ValidationError({"steps": [str(error) for error in errors]})

    @property
    def step_count(self) -> int:
        return len(self.steps) if isinstance(self.steps, list) else 0

    def step_types(self) -> list[str]:
        if not isinstance(self.steps, list):
            return []
        return [str(step.get("type", "?")) for step in self.steps if isinstance(step, dict)]

    def compiled(self) -> Chain:
        """The chain ready to run, its ``${NAME}`` variables resolved now; raises ``ChainInvalid`` if the stored
        JSON no longer validates (``UnknownVariable`` if a variable it uses is gone)."""
        from configuration.variables import resolve

        return compile_chain(resolve(self.steps))

    def duplicate(self) -> Transformer:
        """A copy under a free name ("Copy of X", "Copy of X (2)", ...)."""
        return save_copy(self)

    def dependents(self) -> list[Dependent]:
        """What refers to this transformer (the delete confirmation lists them; protecting ones block it)."""
        return dependents_of(self)
