# shellcheck shell=bash
# scripts/bench-load.sh --stores: SQLite x1, PostgreSQL x1, PostgreSQL x2
# under the same load. Sourced by scripts/bench-load.sh after lg_build; do
# not run it.

# bs_start DIR NAME CPU: starts a replica with DIR/NAME.toml pinned to CPU;
# appends its pid to BS_PIDS and its URL to BS_URLS.
bs_start() {
  local dir=$1 name=$2 cpu=$3 pid
  rm -f "$dir/$name.addr"
  SEALBUILD_LOG=${SEALBUILD_LOG:-warn} taskset -c "$cpu" "$LG_VERIFIER" --config "$dir/$name.toml" \
    serve --listen 127.0.0.1:0 --address-file "$dir/$name.addr" >>"$dir/$name.log" 2>&1 &
  pid=$!
  BS_PIDS+=("$pid")
  for _ in $(seq 300); do
    [[ -s $dir/$name.addr ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s $dir/$name.addr ]] || { tail -20 "$dir/$name.log" >&2; die "replica $name did not start"; }
  BS_URLS+=(--url "https://$(cat "$dir/$name.addr")")
}

bs_stop_all() {
  local p
  for p in "${BS_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${BS_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  BS_PIDS=()
}

# bs_run LABEL STORE REPLICAS: one configuration; writes WORK/LABEL.json.
bs_run() {
  local label=$1 store=$2 n=$3 dir="$WORK/$1" i db
  mkdir -p "$dir"
  if [[ $store == postgres ]]; then
    db=sealbuild_bench_$$_${label//-/_}
    psql -q -v ON_ERROR_STOP=1 "$SEALBUILD_TEST_PG/postgres" -c "CREATE DATABASE $db" >/dev/null \
      || die "could not create the database $db"
    BS_DBS+=("$db")
    SEALBUILD_DATABASE_URL="$SEALBUILD_TEST_PG/$db" lg_setup "$dir"
    echo "database_url = \"$SEALBUILD_TEST_PG/$db\"" >>"$dir/verifier.toml"
  else
    lg_setup "$dir"
  fi
  BS_URLS=()
  for ((i = 0; i < n; i++)); do
    # Replicas share the state directory (master key, result key, TLS);
    # the first creates what is missing before the others start.
    cp "$dir/verifier.toml" "$dir/r$i.toml"
    bs_start "$dir" "r$i" "$i"
  done
  say "$label: $n replica(s) on $store, pinned to core(s) 0..$((n - 1)); $AGENTS agents, $DURATION s"
  "$LG_LOADGEN" run "${BS_URLS[@]}" --replicas "$n" --ca "$dir/state/tls/ca.pem" \
    --agents "$AGENTS" --duration "$DURATION" --appraisal-secs 0 --probe-hz 0 \
    --settle-secs 0 --json >"$dir/report.json" || die "$label: sealbuild-loadgen failed"
  for i in "${BS_PIDS[@]}"; do kill -0 "$i" 2>/dev/null || die "$label: a replica died during the run"; done
  bs_stop_all
  cp "$dir/report.json" "$WORK/$label.json"
}

bs_cleanup() {
  local d
  bs_stop_all
  for d in "${BS_DBS[@]}"; do
    psql -q "$SEALBUILD_TEST_PG/postgres" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  if ((BS_OWN_PG)); then pg_test_stop; fi
  rm -rf "$WORK"
}

bench_stores() {
  command -v taskset >/dev/null || die "taskset is missing (Debian package util-linux)"
  command -v psql >/dev/null || die "psql is missing (Debian package postgresql-client)"
  (($(nproc) >= 2)) || die "--stores pins two replicas to cores 0 and 1: needs 2 cores, this machine has $(nproc)"
  BS_PIDS=() BS_DBS=() BS_OWN_PG=0
  if [[ -z ${SEALBUILD_TEST_PG:-} ]]; then
    pg_test_start
    BS_OWN_PG=1
  fi
  trap bs_cleanup EXIT
  bs_run sqlite-1 sqlite 1
  bs_run postgres-1 postgres 1
  bs_run postgres-2 postgres 2
  say "attestations with release (same load: $AGENTS agents, $DURATION s, $PROFILE build, $(nproc) cores)"
  printf '    %-12s %10s %10s %8s\n' configuration "per s" "p99 ms" errors
  local l
  for l in sqlite-1 postgres-1 postgres-2; do
    jq -r --arg l "$l" '"    \($l | . + (" " * (12 - length))) \(.attestations.per_sec * 10 | round / 10 | tostring | (" " * (10 - length)) + .) \(.attestations.latency.p99_ms * 10 | round / 10 | tostring | (" " * (10 - length)) + .) \(.attestations.error_total | tostring | (" " * (8 - length)) + .)"' "$WORK/$l.json"
  done
  jq -n -r --slurpfile s "$WORK/sqlite-1.json" --slurpfile p "$WORK/postgres-1.json" --slurpfile q "$WORK/postgres-2.json" \
    '"    PostgreSQL x1 / SQLite x1: \(($p[0].attestations.per_sec / $s[0].attestations.per_sec) * 100 | round / 100) (target 0.8); PostgreSQL x2 / x1: \(($q[0].attestations.per_sec / $p[0].attestations.per_sec) * 100 | round / 100)"'
}
