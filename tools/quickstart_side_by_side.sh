#!/usr/bin/env bash
# `graphmdn-tf quickstart --no-export` of an older checkout and of this checkout, started together (the
# same machine load), each with fresh output and cache folders; prints each command's wall time.
#
#   bash tools/quickstart_side_by_side.sh OLD_CHECKOUT OUT_DIR [OLD_OUTPUT_FLAG]
#
# OLD_OUTPUT_FLAG is the older checkout's spelling of --output-dir (90854da: --output).
set -u
old=$1 out=$(realpath -m "$2") old_flag=${3:---output}
new=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out/old" "$out/new" && mkdir -p "$out/old" "$out/new"
grep -m1 'model name' /proc/cpuinfo
echo "start $(date -u +%H:%M:%S) load [$(uptime | sed 's/.*load average: //')]"
run() { # name checkout output-flag
  local start=$(date +%s.%N)
  (cd "$2" && TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/graphmdn-tf quickstart --no-export --verbose 0 \
    "$3" "$out/$1/runs" --cache-dir "$out/$1/cache" > "$out/$1.log" 2>&1)
  echo "$1 rc=$? wall=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")"
}
run old "$old" "$old_flag" &
run new "$new" --output-dir &
wait
echo "end $(date -u +%H:%M:%S) load [$(uptime | sed 's/.*load average: //')]"
