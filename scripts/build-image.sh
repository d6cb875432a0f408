#!/bin/bash
# `make image`: builds kube-proxy-bpf:dev from manifests/Dockerfile.
#  - With a running docker engine: `docker build` (the base comes from the engine's registry).
#  - Otherwise with podman and Debian's archive only: the base image debian:bookworm-slim is made
#    by `mmdebstrap --variant=minbase bookworm` and `podman import` (kept in podman's store, so
#    later builds skip it: delete it with `podman rmi debian:bookworm-slim` to refresh), then
#    `podman build --isolation chroot --network host --pull=never` builds the Dockerfile as it is
#    (its apt-get reaches Debian's archive through the host network; the layer is cached).
# Needs root for podman; the Makefile installs podman, runc and mmdebstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-kube-proxy-bpf:dev}
BASE=docker.io/library/debian:bookworm-slim
[ -x build/kube-proxy ] || { echo "build/kube-proxy is missing: run make binary" >&2; exit 1; }

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo ">> docker build -f manifests/Dockerfile -t $IMAGE ."
  docker build -f manifests/Dockerfile -t "$IMAGE" .
  exit 0
fi

for tool in podman mmdebstrap; do
  command -v $tool >/dev/null 2>&1 || { echo "$tool is missing (no docker engine either): run make setup" >&2; exit 1; }
done
if ! podman image exists "$BASE"; then
  echo ">> base image $BASE from Debian's archive (mmdebstrap --variant=minbase bookworm)"
  tmp=$(mktemp -d /tmp/kpb-image-XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$tmp/rootfs.tar"
  podman import --quiet "$tmp/rootfs.tar" "$BASE" >/dev/null
fi
echo ">> podman build -f manifests/Dockerfile -t $IMAGE ."
podman build --quiet --isolation chroot --network host --pull=never -f manifests/Dockerfile -t "$IMAGE" . >/dev/null
podman image inspect --format '{{.Id}} {{.Size}}' "$IMAGE" | awk -v i="$IMAGE" '{printf ">> %s: %s, %.1f MiB\n", i, substr($1,1,12), $2/1048576}'
