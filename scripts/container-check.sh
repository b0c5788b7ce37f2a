#!/usr/bin/env bash
# Build docker/Dockerfile and run the test suite inside the image: proof that the image builds and
# that r1lab passes its tests in it.
#
#   scripts/container-check.sh                 # build, then `pnpm test` in the container
#   scripts/container-check.sh --no-test      # build only
#   scripts/container-check.sh -- pnpm typecheck   # build, then run another command
#   scripts/container-check.sh --user root    # run as root (as CI's .ci/run does) instead of r1lab
#
# Engine: Docker when a Docker daemon answers, else podman (rootful or rootless), configured here
# through a private containers.conf: runtime runc, cgroupfs, file events, and default ulimits no
# higher than this machine's hard limits (podman's defaults can exceed them and then every container
# fails to start).
#
# Base image: node:20-bookworm from Docker Hub by default. Where no image registry is reachable
# (only Debian's mirror and the npm registry), `--debootstrap` (the default under podman when the
# base image is not present locally) builds a Debian bookworm root file system with debootstrap from
# Debian's mirror, imports it with `podman import`, and the Dockerfile installs Node from the npm
# registry (docker/install-node.sh). The root file system is cached in $R1LAB_CONTAINER_CACHE.
#
# Environment: R1LAB_CONTAINER_CACHE (default ~/.cache/r1lab/container), DEBIAN_MIRROR
# (default http://deb.debian.org/debian), IMAGE (default localhost/r1lab:dev).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${R1LAB_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/r1lab/container}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=${IMAGE:-localhost/r1lab:dev}
DEBIAN_BASE=localhost/r1lab-bookworm:base
BASE=""
RUN_TESTS=1
RUN_USER=""
DEBOOTSTRAP=auto
CMD=(pnpm test)

while [ $# -gt 0 ]; do
  case "$1" in
    --base) BASE=$2; DEBOOTSTRAP=0; shift 2 ;;
    --debootstrap) DEBOOTSTRAP=1; shift ;;
    --no-test) RUN_TESTS=0; shift ;;
    --user) RUN_USER=$2; shift 2 ;;
    --) shift; CMD=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "container-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

t0=$SECONDS
step() { printf '\n== [%4ds] %s\n' "$((SECONDS - t0))" "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "container-check: '$*' needs root" >&2; exit 1; fi; }

# --- the engine -----------------------------------------------------------------------------
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  ENGINE=docker
else
  if ! command -v podman >/dev/null; then
    step "no Docker daemon and no podman: installing podman (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc uidmap slirp4netns fuse-overlayfs >/dev/null
  fi
  ENGINE=podman
  mkdir -p "$CACHE"
  # Podman's defaults (nofile 1048576, nproc 4194304) exceed the hard limits of many sandboxes and
  # VMs, and podman itself caps its own nproc at kernel.pid_max: take the smallest of each.
  nofile=$(ulimit -Hn); nproc_max=$(ulimit -Hu); pid_max=$(cat /proc/sys/kernel/pid_max)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc_max" = unlimited ] && nproc_max=4194304
  [ "$nproc_max" -gt "$pid_max" ] && nproc_max=$pid_max
  cat > "$CACHE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc_max}:${nproc_max}"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  export CONTAINERS_CONF="$CACHE/containers.conf"
fi
step "engine: $ENGINE ($($ENGINE --version))"

# --- the base image -------------------------------------------------------------------------
has_image() { $ENGINE image inspect "$1" >/dev/null 2>&1; }
if [ -z "$BASE" ]; then
  if [ "$DEBOOTSTRAP" = auto ]; then
    if [ "$ENGINE" = docker ] || has_image node:20-bookworm; then DEBOOTSTRAP=0; else DEBOOTSTRAP=1; fi
  fi
  if [ "$DEBOOTSTRAP" = 1 ]; then BASE=$DEBIAN_BASE; else BASE=node:20-bookworm; fi
fi

if [ "$BASE" = "$DEBIAN_BASE" ] && ! has_image "$DEBIAN_BASE"; then
  command -v debootstrap >/dev/null || {
    step "installing debootstrap (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  if [ ! -f "$CACHE/rootfs/etc/debian_version" ]; then
    step "debootstrap: Debian bookworm (minbase) from $MIRROR (a few minutes)"
    as_root rm -rf "$CACHE/rootfs.tmp"
    as_root debootstrap --variant=minbase bookworm "$CACHE/rootfs.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
      tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    as_root mv "$CACHE/rootfs.tmp" "$CACHE/rootfs"
  fi
  # The apt sources a Debian image has: the release, its updates, and security.
  as_root tee "$CACHE/rootfs/etc/apt/sources.list" >/dev/null <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
EOF
  as_root rm -rf "$CACHE/rootfs/var/cache/apt/archives/"*.deb "$CACHE/rootfs/var/lib/apt/lists/"*
  step "podman import -> $DEBIAN_BASE"
  as_root tar -C "$CACHE/rootfs" -c . | $ENGINE import --change 'CMD ["bash"]' - "$DEBIAN_BASE" >/dev/null
fi
step "base image: $BASE"

# --- build ----------------------------------------------------------------------------------
step "build $IMAGE from docker/Dockerfile"
build_args=(--build-arg "BASE_IMAGE=$BASE" -f docker/Dockerfile -t "$IMAGE")
# Podman builds on the host network (no bridge or firewall set-up is needed for apt and npm) and
# in Docker's image format (the OCI format drops SHELL, HEALTHCHECK and the like).
[ "$ENGINE" = podman ] && build_args+=(--network host --format docker)
# Behind a TLS-intercepting proxy the host trusts extra CAs (/usr/local/share/ca-certificates);
# the build's RUN steps see them, and update-ca-certificates adds them to the image's bundle.
if [ "$ENGINE" = podman ] && compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  build_args+=(--volume /usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro)
  echo "container-check: the build trusts this host's extra CAs in /usr/local/share/ca-certificates"
fi
$ENGINE build "${build_args[@]}" .
step "built $IMAGE"

# --- run ------------------------------------------------------------------------------------
if [ "$RUN_TESTS" = 1 ]; then
  step "run: ${CMD[*]}"
  # No network: the tests use loopback only. bubblewrap (the code sandbox) needs what a container
  # forbids by default: creating user namespaces (seccomp, AppArmor) and mounting a fresh /proc,
  # which the kernel refuses while /proc has masked paths (podman: unmask=ALL; Docker:
  # systempaths=unconfined). No added capabilities: CAP_SYS_ADMIN would also lift RLIMIT_NPROC,
  # which the sandbox relies on against fork bombs.
  run_args=(--rm --network none --security-opt seccomp=unconfined --security-opt apparmor=unconfined -e CI=true)
  if [ "$ENGINE" = podman ]; then run_args+=(--security-opt unmask=ALL); else
    run_args+=(--security-opt systempaths=unconfined); fi
  [ -n "$RUN_USER" ] && run_args+=(--user "$RUN_USER")
  [ -t 1 ] && run_args+=(-t)
  $ENGINE run "${run_args[@]}" "$IMAGE" "${CMD[@]}"
  step "passed: ${CMD[*]} in $IMAGE"
fi
