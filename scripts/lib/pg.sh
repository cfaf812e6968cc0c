# Sourced by scripts/test and bench/run: start a throwaway PostgreSQL cluster (initdb + pg_ctl)
# on a free port under target/, stopped and removed when the calling script exits.
#
#   pg_start [postgres -c options...]   sets PG_URL, PG_BIN, PG_DATA, PG_PORT, PG_RUN_AS
#   pg_psql SQL                         runs SQL against PG_URL

pg_dir=""
pg_cleanup() {
  if [ -n "$pg_dir" ]; then
    $PG_RUN_AS "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}

pg_start() {
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$PG_BIN" ] && command -v pg_config >/dev/null; then PG_BIN="$(pg_config --bindir)"; fi
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "error: PostgreSQL server programs (initdb, pg_ctl) not found; install the postgresql package" >&2
    return 1
  fi
  mkdir -p target
  pg_dir="$(mktemp -d "$PWD/target/pg.XXXXXX")"
  trap pg_cleanup EXIT
  PG_RUN_AS=""
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: run the throwaway cluster as the postgres user.
    chown postgres: "$pg_dir"
    chmod 755 "$PWD/target"
    PG_RUN_AS="runuser -u postgres --"
  fi
  PG_DATA="$pg_dir/data"
  $PG_RUN_AS "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-instructions >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; return 1; }
  local extra="" opt
  for opt in "$@"; do extra="$extra -c $opt"; done
  # A port nobody listens on may still be taken (the client end of some connection on this
  # busy machine): when the server cannot bind, try the next one.
  PG_PORT=""
  local candidate
  for candidate in $(seq 55432 55632); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
    if [ -f "$pg_dir/server.log" ]; then : >"$pg_dir/server.log"; fi
    if $PG_RUN_AS "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$pg_dir/server.log" -w \
      -o "-p $candidate -k $pg_dir -c listen_addresses=127.0.0.1$extra" start >/dev/null; then
      PG_PORT=$candidate
      break
    fi
    grep -q "could not bind\|could not create any TCP/IP sockets" "$pg_dir/server.log" \
      || { cat "$pg_dir/server.log" >&2; return 1; }
  done
  [ -n "$PG_PORT" ] || { echo "error: no free port for a throwaway PostgreSQL" >&2; return 1; }
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  export PG_URL PG_BIN PG_DATA PG_PORT PG_RUN_AS
}

pg_psql() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$PG_URL" -c "$1"
}
