# syntax=docker/dockerfile:1
# pep: children, PEP templates and documents, section saves, sign-offs, attachments, exports.
# Build from the repository root:  docker build -f deploy/docker/Dockerfile.pep -t epep/pep .
# The same image runs the service (default CMD) and its migrations:  python -m services.pep migrate
#
# Every Dockerfile in this folder is self-contained (compose and CI build them without a shared base
# image first); the builder stage is identical in all of them, so the layer cache shares it.

# Pin by digest for reproducible builds: python:3.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: dependencies into a virtualenv, copied whole into the runtime stage --------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# The lock file only: every version pinned and every file checked against its hash (requirements.in says what
# the services need; `make lock` writes requirements.txt). Every dependency ships manylinux wheels for CPython
# 3.11, so no compiler is needed here.
RUN /opt/venv/bin/pip install --require-hashes --requirement /tmp/requirements.txt

# ---- runtime ----------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# The release, on every span and metric as service.version:  docker build --build-arg EPEP_VERSION=1.4.0 ...
ARG EPEP_VERSION=dev
LABEL org.opencontainers.image.version=${EPEP_VERSION}
ENV PATH=/opt/venv/bin:$PATH \
    EPEP_SERVICE_VERSION=${EPEP_VERSION} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EPEP_ENVIRONMENT=production \
    EPEP_HOST=0.0.0.0 \
    EPEP_PORT=8102
# PEP PDFs and blank forms are tagged PDFs made by WeasyPrint, which needs Pango and HarfBuzz; they embed
# Liberation Sans, so every name prints as written (ł, ğ, ő...). fontconfig builds the font cache now: at run
# time the root filesystem is read-only.
RUN apt-get update && apt-get install --yes --no-install-recommends \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation fontconfig \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it without looking the name up.
RUN groupadd --system --gid 10001 epep \
 && useradd --system --uid 10001 --gid epep --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin epep
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# Only what this service imports: the shared library (with the bus migrations) and its own package.
COPY shared/ shared/
COPY services/__init__.py services/__init__.py
COPY services/pep/ services/pep/
# Bytecode now: at run time the root filesystem is read-only and the code is owned by root.
RUN python -m compileall -q shared services
USER 10001:10001
EXPOSE 8102
# /healthz only says the process is alive; /readyz (its database) is for the orchestrator's readiness
# checks, not for restarting a container. No curl in the slim image, so python asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('EPEP_PORT', '8102') + '/healthz', timeout=4)"]
CMD ["python", "-m", "services.pep", "serve"]
