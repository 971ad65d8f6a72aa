# A community stdio MCP server from PyPI behind mcp-bridge: one image per catalog entry
# ([tool.mcp-servers.catalog.<name>] in pyproject.toml). The context is made on the host by
# `scripts/catalog.py context` (the entry's hashed requirements.txt and the wheels it pins), so
# the Python install is offline and the pod downloads nothing when it starts. The server gets a
# virtualenv of its own: its dependencies (an older `mcp`, say) never meet the bridge's.
# build-images.sh passes the bridge's `server` stage (images/Dockerfile), the image without its
# revision label, so that a commit that leaves the bridge as it was rebuilds no catalog image.
ARG BRIDGE_IMAGE=localhost/mcp-servers/bridge:0.1.0
ARG BUILD_IMAGE=python:3.11

FROM ${BUILD_IMAGE} AS build
ENV PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
COPY . /context
# Bytecode is compiled here: the running container's root filesystem is read-only.
RUN python3 -m venv /opt/server \
 && /opt/server/bin/pip install --no-compile --no-deps --require-hashes \
      --find-links /context/wheels -r /context/requirements.txt \
 && /opt/server/bin/python -m pip uninstall -q -y pip setuptools \
 && rm -f /opt/server/bin/activate* /opt/server/bin/Activate.ps1 /opt/server/bin/pip* \
 && /opt/server/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/server/lib

FROM ${BRIDGE_IMAGE}
# Debian packages a server shells out to (git for mcp-server-git), from Debian's archive like
# the base image's own; the one step of these builds that needs the network.
ARG APT_PACKAGES=""
USER 0:0
RUN if [ -n "${APT_PACKAGES}" ]; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${APT_PACKAGES} \
      && apt-get clean \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /usr/share/doc/* /usr/share/man/*; \
    fi
USER 1000:1000
COPY --from=build /opt/server /opt/server
ENV PATH=/opt/venv/bin:/opt/server/bin:/usr/local/bin:/usr/bin:/bin
ARG COMMAND
ENV MCP_BRIDGE_COMMAND=${COMMAND}
ARG NAME
ENV MCP_BRIDGE_NAME=${NAME}
# Fails the build when the command's executable is missing.
RUN ["/opt/venv/bin/python", "-c", "import json, os, shutil, sys; exe = json.loads(os.environ['MCP_BRIDGE_COMMAND'])[0]; sys.exit(0 if shutil.which(exe) else f'COMMAND: no executable {exe!r} in the image')"]

# The entry's own labels: build-images.sh builds on the bridge image without its labels.
ARG PACKAGE
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="mcp-servers/${NAME}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      io.mcp-servers.package="pypi:${PACKAGE}"
