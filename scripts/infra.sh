#!/usr/bin/env bash
# Local infrastructure for development, tests and CI.
#   browser: install Debian's Chromium for the page tests when it is missing (npm run infra does it).
#   up:   check PostgreSQL, Redis and NATS answer; start a single-node KRaft Kafka 4.x broker from
#         Maven Central's jars when nothing listens on the Kafka port; create the topics.
#   down: stop the Kafka broker this script started (the other servers are the machine's own).
# Idempotent. Jars, data and logs live under .infra/ (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INFRA_DIR="${INFRA_DIR:-$ROOT/.infra}"
KAFKA_DIR="$INFRA_DIR/kafka"
# The broker jars; a private broker (chaos suite) points this at an existing copy to skip mvn.
KAFKA_LIBS="${KAFKA_LIBS_DIR:-$KAFKA_DIR/libs}"
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx512m}"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-3}"
TOPICS=(payment.completed payment.completed.dlq payment.refunded payment.refunded.dlq)

log() { printf '[infra] %s\n' "$*"; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# host:port from a URL such as postgres://user@host:5432/db or redis://host:6379
url_host_port() {
  local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"
  local host="${rest%%:*}" port="${rest##*:}"
  [ "$host" = "$rest" ] && port="$2"
  printf '%s %s\n' "$host" "$port"
}

check_service() {
  local name="$1" url="$2" default_port="$3" hint="$4" host port
  read -r host port < <(url_host_port "$url" "$default_port")
  if port_open "$host" "$port"; then
    log "$name answers on $host:$port"
  else
    die "$name does not answer on $host:$port. Start it, for example: $hint"
  fi
}

kafka_libs() {
  local libs="$KAFKA_LIBS" stamp
  stamp="$(sha1sum "$ROOT/scripts/kafka/pom.xml" | cut -c1-12)"
  if [ -f "$libs/.stamp" ] && [ "$(cat "$libs/.stamp")" = "$stamp" ]; then return; fi
  command -v mvn >/dev/null || die "mvn is needed to fetch Kafka's jars (apt-get install -y maven)"
  command -v java >/dev/null || die "java 17+ is needed to run Kafka (apt-get install -y openjdk-17-jre-headless)"
  log "fetching Apache Kafka broker jars from Maven Central (once)"
  rm -rf "$libs"; mkdir -p "$libs"
  mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime
  echo "$stamp" > "$libs/.stamp"
}

kafka_config() {
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  cat > "$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
}

kafka_java() {
  java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_up() {
  if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    log "Kafka already listens on $KAFKA_HOST:$KAFKA_PORT"
  else
    kafka_libs
    kafka_config
    if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
      log "formatting KRaft storage"
      kafka_java kafka.tools.StorageTool format --ignore-formatted \
        -t "$(kafka_java kafka.tools.StorageTool random-uuid)" \
        -c "$KAFKA_DIR/server.properties" > "$KAFKA_DIR/logs/format.log" 2>&1 \
        || { cat "$KAFKA_DIR/logs/format.log"; die "could not format Kafka storage"; }
    fi
    log "starting Kafka broker on $KAFKA_HOST:$KAFKA_PORT"
    nohup setsid bash -c "$(declare -f kafka_java); KAFKA_HEAP='$KAFKA_HEAP' KAFKA_DIR='$KAFKA_DIR' KAFKA_LIBS='$KAFKA_LIBS' ROOT='$ROOT' \
      kafka_java kafka.Kafka '$KAFKA_DIR/server.properties'" \
      > "$KAFKA_DIR/logs/stdout.log" 2>&1 < /dev/null &
    echo $! > "$KAFKA_DIR/kafka.pid"
  fi
  kafka_wait_and_create_topics
}

# Waits until the broker serves metadata, then creates the topics (idempotent).
kafka_wait_and_create_topics() {
  local deadline=$((SECONDS + 120)) topic_cmd=(org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_HOST:$KAFKA_PORT")
  if [ ! -d "$KAFKA_LIBS" ]; then kafka_libs; fi
  until kafka_java "${topic_cmd[@]}" --list > /dev/null 2>&1; do
    if [ $SECONDS -gt $deadline ]; then
      tail -n 40 "$KAFKA_DIR/logs/stdout.log" "$KAFKA_DIR/logs/server.log" 2>/dev/null || true
      die "Kafka did not serve within 120 s; logs are in $KAFKA_DIR/logs"
    fi
    sleep 1
  done
  for topic in "${TOPICS[@]}"; do
    kafka_java "${topic_cmd[@]}" --create --if-not-exists --topic "$topic" \
      --partitions "$KAFKA_PARTITIONS" --replication-factor 1 > /dev/null
  done
  log "Kafka serves on $KAFKA_HOST:$KAFKA_PORT; topics: ${TOPICS[*]}"
}

kafka_down() {
  local pid_file="$KAFKA_DIR/kafka.pid"
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    log "stopping Kafka (pid $(cat "$pid_file"))"
    kill -- -"$(cat "$pid_file")" 2>/dev/null || kill "$(cat "$pid_file")"
    for _ in $(seq 1 60); do port_open "$KAFKA_HOST" "$KAFKA_PORT" || break; sleep 1; done
  else
    log "no Kafka started by this script is running"
  fi
  rm -f "$pid_file"
}

# The page tests drive Debian's Chromium (test/support/browser.ts); install it when missing.
browser_up() {
  local chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
  if [ -x "$chromium" ]; then log "Chromium found at $chromium"; return; fi
  command -v apt-get >/dev/null || die "Chromium is needed for the page tests; install it (Debian: apt-get install -y chromium)"
  local as_root=""; [ "$(id -u)" = 0 ] || as_root="sudo"
  log "installing Debian's chromium for the page tests"
  $as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium > /dev/null
}

case "${1:-up}" in
  up)
    check_service PostgreSQL "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/concert}" 5432 \
      "pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
    check_service Redis "${REDIS_URL:-redis://127.0.0.1:6379}" 6379 \
      "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
    check_service NATS "${TRANSPORTER:-nats://127.0.0.1:4222}" 4222 \
      "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222"
    kafka_up
    ;;
  down) kafka_down ;;
  kafka-up) kafka_up ;;
  browser) browser_up ;;
  *) die "usage: infra.sh up|down|kafka-up|browser" ;;
esac
