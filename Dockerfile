# The gitops-actions image: the CLI with the exact dependencies of requirements/runtime.txt,
# git, kustomize and helm, running as a non-root user. The GitLab components (templates/)
# and the bot (deploy/) run it; .github/workflows/image.yml publishes it for each release
# as ghcr.io/<owner>/gitops-actions:<version>.
#   docker build -t gitops-actions .
# The target `builder` is the same with Debian's buildah, running as root: the GitLab build
# component runs it (ghcr.io/<owner>/gitops-actions:<version>-builder), so a runner without
# a Docker engine builds daemonless (docs/build.md says what the runner must allow).
#   docker build --target builder -t gitops-actions:builder .
# Each part comes from an image named by a build argument; pin them by digest
# (--build-arg KUSTOMIZE_IMAGE=registry.k8s.io/kustomize/kustomize@sha256:...).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm
ARG KUSTOMIZE_IMAGE=registry.k8s.io/kustomize/kustomize:v5.6.0
ARG HELM_IMAGE=docker.io/alpine/helm:3.17.3
# the stage or image holding the runtime lock's wheels in /wheels (default: downloaded here)
ARG WHEELS=download

FROM ${KUSTOMIZE_IMAGE} AS kustomize
FROM ${HELM_IMAGE} AS helm

FROM ${BASE_IMAGE} AS download
ARG WHEELS
COPY requirements/runtime.txt /tmp/runtime.txt
RUN mkdir -p /wheels && if [ "$WHEELS" = download ]; then \
      python3 -m pip download --no-cache-dir --no-deps --require-hashes --only-binary :all: \
        -r /tmp/runtime.txt -d /wheels; \
    fi

FROM ${WHEELS} AS wheels

FROM ${BASE_IMAGE} AS install
COPY --from=wheels /wheels /wheels
COPY requirements/runtime.txt /tmp/runtime.txt
COPY gitops_actions /opt/gitops-actions/src/gitops_actions
COPY schemas /opt/gitops-actions/src/schemas
RUN python3 -m venv /opt/gitops-actions \
 && /opt/gitops-actions/bin/python -m pip install --no-cache-dir --no-index --find-links /wheels \
      --require-hashes --only-binary :all: -r /tmp/runtime.txt \
 && site="$(/opt/gitops-actions/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
 && echo /opt/gitops-actions/src > "$site/gitops_actions_source.pth" \
 && printf '#!/bin/sh\nexec /opt/gitops-actions/bin/python -I -m gitops_actions "$@"\n' \
      > /opt/gitops-actions/bin/gitops-actions \
 && chmod 755 /opt/gitops-actions/bin/gitops-actions \
 && /opt/gitops-actions/bin/python -m compileall -q /opt/gitops-actions/src

# What both images share: the tools and the CLI, on PATH.
FROM ${BASE_IMAGE} AS runtime
COPY --from=kustomize /app/kustomize /usr/local/bin/kustomize
COPY --from=helm /usr/bin/helm /usr/local/bin/helm
RUN { command -v git >/dev/null || { apt-get update \
      && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
      && rm -rf /var/lib/apt/lists/*; }; } \
 && echo 'gitops:x:10001:10001:gitops-actions:/home/gitops:/bin/sh' >> /etc/passwd \
 && echo 'gitops:x:10001:' >> /etc/group \
 && mkdir -p /home/gitops /work && chown 10001:10001 /home/gitops /work
COPY --from=install /opt/gitops-actions /opt/gitops-actions
ENV PATH=/opt/gitops-actions/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /work
ENTRYPOINT ["gitops-actions"]

# The build component's image: buildah (and uidmap, through its package; no fuse-overlayfs or
# runc: vfs storage and chroot isolation need neither), as root: as another user buildah
# would need subordinate id ranges and a setuid newuidmap besides. netavark is named so that
# apt takes it for the network stack containers-common asks for, not
# containernetworking-plugins and iptables (43 MiB more installed). Short names
# (FROM python:3.12) mean Docker Hub, as with docker.
FROM runtime AS builder
RUN { command -v buildah >/dev/null || { apt-get update \
      && apt-get install -y --no-install-recommends buildah netavark \
      && rm -rf /var/lib/apt/lists/*; }; } \
 && mkdir -p /etc/containers/registries.conf.d \
 && printf 'unqualified-search-registries = ["docker.io"]\n' \
      > /etc/containers/registries.conf.d/50-docker-hub.conf
USER 0:0
ENV HOME=/root BUILDAH_ISOLATION=chroot STORAGE_DRIVER=vfs

# The default image: every step but build, as user 10001.
FROM runtime AS tool
USER 10001:10001
ENV HOME=/home/gitops
