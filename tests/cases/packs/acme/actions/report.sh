#!/bin/sh
# Named arguments come as --name=value, booleans as a bare --flag, then the positional ones (StackStorm's order).
for arg in "$@"; do
    echo "arg: $arg"
done
