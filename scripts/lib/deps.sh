# Sourced by scripts/test and bench/run: makes sure the Debian programs they drive are installed.
#
#   ensure_packages          the test suite's: installs what is missing, or names it and fails
#   install_missing PKG...   installs these packages (apt-get, as root), or names them and fails
#
# postgresql (initdb, pg_ctl), pgbouncer (the transaction-mode pass), haproxy (rolling
# restarts), python3-aiosmtpd (a real SMTP server for the email tests, run by Debian's own
# /usr/bin/python3), zbar-tools (zbarimg decodes the QR codes) and prometheus (promtool checks
# and tests the alert rules in deploy/prometheus, tests/it/deploy.rs).

ensure_packages() {
  local missing=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_config >/dev/null || missing+=(postgresql)
  [ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  [ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null || missing+=(haproxy)
  /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
  command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  install_missing "${missing[@]}"
}

install_missing() {
  [ $# -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "error: $0 needs these Debian packages: $*" >&2
    echo "       install them with: sudo apt-get install $*" >&2
    return 1
  fi
}
