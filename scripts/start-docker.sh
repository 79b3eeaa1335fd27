#!/usr/bin/env bash
# Make a local Docker engine answer, and make sure the two registry-free test
# images exist (consist-test/busybox:1 and consist-test/busybox:2).
#
# Idempotent: safe to run again and again. Exits 0 once `docker info` answers
# and both images are present; exits non-zero, saying why, otherwise.
#
# Env knobs:
#   DOCKERD_LOG        dockerd log file          (default /tmp/dockerd.log)
#   DOCKERD_WAIT_S     seconds to wait for engine (default 60)
set -euo pipefail

LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
WAIT_S=${DOCKERD_WAIT_S:-60}
IMAGE_REPO=consist-test/busybox
T0=$(date +%s.%N)

say() { echo "start-docker: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
engine_up() { timeout 10 docker info >/dev/null 2>&1; }
# Live dockerd pids (zombies of a killed daemon do not count).
dockerd_pids() { ps -C dockerd -o pid=,stat= 2>/dev/null | awk '$2 !~ /^Z/ {print $1}' | tr '\n' ' '; }

CLEANUP=()
trap 'rm -rf "${CLEANUP[@]}"' EXIT

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else SUDO=(false); fi
fi

command -v docker >/dev/null 2>&1 || NEED_CLIENT=1

install_packages() {
  local pkgs=(docker.io busybox-static)
  export DEBIAN_FRONTEND=noninteractive
  # Only refresh the package lists when apt does not know the packages yet.
  if ! apt-cache show "${pkgs[@]}" >/dev/null 2>&1 \
     || [ "$(apt-cache policy docker.io | awk '/Candidate:/ {print $2}')" = "(none)" ]; then
    say "apt-get update"
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
  fi
  say "apt-get install -y ${pkgs[*]}"
  if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/tmp/start-docker-apt.log 2>&1; then
    # The lists may be stale (package versions gone from the mirror): refresh once and retry.
    "${SUDO[@]}" apt-get update -qq || true
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/tmp/start-docker-apt.log 2>&1 \
      || { tail -n 20 /tmp/start-docker-apt.log >&2; die "apt-get install ${pkgs[*]} failed (log: /tmp/start-docker-apt.log)"; }
  fi
}

drop_stale_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(tr -dc '0-9' <"$file" 2>/dev/null || true)
  if [ -z "$pid" ] || ! ps -p "$pid" -o stat= 2>/dev/null | grep -qv '^Z'; then
    "${SUDO[@]}" rm -f "$file"
  fi
}

start_engine() {
  [ "${SUDO[0]:-}" != false ] || die "not root and no sudo: cannot install or start dockerd"
  if [ -z "${NEED_CLIENT:-}" ] && command -v dockerd >/dev/null 2>&1 && [ -x /bin/busybox ]; then
    :  # everything already installed
  else
    install_packages
  fi
  command -v dockerd >/dev/null 2>&1 || die "dockerd not found after installing docker.io"

  if [ -n "$(dockerd_pids)" ]; then
    say "a dockerd process is already running (pid $(dockerd_pids)); waiting for it"
  else
    # A daemon killed hard leaves pid files behind, and may linger as a zombie whose
    # pid dockerd takes for a live process ("pid file found", "timeout waiting for
    # containerd"): drop pid files that name no live process.
    drop_stale_pidfile /var/run/docker.pid
    drop_stale_pidfile /var/run/docker/containerd/containerd.pid
    say "starting dockerd (log: $LOG)"
    # setsid + nohup: the daemon outlives this script and its terminal.
    "${SUDO[@]}" setsid nohup dockerd --storage-driver=vfs --iptables=false --bridge=none \
      >"$LOG" 2>&1 </dev/null &
  fi

  local deadline=$(( $(date +%s) + WAIT_S ))
  until engine_up; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "last lines of $LOG:"; tail -n 25 "$LOG" >&2 2>/dev/null || true
      die "Docker engine did not answer within ${WAIT_S}s (DOCKER_HOST=${DOCKER_HOST:-unset})"
    fi
    if [ -z "$(dockerd_pids)" ]; then
      say "last lines of $LOG:"; tail -n 25 "$LOG" >&2 2>/dev/null || true
      die "dockerd exited during startup"
    fi
    sleep 0.5
  done
}

# Build a busybox root filesystem and `docker import` it as $1 (a tag).
# $2 (optional) is written to /etc/consist-variant so variants differ in content.
import_busybox_image() {
  local tag=$1 variant=${2:-}
  [ -x /bin/busybox ] || install_packages
  local work; work=$(mktemp -d /tmp/consist-rootfs.XXXXXX)
  CLEANUP+=("$work")
  local root=$work/rootfs
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  # --list-full gives paths like bin/sh, usr/bin/env; link each to /bin/busybox.
  while read -r applet; do
    if [ -z "$applet" ] || [ "$applet" = "bin/busybox" ]; then continue; fi
    mkdir -p "$root/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/$applet"
  done < <(/bin/busybox --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  if [ -n "$variant" ]; then printf '%s\n' "$variant" >"$root/etc/consist-variant"; fi
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
      -C "$root" -cf "$work/rootfs.tar" .
  docker import \
    --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    --message "consist test image ($tag)" \
    "$work/rootfs.tar" "$tag" >/dev/null || die "docker import $tag failed"
  rm -rf "$work"
}

ensure_image() {
  local tag=$1 variant=${2:-}
  if docker image inspect "$tag" >/dev/null 2>&1; then return 0; fi
  say "importing $tag"
  import_busybox_image "$tag" "$variant"
}

if engine_up; then
  STATE="already running"
else
  start_engine
  STATE="started"
fi

ensure_image "$IMAGE_REPO:1"
ensure_image "$IMAGE_REPO:2" 2

SERVER=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
DRIVER=$(docker info --format '{{.Driver}}' 2>/dev/null || echo '?')
ID1=$(docker image inspect --format '{{.Id}}' "$IMAGE_REPO:1")
ID2=$(docker image inspect --format '{{.Id}}' "$IMAGE_REPO:2")
ELAPSED=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
echo "docker engine ${STATE}: server ${SERVER}, storage ${DRIVER}, ${IMAGE_REPO}:1=${ID1:7:12} ${IMAGE_REPO}:2=${ID2:7:12}, ${ELAPSED}s"
