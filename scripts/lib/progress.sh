# shellcheck shell=bash
# scripts/lib/progress.sh: "still alive, and how far along" lines for long
# steps, shared by the shell scripts (source it from bash).
#
#   progress_init NAME [INTERVAL]
#       Lines start with "NAME: " and go to stderr. INTERVAL: seconds
#       between progress lines (default 15); KHOBOOT_PROGRESS_INTERVAL
#       overrides it.
#   progress_say TEXT...
#       One plain line "NAME: TEXT".
#   progress_run LABEL PROBE CMD [ARGS...]
#       Runs CMD in the foreground (Ctrl-C stops it as usual) and meanwhile,
#       every INTERVAL seconds, prints "NAME: LABEL: <status>, <elapsed>
#       elapsed"; at the end "NAME: LABEL done in <elapsed>" (or "failed
#       after"). Returns CMD's exit status; PROGRESS_SECS holds the seconds
#       it took. CMD may be a shell function: it runs in a subshell (it
#       cannot set the caller's variables), and as bash ignores set -e in a
#       function called from `if`, `&&` or `||`, it should check its own
#       steps.
#       PROBE is a command or function printing the status, or "-" for
#       none. A status "DONE TOTAL UNIT" (integers, TOTAL 0 if unknown) is
#       shown as "DONE/TOTAL UNIT (P%), ~T left", the time left measured
#       from this run's own rate once 2% of TOTAL is done; unit B is shown
#       in MB. Any other text is shown as is. The probe sees
#       PROGRESS_ELAPSED (seconds so far).
#   progress_fmt_secs SECONDS
#       "42 s", "3m05s", "1h02m".
#
# Output: when stderr is a terminal (and TERM is not dumb), the progress
# line is rewritten in place every 2 s; otherwise (CI, a log file, a pipe)
# plain lines only, no control characters. KHOBOOT_PROGRESS=plain forces
# plain lines, KHOBOOT_PROGRESS=off prints no periodic lines (stage lines
# and "done in" lines stay).

progress_init() {
  PROGRESS_NAME=$1
  PROGRESS_INTERVAL=${KHOBOOT_PROGRESS_INTERVAL:-${2:-15}}
  case "$PROGRESS_INTERVAL" in '' | *[!0-9]* | 0) PROGRESS_INTERVAL=15 ;; esac
  PROGRESS_MODE=${KHOBOOT_PROGRESS:-auto}
  if [ "$PROGRESS_MODE" = auto ]; then
    if [ -t 2 ] && [ "${TERM:-dumb}" != dumb ]; then PROGRESS_MODE="tty"; else PROGRESS_MODE="plain"; fi
  fi
  case "$PROGRESS_MODE" in tty | plain | off) ;; *) PROGRESS_MODE=plain ;; esac
  PROGRESS_SECS=0
}

progress_say() { printf '%s: %s\n' "$PROGRESS_NAME" "$*" >&2; }

progress_fmt_secs() {
  local s=$1
  if [ "$s" -lt 60 ]; then printf '%d s' "$s"
  elif [ "$s" -lt 3600 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60))
  else printf '%dh%02dm' $((s / 3600)) $((s % 3600 / 60)); fi
}

# "DONE TOTAL UNIT" -> "DONE/TOTAL UNIT (P%), ~T left"; other text unchanged.
# $2/$3: the first DONE seen and the seconds between it and this sample.
_progress_format() {
  local status=$1 done0=$2 span=$3 d t u shown pct left
  if [[ "$status" =~ ^([0-9]+)\ ([0-9]+)\ ([A-Za-z]+)$ ]]; then
    d=${BASH_REMATCH[1]} t=${BASH_REMATCH[2]} u=${BASH_REMATCH[3]}
    if [ "$u" = B ]; then
      shown=$(awk -v d="$d" -v t="$t" 'BEGIN { if (t > 0) printf "%.1f/%.1f MB", d / 1e6, t / 1e6; else printf "%.1f MB", d / 1e6 }')
    elif [ "$t" -gt 0 ]; then shown="$d/$t $u"
    else shown="$d $u"; fi
    if [ "$t" -gt 0 ]; then
      pct=$((d * 100 / t)); [ "$pct" -le 99 ] || pct=99
      shown="$shown ($pct%)"
      if [ "$d" -ge "$t" ]; then
        shown="$shown, past the estimate"
      elif [ "$span" -ge 10 ] && [ $((d - done0)) -ge $(((t + 49) / 50)) ]; then
        # (after 2% of the total at least: the first steps say little)
        left=$(((t - d) * span / (d - done0)))
        shown="$shown, ~$(progress_fmt_secs "$left") left"
      fi
    fi
    printf '%s' "$shown"
  else
    printf '%s' "$status"
  fi
}

# Background loop of progress_run; exits when its parent shell is gone.
_progress_monitor() {
  local label=$1 probe=$2 start=$3 parent=$4
  local now next tick status line done0="" t0=$start
  _progress_probe() {
    PROGRESS_ELAPSED=$((now - start))
    status=""
    if [ "$probe" != - ]; then status=$("$probe" 2>/dev/null) || status=""; fi
    if [ -z "$done0" ] && [[ "$status" =~ ^([0-9]+)\ [0-9]+\ [A-Za-z]+$ ]]; then
      done0=${BASH_REMATCH[1]} t0=$now
    fi
  }
  if [ "$PROGRESS_MODE" = tty ]; then tick=2; else tick=$PROGRESS_INTERVAL; fi
  [ "$tick" -le "$PROGRESS_INTERVAL" ] || tick=$PROGRESS_INTERVAL
  now=$start
  _progress_probe  # the baseline for the rate
  next=$((start + tick))
  while sleep 1 && kill -0 "$parent" 2>/dev/null; do
    now=$(date +%s)
    [ "$now" -ge "$next" ] || continue
    _progress_probe
    line=$(_progress_format "$status" "${done0:-0}" $((now - t0)))
    line="$label: ${line:+$line, }$(progress_fmt_secs "$PROGRESS_ELAPSED") elapsed"
    if [ "$PROGRESS_MODE" = tty ]; then
      printf '\r\033[K%s: %s' "$PROGRESS_NAME" "$line" >&2
    else
      printf '%s: %s\n' "$PROGRESS_NAME" "$line" >&2
    fi
    next=$((next + tick))
    [ "$next" -gt "$now" ] || next=$((now + tick))
  done
}

progress_run() {
  local label=$1 probe=$2 start rc mon="" errexit=0
  shift 2
  case $- in *e*) errexit=1 ;; esac
  set +e
  start=$(date +%s)
  if [ "$PROGRESS_MODE" != off ]; then
    _progress_monitor "$label" "$probe" "$start" "$BASHPID" &
    mon=$!
  fi
  # A foreground subshell (the caller's shell options): Ctrl-C reaches CMD
  # as usual.
  ("$@")
  rc=$?
  if [ -n "$mon" ]; then
    kill "$mon" 2>/dev/null
    wait "$mon" 2>/dev/null
  fi
  PROGRESS_SECS=$(($(date +%s) - start))
  [ "$PROGRESS_MODE" != tty ] || printf '\r\033[K' >&2
  if [ "$rc" -eq 0 ]; then
    progress_say "$label done in $(progress_fmt_secs "$PROGRESS_SECS")"
  else
    progress_say "$label failed after $(progress_fmt_secs "$PROGRESS_SECS") (exit $rc)"
  fi
  [ "$errexit" -eq 0 ] || set -e
  return "$rc"
}
