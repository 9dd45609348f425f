# Sourced by scripts/run: `supervise NAME LOG COMMAND...` runs COMMAND (output appended to LOG) and
# starts it again whenever it dies: a kill -9 of the inference worker (issue 23) once stopped the
# whole embedded stack, web included. Run it in the background (`supervise ... &`); TERM or INT
# stops it and its child. The child's pid is kept in $SUPERVISE_PID_DIR/NAME.pid. A child that keeps
# dying at once is restarted after a pause that doubles up to 30 s; after a minute up, 1 s again.
# Nothing is lost by a restart: jobs the dead worker held are returned to the queue by the sweeper
# once its heartbeat expires (docs/reliability.md W6), and the broker redelivers unacknowledged ones.
supervise() {
  local name=$1 log=$2
  shift 2
  local child="" pause=1 started rc
  trap 'trap - TERM INT; if [[ -n $child ]]; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi; exit 0' TERM INT
  while true; do
    started=$SECONDS
    "$@" >>"$log" 2>&1 &
    child=$!
    echo "$child" >"${SUPERVISE_PID_DIR:-var}/$name.pid"
    rc=0
    wait "$child" || rc=$?
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) supervise: $name (pid $child) exited with status $rc; starting it again in ${pause}s" | tee -a "$log" >&2
    child=""
    sleep "$pause" & wait $! || true
    if (( SECONDS - started >= 60 )); then pause=1; else pause=$(( pause * 2 > 30 ? 30 : pause * 2 )); fi
  done
}
