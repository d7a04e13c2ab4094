# syntax=docker/dockerfile:1
# tenantgate container image. No image is published: build it and push it to your own registry
# (docker takes the same commands):
#   podman build -t registry.example.com/tenantgate:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#   podman push registry.example.com/tenantgate:0.1.0
# CI builds it with podman from a debian:12 made with debootstrap and runs it read-only as 65534
# (scripts/fresh-machine.sh).
# Build stage: Debian 12 with the very scripts CI and the README use (scripts/deps.sh build,
# scripts/build.sh). Runtime stage: `scratch` plus the binary and exactly the shared libraries it
# links (scripts/image-rootfs.sh), about 10 MB; no shell; runs as nobody (65534); needs no
# writable path, so it runs with a read-only root filesystem.
#
# Ports (defaults used by manifests/ and the Helm chart; tenantgate listens only where its flags say):
#   8443  proxy, TLS         --secure-listen-address=:8443
#   8080  proxy, plain HTTP  --insecure-listen-address=:8080 (behind a TLS-terminating mesh/ingress)
#   9091  endpoints          --internal-listen-address=:9091 (/healthz /readyz /metrics, no auth)

FROM debian:12 AS build
WORKDIR /src
# Dependencies first, so this layer is cached while only the sources change.
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh build \
 && { dpkg -s ca-certificates >/dev/null 2>&1 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null; } \
 && rm -rf /var/lib/apt/lists/*
COPY . .
# Tests are CI's job (scripts/test.sh); cmocka is not among the build dependencies.
RUN bash scripts/build.sh build -DTG_TESTS=OFF \
 && ./build/tenantgate --version \
 && bash scripts/image-rootfs.sh build/tenantgate /rootfs

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="tenantgate" \
      org.opencontainers.image.description="Multi-tenant proxy for Prometheus / Thanos Querier: Kubernetes authn/authz plus PromQL namespace enforcement (replaces kube-rbac-proxy + prom-label-proxy)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="scratch" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="README.md"
COPY --from=build /rootfs/ /
USER 65534:65534
EXPOSE 8443/tcp 8080/tcp 9091/tcp
ENTRYPOINT ["/usr/local/bin/tenantgate"]
