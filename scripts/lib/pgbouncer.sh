# Sourced by scripts/test and bench/run after pg.sh: start Debian's PgBouncer in transaction
# mode in front of the throwaway PostgreSQL (PG_PORT), on a free port under target/, stopped
# and removed when the calling script exits (the caller's EXIT trap must call
# pgbouncer_cleanup).
#
#   pgbouncer_start   sets PGBOUNCER_URL (same user and database as PG_URL), PGBOUNCER_PORT
#
# These are the settings README.md and docs/OPERATIONS.md document as tested.

pgbouncer_dir=""
pgbouncer_cleanup() {
  if [ -n "$pgbouncer_dir" ]; then
    if [ -f "$pgbouncer_dir/pgbouncer.pid" ]; then
      kill -TERM "$(cat "$pgbouncer_dir/pgbouncer.pid")" 2>/dev/null || true
    fi
    rm -rf "$pgbouncer_dir"
    pgbouncer_dir=""
  fi
}

# pgbouncer_write_ini PORT: the tested settings (README.md shows them).
pgbouncer_write_ini() {
  cat >"$pgbouncer_dir/pgbouncer.ini" <<INI
[databases]
; every database of the server behind, under its own name
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $1
unix_socket_dir =
auth_type = trust
auth_file = $pgbouncer_dir/userlist.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
reserve_pool_size = 0
server_reset_query =
server_check_delay = 10
server_lifetime = 3600
server_idle_timeout = 600
query_wait_timeout = 120
logfile = $pgbouncer_dir/pgbouncer.log
pidfile = $pgbouncer_dir/pgbouncer.pid
INI
  : >"$pgbouncer_dir/pgbouncer.log"
}

pgbouncer_start() {
  local binary
  binary="$(command -v pgbouncer || ls /usr/sbin/pgbouncer 2>/dev/null || true)"
  if [ -z "$binary" ]; then
    echo "error: pgbouncer not found; install it (Debian: apt-get install pgbouncer)" >&2
    return 1
  fi
  mkdir -p target
  pgbouncer_dir="$(mktemp -d "$PWD/target/pgbouncer.XXXXXX")"
  # PgBouncer refuses to run as root, like PostgreSQL.
  local run_as=""
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$pgbouncer_dir"
    run_as="runuser -u postgres --"
  fi
  echo '"postgres" ""' >"$pgbouncer_dir/userlist.txt"
  # A port nobody listens on may still be taken (the client end of some connection), so
  # try the next one when PgBouncer cannot bind.
  PGBOUNCER_PORT=""
  local candidate _
  for candidate in $(seq 56432 56532); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
    pgbouncer_write_ini "$candidate"
    [ -n "$run_as" ] && chown postgres: "$pgbouncer_dir"/*
    $run_as "$binary" -d "$pgbouncer_dir/pgbouncer.ini" >"$pgbouncer_dir/start.log" 2>&1 || continue
    for _ in $(seq 1 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then PGBOUNCER_PORT=$candidate; break 2; fi
      grep -q "nowhere to listen" "$pgbouncer_dir/pgbouncer.log" 2>/dev/null && break
      sleep 0.05
    done
    if [ -f "$pgbouncer_dir/pgbouncer.pid" ]; then kill -TERM "$(cat "$pgbouncer_dir/pgbouncer.pid")" 2>/dev/null || true; fi
  done
  if [ -z "$PGBOUNCER_PORT" ]; then
    echo "error: PgBouncer did not start:" >&2
    cat "$pgbouncer_dir/start.log" "$pgbouncer_dir/pgbouncer.log" >&2 2>/dev/null || true
    return 1
  fi
  PGBOUNCER_URL="postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/${PG_URL##*/}"
  export PGBOUNCER_URL PGBOUNCER_PORT
}
