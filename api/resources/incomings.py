"""Incomings (``/incomings``): what a route reads, through its subscriber."""

from django.db.models import Q

from connections.forms.incoming import IncomingForm
from connections.models import Incoming

from .. import schemas
from ..problems import ApiProblem
from .crud import Resource, crud_router, save_model_form


def _refuse_delete(incoming: Incoming) -> None:
    if incoming.routes.exists():
        names = ", ".join(map(str, incoming.routes.all()))
        raise ApiProblem(409, f"Incoming {incoming} is used by route(s) {names}; remove it from them first.")


RESOURCE = Resource("incomings", "Incoming", Incoming, schemas.IncomingOut,
                    schemas.input_schema("IncomingIn", IncomingForm,
                                         doc="The Incoming form, plus the subscriber's fields."),
                    save_model_form(IncomingForm), lambda q: Q(name__icontains=q) | Q(config__entity__icontains=q),
                    _refuse_delete)
router = crud_router(RESOURCE)
