"""Connections' models, one module per feature; each module's models are re-exported here."""

from .bulk import *  # noqa: F403
from .incoming import *  # noqa: F403
from .outgoing import *  # noqa: F403
from .routes import *  # noqa: F403
from .runs import *  # noqa: F403
from .storage import *  # noqa: F403
from .tasks import *  # noqa: F403
from .transformers import *  # noqa: F403
