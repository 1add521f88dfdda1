#!/usr/bin/env bash
# Builds the container image from the Dockerfile and proves it serves (SPEC §14), on a
# machine that can reach Debian's mirror and the package registries but no container
# registry, and that cannot start containers (no Docker daemon). Run as root.
#
#  1. Stand-in base images, made from Debian packages and kept in containers-storage:
#     - debian:bookworm-slim: `debootstrap --variant=minbase bookworm` from the mirror apt
#       uses here, trimmed the way Debian's slim images are (no docs, man pages, locales,
#       apt lists);
#     - rust:1.95-bookworm: that plus Rust 1.95 installed as the official image installs it
#       (rustup-init --profile minimal from static.rust-lang.org, this machine's rustup
#       binary as rustup-init), with the official image's RUSTUP_HOME, CARGO_HOME and PATH.
#       Unlike the real image it has no gcc until the Dockerfile installs it.
#     The root filesystem is cached as a tarball under $CONTAINER_CACHE, the images in
#     containers-storage: a second run skips both.
#  2. `buildah bud --isolation chroot --format docker --layers` of the real Dockerfile, the
#     base images named by --build-arg. --format docker because OCI image metadata has no
#     HEALTHCHECK. The cargo registry and target/ are cache volumes under $CONTAINER_CACHE,
#     and unchanged layers are reused, so a rerun is fast.
#  3. Prints the image size (as stored, and gzip-compressed as a registry would hold it),
#     then runs the image as the image says: its ENTRYPOINT, Env, User and WorkingDir read
#     from `buildah inspect`, in the image's root filesystem (`buildah mount`) by
#     `chroot --userspec`, inside new network, PID, mount, IPC and UTS namespaces (its own
#     loopback, so BIND=0.0.0.0:8080 as declared touches no port of this machine; a
#     minimal /dev; /proc). Measures start to `/readyz` 200, runs the image's HEALTHCHECK
#     command inside it, and completes a signup over HTTP (register -> the code from the
#     console provider's development inbox -> verify -> /users/me shows it verified).
#  4. Stops the server and removes the working container and its mount on exit, on
#     failure too.
# Not exercised: Docker or Podman themselves (their runtime, networking, volumes), real
# registry base images, and compose.yaml with PostgreSQL.
#
# Usage: scripts/container.sh [--bases-only | --skip-build | --from-dist[=TARBALL]] [--rebuild-bases]
#   --bases-only      make the stand-in base images and stop
#   --skip-build      run the image already built (IMAGE) instead of building it
#   --from-dist[=F]   the quicker path: no build stage; the Dockerfile's runtime stage, as it
#                     is, on the binary and SPA of a release tarball (`cargo xtask dist`, run
#                     first when no F is given) in a scratch stage at the build stage's paths
#   --rebuild-bases   make the stand-in base images again (new debootstrap, toolchain copy)
# Environment: IMAGE (default localhost/phonereg:latest), CONTAINER_CACHE (default
# /var/cache/phonereg-container), DEBIAN_MIRROR (default: the one apt uses here).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

IMAGE=${IMAGE:-localhost/phonereg:latest}
CACHE=${CONTAINER_CACHE:-/var/cache/phonereg-container}
RUNTIME_BASE=localhost/phonereg-standin-debian:bookworm-slim
BUILD_BASE=localhost/phonereg-standin-rust:1.95-bookworm
RUST_VERSION=1.95.0

skip_build=false
bases_only=false
from_dist=
rebuild_bases=false
for arg in "$@"; do
  case "$arg" in
    --skip-build) skip_build=true ;;
    --bases-only) bases_only=true ;;
    --from-dist) from_dist=build ;;
    --from-dist=*) from_dist=${arg#--from-dist=} ;;
    --rebuild-bases) rebuild_bases=true ;;
    -h | --help) sed -n '2,42p' "$0"; exit 0 ;;
    *) fail "unknown option $arg" ;;
  esac
done
[ "$(id -u)" = 0 ] || fail "run as root (debootstrap, buildah mount, chroot and namespaces need it)"
for tool in buildah debootstrap jq curl unshare nsenter ip; do
  command -v "$tool" >/dev/null 2>&1 || apt_install "$(case "$tool" in
    unshare | nsenter) echo util-linux ;; ip) echo iproute2 ;; *) echo "$tool" ;; esac)"
done
mkdir -p "$CACHE"

work=$(mktemp -d)
ctrs=()
server=
cleanup() {
  local status=$?
  if [ -n "$server" ]; then
    # The API is PID 1 of its PID namespace: SIGTERM reaches it only once it handles it (not
    # in its first milliseconds), SIGKILL always, and its end ends the namespace. unshare's
    # --kill-child alone is not enough: chroot --userspec's setuid clears that death signal.
    inner=$(pgrep -P "$server" 2>/dev/null || true)
    if [ -n "$inner" ]; then
      kill -TERM "$inner" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$inner" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$inner" 2>/dev/null || true
    fi
    for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
    echo "--- last lines of the server log ---" >&2
    tail -n 30 "$work/server.log" >&2 || true
  fi
  for ctr in "${ctrs[@]}"; do
    buildah umount "$ctr" >/dev/null 2>&1 || true
    buildah rm "$ctr" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# new_container IMAGE: a working container of IMAGE, named in $ctr, removed on exit (not
# a command substitution, so that the list of what to remove is this shell's).
new_container() {
  ctr=$(buildah from --pull=never --quiet "$1")
  ctrs+=("$ctr")
}
image_exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }
# The mirror apt uses here for "$1" (debian or debian-security).
apt_mirror() {
  apt-cache policy | awk -v want="$1" '{ u = $2; sub(/\/$/, "", u); n = split(u, p, "/") }
    n > 0 && p[n] == want && $3 ~ /^bookworm/ { print u; exit }'
}

# --- 1. Stand-in base images ---------------------------------------------------------------

make_runtime_base() {
  local rootfs_tar="$CACHE/debian-bookworm-slim.tar" mirror security rootfs ctr mnt
  mirror=${DEBIAN_MIRROR:-$(apt_mirror debian)}
  mirror=${mirror:-http://deb.debian.org/debian}
  security=$(apt_mirror debian-security)
  security=${security:-http://deb.debian.org/debian-security}
  if $rebuild_bases || [ ! -s "$rootfs_tar" ]; then
    step "debootstrap --variant=minbase bookworm from $mirror (the debian:bookworm-slim stand-in)"
    rootfs="$work/rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
    # What Debian's slim images leave out, and the apt settings they ship.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    echo 'APT::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/* "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/run/*
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    tar -C "$rootfs" --numeric-owner -cf "$rootfs_tar.part" .
    mv "$rootfs_tar.part" "$rootfs_tar"
    rm -rf "$rootfs"
  fi
  if $rebuild_bases || ! image_exists "$RUNTIME_BASE"; then
    step "importing it as $RUNTIME_BASE"
    new_container scratch
    mnt=$(buildah mount "$ctr")
    tar -C "$mnt" --numeric-owner -xpf "$rootfs_tar"
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --cmd bash --label org.opencontainers.image.description="stand-in for debian:bookworm-slim (debootstrap minbase)" "$ctr"
    buildah commit --quiet --format docker "$ctr" "$RUNTIME_BASE" >/dev/null
  fi
}

make_build_base() {
  local rustup_bin ctr mnt cert
  if ! $rebuild_bases && image_exists "$BUILD_BASE"; then
    return
  fi
  rustup_bin=$(readlink -f "$(command -v rustup)")
  step "making $BUILD_BASE: $RUNTIME_BASE + Rust $RUST_VERSION installed as the official image does (rustup-init --profile minimal)"
  new_container "$RUNTIME_BASE"
  mnt=$(buildah mount "$ctr")
  # rustup-init is this machine's rustup binary under that name; it fetches the toolchain
  # from static.rust-lang.org (reachable here), trusting this machine's certificates for
  # the duration (the stand-in has no ca-certificates yet). A copy of this machine's own
  # toolchain does not work: rustup then reinstalls it at `rustup target add`, renaming
  # directories of a lower overlay layer, which fails (EXDEV).
  install -m 0755 "$rustup_bin" "$mnt/rustup-init"
  buildah run --isolation chroot --volume /etc/ssl/certs:/etc/ssl/certs:ro \
    --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo "$ctr" -- \
    /rustup-init -y -q --no-modify-path --profile minimal --default-toolchain "$RUST_VERSION"
  rm -f "$mnt/rustup-init"
  chmod -R a+w "$mnt/usr/local/rustup" "$mnt/usr/local/cargo"
  # Where this machine reaches the registries through a TLS-inspecting proxy, it trusts
  # certificate authorities of its own (/usr/local/share/ca-certificates): the build
  # stand-in trusts them too, as a company's base image would (the Dockerfile's
  # `apt-get install ca-certificates` adds them to the system bundle), and points Node
  # and pip, which keep their own lists, at that bundle. The runtime image gets none of it.
  local extra_ca=() ca_env=()
  for cert in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$cert" ] && extra_ca+=("$cert")
  done
  if [ "${#extra_ca[@]}" -gt 0 ]; then
    echo "the build stand-in trusts this machine's own CAs: ${extra_ca[*]}"
    mkdir -p "$mnt/usr/local/share/ca-certificates"
    cp "${extra_ca[@]}" "$mnt/usr/local/share/ca-certificates/"
    ca_env=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
      --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
  fi
  buildah config --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo \
    --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env RUST_VERSION="$RUST_VERSION" "${ca_env[@]}" \
    --label org.opencontainers.image.description="stand-in for rust:$RUST_VERSION-bookworm (this machine's toolchain)" "$ctr"
  buildah run --isolation chroot "$ctr" -- rustc --version
  buildah commit --quiet --format docker "$ctr" "$BUILD_BASE" >/dev/null
}

make_runtime_base
$skip_build || [ -n "$from_dist" ] || make_build_base
if $bases_only; then
  buildah images --filter reference=localhost/phonereg-standin-*
  exit 0
fi

# --- 2. The image --------------------------------------------------------------------------

bud() {
  # The whole log to $CACHE/build.log, the steps to the terminal; buildah's own status.
  # --force-rm: a failed step leaves no working container (and its mount) behind.
  { if buildah bud --isolation chroot --format docker --layers --force-rm --pull=never \
      --build-arg BUILD_IMAGE="$BUILD_BASE" --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" "$@" 2>&1
    then echo 0 >"$work/bud.status"; else echo $? >"$work/bud.status"; fi; } \
    | tee "$CACHE/build.log" | grep -E 'STEP [0-9]|^COMMIT|Using cache|==>|FAILED|^error|^Error|spa_raw_bytes|Finished' || true
  [ "$(cat "$work/bud.status")" = 0 ] \
    || { tail -n 40 "$CACHE/build.log" >&2; fail "buildah bud failed (the whole log: $CACHE/build.log)"; }
}

if [ -n "$from_dist" ] && ! $skip_build; then
  if [ "$from_dist" = build ]; then
    step "cargo xtask dist (the release API and the SPA, on this machine)"
    from_dist=$(cargo xtask dist | tail -n 1)
  fi
  [ -f "$from_dist" ] || fail "no release tarball at $from_dist"
  step "buildah bud --isolation chroot: the Dockerfile's runtime stage on $(basename "$from_dist")"
  mkdir "$work/context"
  tar -xzf "$from_dist" -C "$work/context" --strip-components=1
  # The build stage replaced by the tarball's files at the paths the build stage leaves
  # them; the runtime stage is the Dockerfile's own text, from its last FROM on.
  {
    grep -m1 '^ARG RUNTIME_IMAGE=' Dockerfile
    echo 'FROM scratch AS build'
    echo 'COPY phonereg-api /usr/local/bin/phonereg-api'
    echo 'COPY dist /src/dist'
    awk '/^FROM /{ last = NR } { line[NR] = $0 } END { for (i = last; i <= NR; i++) print line[i] }' Dockerfile
  } >"$work/Containerfile.dist"
  build_started=$(date +%s)
  bud --file "$work/Containerfile.dist" --tag "$IMAGE" "$work/context"
  echo "build_seconds=$(($(date +%s) - build_started))"
elif ! $skip_build; then
  step "buildah bud --isolation chroot: the Dockerfile, FROM the stand-ins (a cold build compiles the release API, the SPA and its tools)"
  mkdir -p "$CACHE/cargo-registry" "$CACHE/target"
  build_started=$(date +%s)
  bud --volume "$CACHE/cargo-registry:/usr/local/cargo/registry" --volume "$CACHE/target:/src/target" \
    --tag "$IMAGE" .
  echo "build_seconds=$(($(date +%s) - build_started))"
fi
image_exists "$IMAGE" || fail "no image $IMAGE (build it first: run without --skip-build)"

# --- 3. Size, start to /readyz, health check, signup ---------------------------------------

step "image size"
# archive_bytes IMAGE oci-archive|docker-archive: the size of IMAGE as an archive: an OCI
# archive holds its layers gzip-compressed (as a registry stores them), a docker-archive
# (`docker save`) uncompressed (as unpacked on a host, what `docker images` shows).
archive_bytes() {
  buildah push --quiet "$1" "$2:$work/image.tar" >/dev/null
  wc -c <"$work/image.tar"
  rm -f "$work/image.tar"
}
size_bytes=$(archive_bytes "$IMAGE" docker-archive)
compressed_bytes=$(archive_bytes "$IMAGE" oci-archive)
base_bytes=$(archive_bytes "$RUNTIME_BASE" docker-archive)
base_compressed_bytes=$(archive_bytes "$RUNTIME_BASE" oci-archive)
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
echo "$IMAGE: $(mb "$size_bytes") uncompressed, $(mb "$compressed_bytes") compressed (gzip layers, as a registry holds it)"
echo "  of which the runtime base $RUNTIME_BASE: $(mb "$base_bytes") uncompressed, $(mb "$base_compressed_bytes") compressed"
echo "image_bytes=$size_bytes image_compressed_bytes=$compressed_bytes base_bytes=$base_bytes base_compressed_bytes=$base_compressed_bytes"

config=$(buildah inspect --type image "$IMAGE" | jq '.Docker.config')
mapfile -t entrypoint < <(jq -r '(.Entrypoint // []) + (.Cmd // []) | .[]' <<<"$config")
mapfile -t env < <(jq -r '.Env // [] | .[]' <<<"$config")
user=$(jq -r '.User // ""' <<<"$config")
workdir=$(jq -r '.WorkingDir // ""' <<<"$config")
workdir=${workdir:-/}
[ "${#entrypoint[@]}" -gt 0 ] || fail "the image declares no ENTRYPOINT or CMD"
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "the image runs as root (User '$user')"
mapfile -t healthcheck < <(jq -r '.Healthcheck.Test // [] | .[]' <<<"$config")
[ "${#healthcheck[@]}" -gt 1 ] || fail "the image declares no HEALTHCHECK (was it built with --format docker?)"

new_container "$IMAGE"
root=$(buildah mount "$ctr")
# USER is `user[:group]`, by name or number: the image's own /etc/passwd and /etc/group say
# who that is; without a group, the user's own.
uid=$(awk -F: -v u="${user%%:*}" '$1 == u || $3 == u { print $3; exit }' "$root/etc/passwd")
gid=$(awk -F: -v u="${user%%:*}" '$1 == u || $3 == u { print $4; exit }' "$root/etc/passwd")
[ -n "$uid" ] && [ -n "$gid" ] || fail "user '$user' is not in the image's /etc/passwd"
if [ "$user" != "${user%%:*}" ]; then
  gid=$(awk -F: -v g="${user#*:}" '$1 == g || $3 == g { print $3; exit }' "$root/etc/group")
  [ -n "$gid" ] || fail "group '${user#*:}' is not in the image's /etc/group"
fi
echo "entrypoint: ${entrypoint[*]}; user $user ($uid:$gid); workdir $workdir"
printf '  env %s\n' "${env[@]}"

step "starting it: chroot --userspec=$uid:$gid into the image, in its own namespaces"
# Inside fresh namespaces (nothing of this outlives the server): loopback up, a minimal
# /dev as a container runtime gives, /proc; then chroot as the image's user, with exactly
# the image's environment, in its working directory, exec the entrypoint.
started=$(date +%s.%N)
unshare --net --pid --mount --ipc --uts --fork --kill-child -- /bin/sh -c '
  set -e
  root=$1 userspec=$2 workdir=$3; shift 3
  ip link set lo up
  hostname phonereg 2>/dev/null || true
  mount -t tmpfs -o nosuid,mode=755 tmpfs "$root/dev"
  for node in null zero full random urandom tty; do
    touch "$root/dev/$node"; mount --bind "/dev/$node" "$root/dev/$node"
  done
  mkdir -p "$root/dev/shm" "$root/dev/pts"
  mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
  ln -s /proc/self/fd "$root/dev/fd"
  mount -t proc proc "$root/proc"
  exec chroot --userspec="$userspec" "$root" /usr/bin/env -i -C "$workdir" "$@"
' container "$root" "$uid:$gid" "$workdir" "${env[@]}" "${entrypoint[@]}" >"$work/server.log" 2>&1 &
server=$!
inside=
for _ in $(seq 1 50); do
  inside=$(pgrep -P "$server" || true)
  [ -n "$inside" ] && break
  sleep 0.1
done
[ -n "$inside" ] || fail "the container's process did not start"
# in_container CMD...: CMD in the container's network (and mount) namespace.
in_container() { nsenter --target "$inside" --net --mount -- "$@"; }
bind=$(printf '%s\n' "${env[@]}" | sed -n 's/^BIND=//p' | tail -n 1)
port=${bind##*:}
base="http://127.0.0.1:${port:-8080}"
ready=false
for _ in $(seq 1 600); do
  kill -0 "$server" 2>/dev/null || fail "phonereg-api exited at start-up"
  if [ "$(in_container curl -s -o /dev/null -w '%{http_code}' "$base/readyz" 2>/dev/null)" = 200 ]; then
    ready=true
    break
  fi
  sleep 0.05
done
$ready || fail "/readyz did not answer 200 within 30 s"
ready_at=$(date +%s.%N)
awk -v a="$started" -v b="$ready_at" 'BEGIN { printf "ready: /readyz answered 200 %.2f s after start\n", b - a }'
grep -m1 'listening' "$work/server.log" || true

step "the image's HEALTHCHECK, run inside it as its user: ${healthcheck[*]:1}"
case "${healthcheck[0]}" in
  CMD-SHELL) health=(/bin/sh -c "${healthcheck[1]}") ;;
  CMD) health=("${healthcheck[@]:1}") ;;
  *) fail "unknown HEALTHCHECK form ${healthcheck[0]}" ;;
esac
in_container chroot --userspec="$uid:$gid" "$root" /usr/bin/env -i -C "$workdir" "${env[@]}" "${health[@]}" \
  || fail "the HEALTHCHECK command failed"
echo "healthy (exit 0)"

# call METHOD PATH [JSON] [TOKEN]: prints the body, fails unless the status is 2xx.
call() {
  local auth=()
  [ -n "${4:-}" ] && auth=(-H "Authorization: Bearer $4")
  in_container curl -fsS -X "$1" "$base$2" -H 'Content-Type: application/json' "${auth[@]}" \
    ${3:+--data "$3"} || fail "$1 $2 did not answer 2xx"
}

# The same signup as scripts/release-smoke.sh, against the container.
step "signup: register with a phone number, read the code, verify"
number=+14155550123
registered=$(call POST /api/v1/auth/register \
  "{\"email\":\"container@example.com\",\"password\":\"correct horse battery\",\"full_name\":\"Container Smoke\",\"phone_number\":\"$number\"}")
token=$(jq -er .access_token <<<"$registered")
phone_id=$(jq -er .user.phone.id <<<"$registered")
echo "registered; phone $phone_id is $(jq -r .user.phone.status <<<"$registered")"
code=
for _ in $(seq 1 100); do
  # The courier sends after the answer; the console provider keeps what it sent.
  code=$(call GET /api/v1/dev/sms | jq -r --arg to "$number" \
    '[.items[] | select(.to == $to)][0].body // "" | capture("#(?<c>[0-9]{6})\\s*$").c // empty')
  [ -n "$code" ] && break
  sleep 0.1
done
[ -n "$code" ] || fail "no code reached $number in the development inbox"
echo "the SMS with the code was sent"
call POST "/api/v1/users/me/phone-numbers/$phone_id/verify" "{\"code\":\"$code\"}" "$token" >/dev/null
status=$(call GET /api/v1/users/me "" "$token" | jq -r .phone.status)
[ "$status" = verified ] || fail "after verify the phone is '$status', not verified"
echo "verified: /users/me shows the phone verified"
finished=$(date +%s.%N)
call GET / | grep -q '<html' || fail "/ does not serve the SPA"
echo "the SPA is served at /"
ls -ln "$root$workdir" | sed 's/^/  /'

step "container smoke test passed"
awk -v a="$started" -v b="$ready_at" -v c="$finished" \
  'BEGIN { printf "start_to_ready_seconds=%.2f start_to_verified_seconds=%.2f\n", b - a, c - a }'
