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
df -P $human "$path" | head -n "$lines"
