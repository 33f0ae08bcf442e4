"""Page routes of each domain app, one module per app (owned by that app's developers).
Each module exports `urlpatterns` (paths under the site root, wrapped by `web.shell.page`)
and `NAV`: navigation entries `(label, url name, permission, path prefixes)`."""
