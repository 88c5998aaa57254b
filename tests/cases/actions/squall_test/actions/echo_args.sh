#!/usr/bin/env bash
# Prints its arguments one per line, then where and with what it ran.
for a in "$@"; do
  echo "arg:$a"
done
echo "cwd:$(pwd)"
echo "env:${MY_VAR:-}"
echo "pack:${ST2_ACTION_PACK_NAME:-}"
