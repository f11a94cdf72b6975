"""The image: a slim official Python base, dependencies installed before the code is copied (so a code change
rebuilds only the last layers), portafunc and its adapters vendored with their entry points, ``.pyc`` compiled
at build time with unchecked hashes (reproducible, no stat at import), a non-root user, gunicorn as PID 1.

Why gunicorn with threads (``gthread``): the pipeline is synchronous WSGI-shaped code (an async handler runs on
its own loop inside the call), so an ASGI server would only add a thread hop per request; gunicorn is the
long-standing production WSGI server, forwards SIGTERM to a graceful shutdown (the platforms stop a revision
that way) and binds ``0.0.0.0:$PORT`` when the platform sets ``PORT``.

The base image is pinned to the platform ``portafunc package --arch`` chose (``linux/amd64`` or ``linux/arm64``), the
one the manifests are written for. gunicorn trusts ``X-Forwarded-Proto`` (``wsgi.url_scheme``, so ``req.url``) only
from the peers ``FORWARDED_ALLOW_IPS`` names, localhost unless it is set: a container reached directly
(``docker run -p``) does not let a client claim https. The manifests set it where the platform's front end is the
only way in.
"""

from __future__ import annotations

SITE = "/srv/site"
APP = "/srv/app"
UID = 10001


def gunicorn_command(timeout: int, workers: int, threads: int) -> list[str]:
    return ["gunicorn", "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
            "--timeout", str(timeout), "--graceful-timeout", "25", "--keep-alive", "75",
            "--access-logfile", "-", "portafunc_container.runtime:create()"]


def render(*, app_name: str, app_ref: str, python: str, timeout: int, arch: str = "amd64", workers: int = 2,
           threads: int = 8) -> str:
    cmd = ", ".join(f'"{part}"' for part in gunicorn_command(timeout, workers, threads))
    return f"""# syntax=docker/dockerfile:1
# The app {app_name} as one HTTP service. Written by `portafunc package --target container`; build it with
#   docker build -t IMAGE .
# hadolint ignore=DL3029
FROM --platform=linux/{arch} python:{python}-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A user without a login shell or home: the service never runs as root.
RUN useradd --system --no-log-init --no-create-home --uid {UID} --shell /usr/sbin/nologin portafunc

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt /srv/requirements.txt
RUN pip install --no-cache-dir --requirement /srv/requirements.txt

# portafunc and its adapters (vendored with their entry points), then the application itself.
COPY site/ {SITE}/
COPY app/ {APP}/
RUN python -m compileall -q --invalidation-mode unchecked-hash {SITE} {APP}

ENV PYTHONPATH={SITE}:{APP} \\
    PORTAFUNC_APP={app_ref} \\
    PORT=8080
WORKDIR {APP}
USER {UID}
EXPOSE 8080
CMD [{cmd}]
"""
