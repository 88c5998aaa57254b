#!/bin/sh
echo "hi $1"
