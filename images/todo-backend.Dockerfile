# The reference backend, mcp-todo-backend (clients/todo-backend), on the conventions of the
# server images (images/Dockerfile): the context is a wheelhouse made on the host, so the build
# needs no network, and the same base pair.
#   requirements.txt  uv export --frozen --no-dev --package mcp-todo-backend --no-emit-workspace
#   wheels/           pip download --only-binary=:all: -r requirements.txt (as build-images.sh)
#   project/          uv build --wheel --package mcp-backend-client; ... --package mcp-todo-backend
#   docker build -f images/todo-backend.Dockerfile -t localhost/mcp-servers/todo-backend:0.1.0 CONTEXT
ARG BASE_IMAGE=python:3.11-slim
ARG BUILD_IMAGE=python:3.11

FROM ${BUILD_IMAGE} AS venv
ENV PIP_NO_INDEX=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY requirements.txt /wheelhouse/requirements.txt
COPY wheels/ /wheelhouse/wheels/
COPY project/ /wheelhouse/project/
# The requirements list is the complete locked closure, hence --no-deps; the two workspace
# wheels are not in it (they are not on an index), so they go in after it.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-deps --find-links /wheelhouse/wheels \
      --require-hashes -r /wheelhouse/requirements.txt \
 && /opt/venv/bin/pip install --no-deps /wheelhouse/project/*.whl \
 && test -x /opt/venv/bin/mcp-todo-backend \
 && /opt/venv/bin/python -m pip uninstall -q -y pip setuptools \
 && rm -f /opt/venv/bin/activate* /opt/venv/bin/Activate.ps1 /opt/venv/bin/pip*

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TODO_BACKEND_HOST=0.0.0.0 \
    TODO_BACKEND_PORT=8080
COPY --from=venv /opt/venv /opt/venv
# Fails the build when BUILD_IMAGE's Python is not the one in BASE_IMAGE.
RUN ["/opt/venv/bin/python", "-c", "import pydantic_core, mcp_todo_backend.app"]
USER 1000:1000
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["/opt/venv/bin/mcp-todo-backend"]

ARG VERSION=0.0.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="mcp-servers/todo-backend" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
