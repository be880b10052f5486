"""Forms of the Environment variables and Export and import pages."""

from __future__ import annotations

from typing import Any

from django import forms

from lib.plugins import MASK, secret_widget

from .models import Variable
from .variables import forget_bound_secrets

__all__ = ["ExportForm", "ImportForm", "VariableForm"]


class VariableForm(forms.ModelForm):
    """Name, description, encrypted (chosen once, at creation) and the value; an encrypted value is write-only."""

    new_value = forms.CharField(label="Value", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Variable
        fields = ("name", "description", "encrypted")
        labels = {"encrypted": "Encrypted"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        editing = self.instance.pk is not None
        if editing:
            self.fields["encrypted"].disabled = True
            self.fields["encrypted"].help_text = "Chosen when the variable was created."
        if editing and self.instance.encrypted:
            self.fields["new_value"].widget = secret_widget()
            self.fields["new_value"].widget.attrs["placeholder"] = f"{MASK} (stored; leave empty to keep)"
            self.fields["new_value"].help_text = "Write-only: leave empty to keep the stored value."
        elif editing:
            self.fields["new_value"].initial = self.instance.value
        else:
            self.fields["new_value"].help_text = "An encrypted value is shown once, after saving, then never again."

    def save(self, commit: bool = True) -> Variable:
        variable: Variable = super().save(commit=False)
        value = self.cleaned_data.get("new_value") or ""
        before = variable.current_value if variable.pk else None
        if not (variable.encrypted and variable.pk and not value):  # empty keeps an encrypted value
            variable.set_value(value)
        self.forgotten: list[str] = []
        if commit:
            variable.save()
            if before is not None and before != variable.current_value:
                self.forgotten = forget_bound_secrets(variable.name)
        return variable


class ExportForm(forms.Form):
    """What to export: everything, or the chosen routes (and what they use); JSON or YAML."""

    format = forms.ChoiceField(label="Format", choices=[("yaml", "YAML"), ("json", "JSON")], initial="yaml")
    routes = forms.MultipleChoiceField(label="Routes", required=False, widget=forms.CheckboxSelectMultiple,
                                       help_text="None ticked: everything. Each route brings what it uses.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from connections.models import Route

        super().__init__(*args, **kwargs)
        names = list(Route.objects.order_by("name").values_list("name", flat=True))
        self.fields["routes"].choices = [(name, name) for name in names]  # type: ignore[attr-defined]

    def selection(self) -> dict[str, list[str]] | None:
        routes = self.cleaned_data.get("routes") or []
        return {"routes": routes} if routes else None


class ImportForm(forms.Form):
    """A document to import: a file, or pasted text."""

    file = forms.FileField(label="File", required=False, help_text="A JSON or YAML export.")
    text = forms.CharField(label="Or paste the document", required=False,
                           widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste a document.")
        return data

