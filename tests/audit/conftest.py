from tests.connections.routes.conftest import make_route, make_run, script  # noqa: F401
