#!/bin/sh
# Runs this checkout's ftpredis for ../shared/bench/ftpbench.py:
#   --ours-cmd "bench/harness-ours.sh {config} 2" --ours-cwd .
# $1 is the config the harness generated, $2 the ServerWorkers to add (default 1).
set -e
config=$1
workers=${2:-1}
if [ "$workers" != 1 ] && ! grep -q '^ServerWorkers' "$config"; then
    printf 'ServerWorkers %s\n' "$workers" >> "$config"
fi
here=$(cd "$(dirname "$0")/.." && pwd)
exec env PYTHONPATH="$here" python3 -c 'from twisted.scripts.twistd import run; run()' \
    -n --pidfile= ftpredis --config "$config"
