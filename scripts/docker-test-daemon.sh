#!/usr/bin/env bash
# Run a command (e.g. `make test`) with a private Docker daemon, so that the tests that build and
# run the serving image run instead of skipping:
#
#   sudo scripts/docker-test-daemon.sh make test
#
# Needs root, `dockerd` (Debian's docker.io) and `debootstrap`; installs nothing. No image is
# pulled: the base image, Debian bookworm with python3 and python3-venv, is made with debootstrap
# from the Debian mirror apt is configured with, imported with `docker import`, and its tar is
# cached in $RUNWRIGHT_CACHE (default /var/cache/runwright, outside the checkout: CI clones
# afresh each run, and a cold base costs 2-4 minutes). Delete the tar to make a new base.
#
# The command sees DOCKER_HOST (the daemon's own socket), DOCKER_BUILDKIT=0 (BuildKit needs a
# frontend image from a registry) and RUNWRIGHT_TEST_BASE_IMAGE (the base's tag, passed as the
# Dockerfile's BASE_IMAGE). On exit, whatever the command's status, the containers, the daemon
# and its data and exec roots (a temporary directory) are removed; only the cached tar stays.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "$0: dockerd needs root" >&2
  exit 1
fi
for tool in dockerd debootstrap apt-get; do
  if ! command -v "$tool" >/dev/null; then
    echo "$0: $tool is not installed" >&2
    exit 1
  fi
done

cache=${RUNWRIGHT_CACHE:-/var/cache/runwright}
base_image=runwright-base:bookworm
base_tar=$cache/base-bookworm.tar
# Debian's own client (docker.io), the same version as its daemon, before any other on PATH.
docker=/usr/bin/docker
[ -x "$docker" ] || docker=docker

# One private daemon at a time on a machine: they would share the docker0 bridge and the cache.
mkdir -p "$cache"
exec 9>"$cache/lock"
if ! flock --nonblock 9; then
  echo "waiting for another $0 on this machine to finish" >&2
  flock 9
fi

# What dockerd makes outside its roots, and was not there before: removed at the end.
bridge_existed="" run_docker_existed=""
if [ -e /sys/class/net/docker0 ]; then bridge_existed=yes; fi
if [ -e /run/docker ]; then run_docker_existed=yes; fi
root=$(mktemp -d /var/tmp/runwright-docker.XXXXXX)
socket=$root/docker.sock
export DOCKER_HOST=unix://$socket
pid=""

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local status=$?
  trap '' INT TERM # a second signal must not cut the clean-up short
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    containers=$("$docker" ps --all --quiet 2>/dev/null || true)
    if [ -n "$containers" ]; then
      # shellcheck disable=SC2086  # one id per word
      "$docker" rm --force $containers >/dev/null 2>&1 || true
    fi
    kill "$pid"
    for _ in $(seq 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # dockerd leaves its overlay and shm mounts behind when killed hard.
  grep -o " $root/[^ ]*" /proc/mounts | sort -r | while read -r mount; do
    umount -l "$mount" 2>/dev/null || true
  done || true
  rm -rf "$root"
  if [ -z "$bridge_existed" ] && [ -e /sys/class/net/docker0 ]; then
    ip link delete docker0 2>/dev/null || true
  fi
  if [ -z "$run_docker_existed" ]; then
    rmdir /run/docker/plugins /run/docker 2>/dev/null || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
# No iptables rules, forwarding or masquerading on the host: containers only need the published
# port on 127.0.0.1, which docker-proxy serves. Its own session: a Ctrl-C reaches the command,
# and the daemon is stopped below, after its containers.
setsid dockerd \
  --data-root "$root/data" --exec-root "$root/exec" --pidfile "$root/dockerd.pid" \
  -H "unix://$socket" --storage-driver=overlay2 \
  --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
  >"$root/dockerd.log" 2>&1 9>&- &
pid=$!
until "$docker" info >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null || ((SECONDS - started > 60)); then
    echo "$0: dockerd did not answer \`docker info\`:" >&2
    tail -20 "$root/dockerd.log" >&2
    exit 1
  fi
  sleep 0.5
done
pid=$(cat "$root/dockerd.pid")
echo "dockerd ready in $((SECONDS - started)) s ($DOCKER_HOST)" >&2

if [ ! -s "$base_tar" ]; then
  started=$SECONDS
  # The mirror apt itself uses for bookworm (the machine may reach no other).
  # shellcheck disable=SC2016  # apt's own $(FIELD) syntax
  mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' |
    awk '$2 == "bookworm" { print $1; exit }')
  if [ -z "$mirror" ]; then
    echo "$0: apt has no source for Debian bookworm to make the base image from" >&2
    exit 1
  fi
  rootfs=$root/rootfs
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$mirror" \
    >"$root/debootstrap.log" 2>&1 || {
    tail -20 "$root/debootstrap.log" >&2
    exit 1
  }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" --numeric-owner -cf "$base_tar.tmp" .
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$rootfs"
  echo "base image made with debootstrap in $((SECONDS - started)) s, cached as $base_tar" >&2
fi
started=$SECONDS
"$docker" import "$base_tar" "$base_image" >/dev/null
echo "base image $base_image imported in $((SECONDS - started)) s" >&2

export DOCKER_BUILDKIT=0 RUNWRIGHT_TEST_BASE_IMAGE=$base_image
status=0
"$@" || status=$?
exit "$status"
