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
# Bumped when the base's recipe below changes, so a cached base of an older recipe is rebuilt.
BASE_RECIPE=2
[ -x build/kube-proxy ] || { echo "build/kube-proxy is missing: run make binary" >&2; exit 1; }

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo ">> docker build -f manifests/Dockerfile -t $IMAGE ."
  docker build -f manifests/Dockerfile -t "$IMAGE" .
  exit 0
fi

for tool in podman mmdebstrap; do
  command -v $tool >/dev/null 2>&1 || { echo "$tool is missing (no docker engine either): run make setup" >&2; exit 1; }
done
recipe=$(podman image inspect --format '{{index .Config.Labels "kube-proxy-bpf.base-recipe"}}' "$BASE" 2>/dev/null || true)
if [ "$recipe" != "$BASE_RECIPE" ]; then
  echo ">> base image $BASE from Debian's archive (mmdebstrap --variant=minbase bookworm)"
  tmp=$(mktemp -d /tmp/kpb-image-XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  # Like Debian's -slim images: no documentation, manual pages or translations (the dpkg
  # excludes stay in the image, so the Dockerfile's packages get none either), no apt caches.
  mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*' \
    bookworm "$tmp/rootfs.tar"
  podman import --quiet --change "LABEL kube-proxy-bpf.base-recipe=$BASE_RECIPE" "$tmp/rootfs.tar" "$BASE" >/dev/null
fi
echo ">> podman build -f manifests/Dockerfile -t $IMAGE ."
old=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --quiet --isolation chroot --network host --pull=never -f manifests/Dockerfile -t "$IMAGE" . >/dev/null
# The previous build lost its tag; remove it (and only it) so repeated builds do not pile up.
new=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old" ] && [ "$old" != "$new" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi
podman image inspect --format '{{.Id}} {{.Size}}' "$IMAGE" | awk -v i="$IMAGE" '{printf ">> %s: %s, %.1f MiB\n", i, substr($1,1,12), $2/1048576}'
