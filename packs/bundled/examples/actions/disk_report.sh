#!/bin/sh
# StackStorm's local-shell-script calling convention: named parameters first (--name=value, true booleans as
# a bare --name, false ones left out), then the positional ones in `position` order.
lines=5
human=""
path=/
for arg in "$@"; do
    case "$arg" in
        --lines=*) lines="${arg#--lines=}" ;;
        --human) human=-h ;;
        --*) echo "disk_report: unknown option $arg" >&2; exit 2 ;;
        *) path="$arg" ;;
    esac
done
# df's own exit status is the action's (a pipe would report head's): a path that does not exist fails the run.
report=$(df -P $human "$path") || exit $?
printf '%s\n' "$report" | head -n "$lines"
