# Shared helpers for scripts/*.sh (sourced, not run).

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is required but not installed"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  need apt-get
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; } \
    || fail "apt-get install $* failed"
}

PG_HOST=127.0.0.1
PG_PORT=${PG_PORT:-5432}
PG_USER=phonereg
PG_PASSWORD=phonereg

as_postgres() { as_root runuser -u postgres -- "$@"; }

# Starts the local PostgreSQL cluster (installing it if absent) and makes sure the
# phonereg role exists.
start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql
  fi
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    if [ -z "$version" ]; then
      version=$(ls /usr/lib/postgresql | sort -n | tail -1)
      as_root pg_createcluster "$version" main >/dev/null
    fi
    as_root pg_ctlcluster "$version" main start || fail "could not start PostgreSQL $version"
    for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 0.5; done
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || fail "PostgreSQL did not come up on $PG_HOST:$PG_PORT"
  fi
  as_postgres psql -q -p "$PG_PORT" -tAc "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'" | grep -q 1 \
    || as_postgres psql -q -p "$PG_PORT" -c "CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" \
    || fail "could not create the $PG_USER role"
}

# Drops and recreates database $1 owned by phonereg; prints its URL.
fresh_test_database() {
  as_postgres dropdb -p "$PG_PORT" --if-exists --force "$1" >&2
  as_postgres createdb -p "$PG_PORT" -O "$PG_USER" "$1" >&2 || fail "could not create database $1"
  # Loopback needs no TLS; it would cost every query a few percent of CPU.
  echo "postgres://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$1?sslmode=disable"
}

# What scripts/tools.sh installs into .tools/bin (a Node >= 20 where the system's is older,
# playwright's Chromium where there is no Chromium package) comes before the system's.
if [ -d "$PWD/.tools/bin" ]; then
  export PATH="$PWD/.tools/bin:$PATH"
fi
