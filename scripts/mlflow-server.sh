#!/usr/bin/env bash
# A team MLflow tracking server on this machine: PostgreSQL keeps runs, metrics and the model
# registry; a directory keeps artifacts, uploaded and downloaded through the server itself
# (clients need no storage credentials). Runs in the foreground; Ctrl-C or SIGTERM stops the
# server and then PostgreSQL. A second start reuses the same database and artifacts.
#
#   scripts/mlflow-server.sh [DIR]      (or: make mlflow-server)
#   export MLFLOW_TRACKING_URI=http://127.0.0.1:5000   # then dvc repro / ml train log there
#
# DIR (default .mlflow-server) holds pgdata/, artifacts/ and the logs. Settings: MLFLOW_HOST
# (127.0.0.1), MLFLOW_PORT (5000), PG_PORT (5432), PG_BIN (the newest /usr/lib/postgresql/*/bin).
# PostgreSQL listens on 127.0.0.1 only and trusts local connections: fine for one machine; a
# shared server belongs on a managed PostgreSQL with a password (docs/team-scale.md).
set -euo pipefail

DIR=$(realpath -m "${1:-.mlflow-server}")
HOST=${MLFLOW_HOST:-127.0.0.1}
PORT=${MLFLOW_PORT:-5000}
PG_PORT=${PG_PORT:-5432}
PGDATA_DIR=$DIR/pgdata

fail() {
  echo "mlflow-server.sh: $*" >&2
  exit 1
}

if [[ -z ${PG_BIN:-} ]]; then
  PG_BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
fi
[[ -x ${PG_BIN:-}/initdb ]] || fail "PostgreSQL not found: apt-get install postgresql, or set PG_BIN to its bin directory"
command -v mlflow >/dev/null || fail "mlflow not found: run 'make mlflow-server', or activate .venv first"

# PostgreSQL refuses to run as root; as root it runs as the postgres system user instead.
as_db_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$DIR/artifacts" "$PGDATA_DIR"
touch "$DIR/postgres.log"
if [[ ! -s $PGDATA_DIR/PG_VERSION ]]; then
  if [[ $(id -u) == 0 ]]; then
    chown postgres: "$PGDATA_DIR" "$DIR/postgres.log"
    as_db_owner test -w "$PGDATA_DIR" || fail "the postgres user cannot reach $PGDATA_DIR; choose a DIR outside private home directories"
  fi
  chmod 700 "$PGDATA_DIR"
  echo "Creating the PostgreSQL cluster in $PGDATA_DIR"
  as_db_owner "$PG_BIN/initdb" -D "$PGDATA_DIR" -U mlflow --auth=trust --encoding=UTF8 \
    >"$DIR/initdb.log" || fail "initdb failed, see $DIR/initdb.log"
fi

as_db_owner "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$DIR/postgres.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=''" >/dev/null ||
  fail "PostgreSQL did not start (port $PG_PORT taken, or already running?), see $DIR/postgres.log"

server=""
stop() {
  trap - EXIT INT TERM
  if [[ -n $server ]]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  as_db_owner "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null || true
  echo "Stopped MLflow and PostgreSQL"
}
trap stop EXIT INT TERM

exists=$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U mlflow -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = 'mlflow'")
[[ $exists == 1 ]] || "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U mlflow mlflow

echo "MLflow on http://$HOST:$PORT (runs in PostgreSQL on 127.0.0.1:$PG_PORT, artifacts in $DIR/artifacts)"
mlflow server \
  --backend-store-uri "postgresql+psycopg://mlflow@127.0.0.1:$PG_PORT/mlflow" \
  --artifacts-destination "$DIR/artifacts" \
  --host "$HOST" --port "$PORT" --workers 1 &
server=$!
# `wait` returns as soon as a signal arrives, so the trap runs without waiting for the server.
wait "$server"
