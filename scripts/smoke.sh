#!/usr/bin/env bash
# Smoke test of the whole stack, run by `make smoke` and CI. It starts the stack the way
# `make run` does (bin/logetl-dev), but in a temporary data folder, on its own database and on
# free ports so that it never disturbs a developer's running stack; waits for the first export;
# then checks it the way the README tells a new user to:
#   1. Parquet files are listed under daily/dt=... and weekly/week=... (the store's folder tree)
#   2. DuckDB's count over the downloaded files equals MySQL's count for the same windows
#   3. `logetl verify` over those windows exits 0
#   4. `logetl decrypt` of one file prints JSON lines with the protected fields in clear
#   5. the Temporal UI answers and `temporal schedule list` shows logetl's schedules
# and finally stops the stack with Ctrl-C (SIGINT) and checks that nothing is left running.
# Exit status 0 only when every check passed. SMOKE_KEEP=1 keeps the data folder.
set -euo pipefail
# go.mod requires Go 1.27.3: fetch it through the module proxy when this machine's Go is older.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$(go env GOPATH)/bin:$PATH"
BIN=${LOGETL_BIN:-$ROOT/bin/logetl}
DEV_BIN=${LOGETL_DEV_BIN:-$ROOT/bin/logetl-dev} # the local stack's supervisor, a tool beside logetl
WAIT_UP=${SMOKE_WAIT_UP:-300}        # seconds for the stack to come up
WAIT_DAILY=${SMOKE_WAIT_DAILY:-240}  # for the first daily file with rows
WAIT_WEEKLY=${SMOKE_WAIT_WEEKLY:-300} # for the first weekly file
FAILED=0

say() { printf '[smoke] %s\n' "$*"; }
fail() { printf '[smoke] FAIL: %s\n' "$*" >&2; FAILED=1; }
die() { printf '[smoke] FAIL: %s\n' "$*" >&2; exit 1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if ! port_in_use "$p" && [[ " ${USED_PORTS:-} " != *" $p "* ]]; then
      USED_PORTS="${USED_PORTS:-} $p"
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

scripts/services.sh all
{ [ -x "$BIN" ] && [ -x "$DEV_BIN" ]; } || make build

DATA=$(mktemp -d "${TMPDIR:-/tmp}/logetl-smoke.XXXXXX")
DB="logetl_smoke_$(date +%s)_$RANDOM"
API_PORT=$(free_port); TEMPORAL_PORT=$(free_port); UI_PORT=$(free_port); S3_PORT=$(free_port); METRICS_PORT=$(free_port)
export LOGETL_DATA_DIR="$DATA"
export LOGETL_MYSQL_DSN="root@tcp(127.0.0.1:3306)/$DB?parseTime=true&loc=UTC"
export LOGETL_API_ADDR="127.0.0.1:$API_PORT" LOGETL_API_URL="http://127.0.0.1:$API_PORT"
export LOGETL_TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT" LOGETL_TEMPORAL_UI_URL="http://127.0.0.1:$UI_PORT"
export LOGETL_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export LOGETL_WORKER_METRICS_ADDR="127.0.0.1:$METRICS_PORT"
BUCKET=${LOGETL_S3_BUCKET:-logetl}
PREFIX=${LOGETL_S3_PREFIX:-logs}
OBJECTS="$DATA/s3/$BUCKET/$PREFIX/activity_log"
say "data $DATA, database $DB, api :$API_PORT, temporal :$TEMPORAL_PORT (UI :$UI_PORT), s3 :$S3_PORT"

DEV_PID=
stop_stack() {
  [ -n "$DEV_PID" ] || return 0
  local pid=$DEV_PID
  DEV_PID=
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "logetl-dev did not stop within 60s of Ctrl-C"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null && return 0 || return $?
}
leftovers() { # processes of this stack still running: temporal and versitygw name the data
  # folder in their arguments; logetl children (api, worker) carry it in their environment.
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    if [[ "$cmd" == *"$DATA/"* ]] ||
      { [[ "$cmd" == "$BIN "* ]] && tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "LOGETL_DATA_DIR=$DATA"; }; then
      echo "${p#/proc/}"
    fi
  done
  return 0
}
cleanup() {
  local rc=$?
  stop_stack || true
  local left
  left=$(leftovers | grep -vx "$$" || true)
  if [ -n "$left" ]; then
    printf '[smoke] killing leftovers: %s\n' "$left" >&2
    kill -KILL $left 2>/dev/null || true
  fi
  mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS \`$DB\`" 2>/dev/null || true
  if [ "$rc" != 0 ] || [ "$FAILED" != 0 ]; then
    echo "---- logetl-dev output ----" >&2; cat "$DATA/dev.out" >&2 || true
    for f in "$DATA"/logs/*.log; do echo "---- tail $f ----" >&2; tail -n 30 "$f" >&2; done
  fi
  if [ "${SMOKE_KEEP:-0}" = 1 ]; then say "kept $DATA"; else rm -rf "$DATA"; fi
  if [ "$FAILED" != 0 ] && [ "$rc" = 0 ]; then exit 1; fi
}
trap cleanup EXIT

# ---- start, the way `make run` does ----
"$DEV_BIN" --logetl "$BIN" >"$DATA/dev.out" 2>&1 &
DEV_PID=$!
deadline=$((SECONDS + WAIT_UP))
until grep -q "logetl is running" "$DATA/dev.out"; do
  kill -0 "$DEV_PID" 2>/dev/null || die "logetl-dev exited while starting"
  [ $SECONDS -lt $deadline ] || die "stack not up after ${WAIT_UP}s"
  sleep 1
done
say "stack is up:"; sed 's/^/    /' "$DATA/dev.out"

# manifests with rows > 0 among the committed daily/weekly files
rows_in() { # granularity dir -> total rows of the manifests found
  node -e '
    const fs = require("fs"), path = require("path");
    let n = 0; const walk = d => { if (!fs.existsSync(d)) return;
      for (const e of fs.readdirSync(d, {withFileTypes: true})) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p); else if (p.endsWith(".manifest.json")) n += JSON.parse(fs.readFileSync(p)).rows; } };
    walk(process.argv[1]); console.log(n);' "$1"
}
wait_rows() { # dir seconds what
  local deadline=$((SECONDS + $2))
  until [ "$(rows_in "$1")" -gt 0 ]; do
    kill -0 "$DEV_PID" 2>/dev/null || die "logetl-dev exited while waiting for $3"
    [ $SECONDS -lt $deadline ] || die "no $3 with rows after $2s (see $DATA/logs/worker.log)"
    sleep 5
  done
}
say "waiting up to ${WAIT_DAILY}s for the first daily export with rows"
wait_rows "$OBJECTS/daily" "$WAIT_DAILY" "daily file"
say "waiting up to ${WAIT_WEEKLY}s for the first weekly compaction with rows"
wait_rows "$OBJECTS/weekly" "$WAIT_WEEKLY" "weekly file"

# ---- 1. list the files (README: "find .logetl/s3/... -name '*.parquet'") ----
say "1. files in the store: $(find "$OBJECTS" -name '*.parquet' | wc -l) Parquet files, the latest:"
# (the dev verify schedule also writes the empty windows of the past hour)
{ find "$OBJECTS/daily" -name '*.parquet' | sort | tail -n 3; find "$OBJECTS/weekly" -name '*.parquet' | sort; } | sed "s#^$DATA/#    #"
find "$OBJECTS" -path '*/daily/dt=*/*.parquet' | grep -q . || fail "no Parquet file under daily/dt=..."
find "$OBJECTS" -path '*/weekly/week=*/*.parquet' | grep -q . || fail "no Parquet file under weekly/week=..."

# ---- 2. download a snapshot of the committed files, count with DuckDB and MySQL ----
DL="$DATA/download"
mkdir -p "$DL"
node -e '
  // Copy every committed object (its manifest exists, so it is complete) into the download folder,
  // and print one "granularity start end rows relpath" line per file.
  const fs = require("fs"), path = require("path");
  const [root, prefixDir, out] = process.argv.slice(1);
  const walk = d => fs.existsSync(d) ? fs.readdirSync(d, {withFileTypes: true}).flatMap(e =>
    e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]) : [];
  for (const m of walk(prefixDir).filter(p => p.endsWith(".manifest.json"))) {
    const man = JSON.parse(fs.readFileSync(m));
    const src = path.join(root, man.object), rel = path.relative(prefixDir, src);
    fs.mkdirSync(path.dirname(path.join(out, rel)), {recursive: true});
    fs.copyFileSync(src, path.join(out, rel));
    console.log([man.granularity, man.window_start, man.window_end, man.rows, rel].join(" "));
  }' "$DATA/s3/$BUCKET" "$OBJECTS" "$DL" >"$DATA/downloaded.txt"
say "2. downloaded $(wc -l <"$DATA/downloaded.txt") committed files to $DL"

sql_time() { date -u -d "$1" '+%F %T.%6N'; }
mysql_count() { # start end
  mysql -h127.0.0.1 -uroot -N -B -e "SELECT COUNT(*) FROM \`$DB\`.activity_log WHERE occurred_at >= '$(sql_time "$1")' AND occurred_at < '$(sql_time "$2")'"
}
duck() { node tools/duckdb/query.mjs "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s.trim().split("\n")[0]).n))'; }

for g in day week; do
  files=$(awk -v g=$g '$1==g {print $5}' "$DATA/downloaded.txt")
  [ -n "$files" ] || { fail "no $g files downloaded"; continue; }
  want=0
  while read -r _ start end rows _; do
    want=$((want + $(mysql_count "$start" "$end")))
  done < <(awk -v g=$g '$1==g' "$DATA/downloaded.txt")
  dir=$([ $g = day ] && echo daily || echo weekly)
  got=$(duck "SELECT count(*) AS n FROM read_parquet('$DL/$dir/*/*.parquet', hive_partitioning=true)")
  if [ "$got" = "$want" ]; then
    say "   $g: DuckDB counts $got rows in $(echo "$files" | wc -l) files = MySQL $want for their windows"
  else
    fail "$g: DuckDB counts $got rows, MySQL has $want for the same windows"
  fi
done
# The README's per-partition query: filter on dt like an analyst would.
dt=$(awk '$1=="day" && $4>0 {print $5; exit}' "$DATA/downloaded.txt" | sed -E 's#.*/dt=([0-9-]+)/.*#\1#')
got=$(duck "SELECT count(*) AS n FROM read_parquet('$DL/daily/*/*.parquet', hive_partitioning=true) WHERE dt = '$dt'")
say "   dt=$dt holds $got rows (DuckDB, hive partition filter)"
[ "$got" -gt 0 ] || fail "partition filter dt=$dt found no rows"

# ---- 3. logetl verify over the exported windows ----
set -a; . "$DATA/dev.env"; set +a   # the README: share the running stack's settings
from=$(awk '$1=="day"{print $2}' "$DATA/downloaded.txt" | sort | sed -n 1p)
to=$(awk '$1=="day"{print $3}' "$DATA/downloaded.txt" | sort | tail -1)
if "$BIN" verify --from "$from" --to "$to" >"$DATA/verify.out" 2>&1; then
  say "3. logetl verify --from $from --to $to: OK"
else
  fail "logetl verify --from $from --to $to exited $?: $(tail -5 "$DATA/verify.out")"
fi

# ---- 4. decrypt one file ----
# A daily file with rows, straight from the store (decrypt reads local files or s3:// URLs).
file="$OBJECTS/$(awk '$1=="day" && $4>0 {print $5; exit}' "$DATA/downloaded.txt")"
if "$BIN" decrypt "$file" >"$DATA/decrypt.out" 2>"$DATA/decrypt.err"; then
  lines=$(wc -l <"$DATA/decrypt.out")
  if head -1 "$DATA/decrypt.out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);process.exit(r.client_ip?0:1)})'; then
    say "4. logetl decrypt ${file#$DATA/}: $lines JSON lines, e.g."
    head -1 "$DATA/decrypt.out" | cut -c1-300 | sed 's/^/    /'
  else
    fail "decrypt output is not JSON lines with a clear client_ip: $(head -1 "$DATA/decrypt.out" | cut -c1-200)"
  fi
else
  fail "logetl decrypt $file: $(cat "$DATA/decrypt.err")"
fi

# ---- 5. Temporal UI and schedules ----
if curl -fsS -o /dev/null "http://127.0.0.1:$UI_PORT/"; then
  say "5. Temporal UI answers at http://127.0.0.1:$UI_PORT/"
else
  fail "Temporal UI at http://127.0.0.1:$UI_PORT/ does not answer"
fi
temporal schedule list --address "127.0.0.1:$TEMPORAL_PORT" >"$DATA/schedules.out" 2>&1 || fail "temporal schedule list: $(cat "$DATA/schedules.out")"
for s in logetl-export logetl-compact-week logetl-bot-signup logetl-bot-activity logetl-verify; do
  grep -q "$s" "$DATA/schedules.out" || fail "schedule $s not listed"
done
say "   temporal schedule list:"; sed 's/^/    /' "$DATA/schedules.out"

# ---- stop with Ctrl-C ----
if stop_stack; then say "stack stopped cleanly"; else fail "logetl-dev exited non-zero after Ctrl-C"; fi
sleep 1
left=$(leftovers | grep -vx "$$" || true)
[ -z "$left" ] || fail "processes left running after stop: $left"
for p in $API_PORT $TEMPORAL_PORT $S3_PORT; do
  if port_in_use "$p"; then fail "port $p still open after stop"; fi
done

if [ "$FAILED" = 0 ]; then say "PASS"; else say "FAILED"; exit 1; fi
