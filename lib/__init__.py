"""Small helper modules shared by the apps (no catch-all utils)."""
