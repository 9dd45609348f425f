"""Hostile clients (bench/hostile_clients.py) and the production front (backend.launcher), as the
end-to-end tests import them."""

from backend.launcher import NGINX, NGINX_MAIN, NGINX_TEMPLATE, nginx_front, render_nginx_main, render_nginx_site  # noqa: F401
from bench.hostile_clients import SlowHeaderClients, timed_get  # noqa: F401
