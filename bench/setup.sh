#!/bin/sh
# What the HTTP benchmark needs beyond the project's virtual environment: wrk, the load generator.
# Debian/Ubuntu, as root. bench/http_bench.py runs the same when it finds no wrk and runs as root.
set -eu
if command -v wrk >/dev/null 2>&1; then
    echo "wrk is installed: $(command -v wrk)"
    exit 0
fi
apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
