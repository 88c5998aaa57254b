#!/bin/sh
# Greets its first positional argument. The value is data here: it is quoted wherever it is used and never
# evaluated, whatever characters it holds.
times=1
name=world
for arg in "$@"; do
    case "$arg" in
        --times=*) times="${arg#--times=}" ;;
        *) name="$arg" ;;
    esac
done
i=0
while [ "$i" -lt "$times" ]; do
    printf 'Hello, %s!\n' "$name"
    i=$((i + 1))
done
