#!/usr/bin/env bash
# Make sure a MariaDB server answers on 127.0.0.1:3306 (root, no password) for the tests.
# Starts the local server when it is down, and installs it first where it is missing.
set -euo pipefail

host=${RECONCILER_MARIADB_HOST:-127.0.0.1}
port=${RECONCILER_MARIADB_PORT:-3306}

ping() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if ping; then exit 0; fi
if [ "$host" != "127.0.0.1" ] && [ "$host" != "localhost" ]; then
  echo "MariaDB at $host:$port does not answer" >&2; exit 1
fi
if [ ! -x /usr/sbin/mariadbd ]; then
  echo "MariaDB is not installed; installing mariadb-server ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq mariadb-server >/dev/null
fi
echo "starting MariaDB ..." >&2
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
for _ in $(seq 1 60); do
  if ping; then echo "MariaDB is up on $host:$port" >&2; exit 0; fi
  sleep 0.5
done
echo "MariaDB did not start on $host:$port within 30 s" >&2
exit 1
