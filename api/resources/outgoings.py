"""Outgoings (``/outgoings``): where a route writes, through its publisher."""

from django.db.models import Q

from connections.forms.outgoing import OutgoingForm
from connections.models import Outgoing

from .. import schemas
from .crud import Resource, crud_router, save_model_form

RESOURCE = Resource("outgoings", "Outgoing", Outgoing, schemas.OutgoingOut,
                    schemas.input_schema("OutgoingIn", OutgoingForm,
                                         doc="The Outgoing form, plus the publisher's fields."),
                    save_model_form(OutgoingForm), lambda q: Q(name__icontains=q) | Q(entity__icontains=q))
router = crud_router(RESOURCE)
