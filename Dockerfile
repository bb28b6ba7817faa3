# syntax=docker/dockerfile:1
#
# One image for all eight UISE services. docker-compose.yml picks the service per container:
#   command: ["python", "-m", "uise_<service>"]
# (registry, identity, intake, signature, validation, routing, deadline, reporting; plus
#  `python -m uise_stack.topics` to create the Kafka topics, and `uise-dlq` for dead letters).

# ---------------------------------------------------------------------------------------------
# Build stage: resolve the locked dependencies into /app/.venv with uv.
# ---------------------------------------------------------------------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install uv

# gcc for the one C extension of the workspace, libs/streebog (compiled Streebog); the runtime
# stage gets only the built module.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Third-party dependencies first, from the lock file and the members' pyproject.toml only, so
# this layer is reused until a dependency changes.
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY libs/common/pyproject.toml libs/common/
COPY libs/streebog/pyproject.toml libs/streebog/
COPY services/registry/pyproject.toml services/registry/
COPY services/identity/pyproject.toml services/identity/
COPY services/intake/pyproject.toml services/intake/
COPY services/signature/pyproject.toml services/signature/
COPY services/validation/pyproject.toml services/validation/
COPY services/routing/pyproject.toml services/routing/
COPY services/deadline/pyproject.toml services/deadline/
COPY services/reporting/pyproject.toml services/reporting/
COPY infra/embedded/pyproject.toml infra/embedded/
RUN uv sync --frozen --all-packages --no-dev --no-editable --no-install-workspace

# Then the workspace itself; the members are installed as ordinary (non-editable) packages, so
# the runtime stage needs only the virtual environment.
COPY contracts/ contracts/
COPY libs/ libs/
COPY services/ services/
COPY infra/ infra/
RUN uv sync --frozen --all-packages --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
# Runtime stage: the virtual environment and a non-root user, nothing else.
# ---------------------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UISE_HTTP_HOST=0.0.0.0 \
    UISE_DATA_DIR=/var/lib/uise

# PDFs (the printed list of forms, reports) embed DejaVu Sans: Cyrillic and Kazakh letters.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 uise \
    && useradd --system --uid 10001 --gid uise --home-dir /var/lib/uise --no-create-home \
       --shell /usr/sbin/nologin uise \
    && mkdir -p /var/lib/uise \
    && chown uise:uise /var/lib/uise

# The venv's interpreter links to /usr/local/bin/python3.11, the same in both stages.
COPY --from=build /app/.venv /app/.venv

WORKDIR /app
USER uise:uise

EXPOSE 8001 8002 8003 8004 8005 8006 8007 8008

# No default service: compose sets `command: ["python", "-m", "uise_<service>"]`.
CMD ["python", "-c", "import sys; sys.exit('choose a service: python -m uise_<registry|identity|intake|signature|validation|routing|deadline|reporting>')"]
