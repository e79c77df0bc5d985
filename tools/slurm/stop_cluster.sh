#!/usr/bin/env bash
# Stop a cluster started by start_cluster.sh (its state directory stays).
dir=$(cd "${1:?usage: $0 <state dir>}" && pwd)
for pidfile in slurmd.pid slurmctld.pid munge_sock/munged.pid; do
    [ -f "$dir/$pidfile" ] && kill "$(cat "$dir/$pidfile")" 2>/dev/null
done
sleep 0.5
true
