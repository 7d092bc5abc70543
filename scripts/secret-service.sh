#!/usr/bin/env bash
# scripts/secret-service.sh -- a REAL, private freedesktop Secret Service for tests.
#
# Usage
#   scripts/secret-service.sh run -- CMD [ARGS...]  # start, run CMD in that env, stop; exits with CMD's code
#   scripts/secret-service.sh install              # only make sure the Debian packages are there
#   scripts/secret-service.sh env                  # start, print `export ...` lines, leave running
#                                                    # (stop later: kill the printed PIDs, rm the dir)
#   source scripts/secret-service.sh               # defines functions only, runs nothing:
#     secret_service_start   # install if needed, start both daemons, export the env, trap cleanup on EXIT
#     secret_service_stop    # kill both daemons (by their PIDs), remove the temp dir, restore the env
#
# Exported by secret_service_start: DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR, XDG_DATA_HOME,
# XDG_CONFIG_HOME, SECRET_SERVICE_DIR, SECRET_SERVICE_DBUS_PID, SECRET_SERVICE_KEYRING_PID.
# Knobs: SECRET_SERVICE_TIMEOUT (s, default 10), SECRET_SERVICE_NO_INSTALL=1,
#        SECRET_SERVICE_NO_TRAP=1 (sourcing shell handles cleanup), PYTHON (default python3).
#
# Why each step is there
# - Packages: gnome-keyring (the Secret Service implementation), dbus-daemon + dbus-bin (the bus and
#   dbus-send for the readiness probe) and dbus-x11: gnome-keyring depends on "a session bus"; naming
#   dbus-x11 satisfies that, otherwise apt picks dbus-user-session, which drags in systemd.
#   `apt-get update` runs only when something is missing, so a warm machine costs one dpkg-query.
#   apt output goes to a log file; one line is printed (plus the log tail on failure).
# - Private bus: dbus-daemon with its OWN config (type session, socket in our temp dir, no
#   <servicedir>), so it never touches a developer's real bus AND never D-Bus-activates a second,
#   locked gnome-keyring (the stock session.conf would, on the first call to org.freedesktop.secrets).
# - Private keyring: gnome-keyring-daemon --foreground --unlock --components=secrets with a
#   throw-away password on stdin and HOME/XDG_* in the temp dir. --unlock creates the "login"
#   keyring unlocked and aliases it as "default"; without it, creating a collection needs a prompt,
#   which fails headless with "Prompt dismissed". DISPLAY/WAYLAND_DISPLAY are dropped for the daemon.
# - Readiness: poll (bounded, SECRET_SERVICE_TIMEOUT) until the "default" alias resolves to an
#   unlocked collection -- via python+secretstorage if importable, else dbus-send ReadAlias.
# - XDG_CONFIG_HOME is exported too so a developer's keyringrc.cfg can't pick another backend.
#   HOME is NOT changed for the caller (pyenv shims, pip caches... depend on it).
# - Works as root in CI (CI=true, stdin </dev/null): nothing reads the terminal; non-root uses sudo -n.

_ss_log() { printf 'secret-service: %s\n' "$*" >&2; }

_ss_packages="gnome-keyring dbus-daemon dbus-bin dbus-x11"

# Install what is missing (idempotent; fast path = one dpkg-query + command -v).
secret_service_install() {
    local missing="" p status
    if command -v dpkg-query >/dev/null 2>&1; then
        for p in $_ss_packages; do
            status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || status=""
            [ "$status" = "installed" ] || missing="$missing $p"
        done
    else
        for p in gnome-keyring-daemon dbus-daemon dbus-send; do
            command -v "$p" >/dev/null 2>&1 || missing="$missing $p"
        done
        if [ -n "$missing" ]; then
            _ss_log "missing:$missing and no dpkg/apt here; install gnome-keyring + dbus by hand"
            return 1
        fi
    fi
    [ -z "$missing" ] && return 0
    if [ "${SECRET_SERVICE_NO_INSTALL:-0}" = 1 ]; then
        _ss_log "missing Debian packages:$missing (SECRET_SERVICE_NO_INSTALL=1)"; return 1
    fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
            _ss_log "missing:$missing; not root and no passwordless sudo"; return 1
        fi
    fi
    local logf="${TMPDIR:-/tmp}/secret-service-apt.log"
    _ss_log "installing$missing (apt log: $logf)"
    # shellcheck disable=SC2086
    if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q update \
           && $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
                --no-install-recommends -o DPkg::Lock::Timeout=120 $missing; \
         } </dev/null >"$logf" 2>&1; then
        _ss_log "apt-get failed; last lines of $logf:"; tail -n 20 "$logf" >&2; return 1
    fi
}

# Alive = exists and is not a zombie (the --fork'ed dbus-daemon is re-parented to PID 1, which in
# some containers never reaps it, so kill -0 alone would report a dead daemon as alive).
_ss_alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    local st=""
    [ -r "/proc/$1/stat" ] && st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ "$st" != Z ]
}

# 0 when the "default" alias points at an unlocked collection.
_ss_ready() {
    local py="${PYTHON:-python3}"
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import secretstorage' >/dev/null 2>&1; then
        "$py" - >/dev/null 2>&1 <<'EOF'
import secretstorage
conn = secretstorage.dbus_init()
c = secretstorage.get_default_collection(conn)
raise SystemExit(1 if c.is_locked() else 0)
EOF
        return
    fi
    local out
    out=$(dbus-send --session --print-reply --reply-timeout=1000 --dest=org.freedesktop.secrets \
        /org/freedesktop/secrets org.freedesktop.Secret.Service.ReadAlias string:default 2>/dev/null) \
        || return 1
    case "$out" in *'object path "/org/freedesktop/secrets/collection/'*) return 0 ;; esac
    return 1
}

secret_service_start() {
    if _ss_alive "${SECRET_SERVICE_KEYRING_PID:-}" && _ss_alive "${SECRET_SERVICE_DBUS_PID:-}"; then
        return 0   # already running in this shell
    fi
    secret_service_install || return 1
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/secret-service.XXXXXX") || return 1
    chmod 700 "$d"
    mkdir -m 700 "$d/runtime" "$d/data" "$d/config" "$d/cache" "$d/home" "$d/bus" || return 1
    cat >"$d/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$d/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
    # Remember the caller's env so secret_service_stop can put it back.
    _SS_SAVED_ENV=""
    local v
    for v in DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR XDG_DATA_HOME XDG_CONFIG_HOME; do
        if [ -n "${!v+x}" ]; then _SS_SAVED_ENV+="export $v=$(printf '%q' "${!v}");"
        else _SS_SAVED_ENV+="unset $v;"; fi
    done
    SECRET_SERVICE_DIR="$d"; export SECRET_SERVICE_DIR

    local out addr pid
    out=$(dbus-daemon --config-file="$d/bus.conf" --fork --nopidfile --print-address=1 \
        --print-pid=1 </dev/null 2>"$d/dbus.log") || {
        _ss_log "dbus-daemon failed:"; cat "$d/dbus.log" >&2; secret_service_stop; return 1; }
    addr=$(printf '%s\n' "$out" | sed -n 1p); pid=$(printf '%s\n' "$out" | sed -n 2p)
    SECRET_SERVICE_DBUS_PID="$pid"; export SECRET_SERVICE_DBUS_PID
    export DBUS_SESSION_BUS_ADDRESS="$addr" XDG_RUNTIME_DIR="$d/runtime" \
        XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config"

    # Throw-away password; the keyring files live and die in $d.
    local pw="ss-$$-$RANDOM$RANDOM"
    printf '%s' "$pw" | env -u DISPLAY -u WAYLAND_DISPLAY HOME="$d/home" XDG_CACHE_HOME="$d/cache" \
        gnome-keyring-daemon --foreground --unlock --components=secrets >"$d/keyring.log" 2>&1 &
    SECRET_SERVICE_KEYRING_PID=$!; export SECRET_SERVICE_KEYRING_PID
    disown "$SECRET_SERVICE_KEYRING_PID" 2>/dev/null || true

    local timeout="${SECRET_SERVICE_TIMEOUT:-10}" start=$SECONDS
    until _ss_ready; do
        if ! _ss_alive "$SECRET_SERVICE_KEYRING_PID"; then
            _ss_log "gnome-keyring-daemon exited early:"; cat "$d/keyring.log" >&2
            secret_service_stop; return 1
        fi
        if (( SECONDS - start >= timeout )); then
            _ss_log "Secret Service not ready after ${timeout}s; keyring log:"; cat "$d/keyring.log" >&2
            secret_service_stop; return 1
        fi
        sleep 0.1
    done

    if [ "${SECRET_SERVICE_NO_TRAP:-0}" != 1 ]; then
        # Chain onto the caller's EXIT trap instead of replacing it.
        local prev; prev=$(trap -p EXIT)
        if [ -n "$prev" ]; then local -a w; eval "w=($prev)"; prev="${w[2]}"; fi  # trap -- 'CMD' EXIT
        # shellcheck disable=SC2064
        trap "secret_service_stop; ${prev}" EXIT
    fi
    _ss_log "ready (bus $DBUS_SESSION_BUS_ADDRESS, dir $d, $(( SECONDS - start ))s)"
}

secret_service_stop() {
    local p
    for p in "${SECRET_SERVICE_KEYRING_PID:-}" "${SECRET_SERVICE_DBUS_PID:-}"; do
        _ss_alive "$p" && kill -TERM "$p" 2>/dev/null
    done
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do   # up to 2 s, then SIGKILL
        _ss_alive "${SECRET_SERVICE_KEYRING_PID:-}" || _ss_alive "${SECRET_SERVICE_DBUS_PID:-}" || break
        sleep 0.1
    done
    for p in "${SECRET_SERVICE_KEYRING_PID:-}" "${SECRET_SERVICE_DBUS_PID:-}"; do
        _ss_alive "$p" && kill -KILL "$p" 2>/dev/null
    done
    case "${SECRET_SERVICE_DIR:-}" in
        */secret-service.??????) rm -rf -- "$SECRET_SERVICE_DIR" ;;
    esac
    [ -n "${_SS_SAVED_ENV:-}" ] && eval "$_SS_SAVED_ENV"
    unset SECRET_SERVICE_DIR SECRET_SERVICE_DBUS_PID SECRET_SERVICE_KEYRING_PID _SS_SAVED_ENV
    return 0
}

# ---- executed (not sourced) ----
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    case "${1:-}" in
        install) secret_service_install; exit ;;
        env)
            SECRET_SERVICE_NO_TRAP=1 secret_service_start || exit 1
            for v in DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR XDG_DATA_HOME XDG_CONFIG_HOME \
                     SECRET_SERVICE_DIR SECRET_SERVICE_DBUS_PID SECRET_SERVICE_KEYRING_PID; do
                printf 'export %s=%q\n' "$v" "${!v}"
            done
            exit 0 ;;
        run)
            shift
            [ "${1:-}" = "--" ] && shift
            [ $# -gt 0 ] || { _ss_log "usage: $0 run -- CMD [ARGS...]"; exit 2; }
            SECRET_SERVICE_NO_TRAP=1 secret_service_start || exit 1
            trap 'secret_service_stop' EXIT
            trap 'exit 130' INT
            trap 'exit 143' TERM
            rc=0; "$@" || rc=$?
            exit "$rc" ;;
        *)
            sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
            exit 2 ;;
    esac
fi
