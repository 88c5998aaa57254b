#!/usr/bin/env bash
# Installs the Debian 12 packages Squall builds and runs with. Idempotent: installs only what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache
  libboost-dev nlohmann-json3-dev libhiredis-dev libyaml-cpp-dev libgit2-dev
  libspdlog-dev libfmt-dev libssl-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpcre2-dev libjemalloc-dev json-schema-test-suite libhowardhinnant-date-dev tzdata
  redis-server python3 python3-jinja2 python3-yaml python3-semver python3-jsonpath-rw python3-venv python3-pip curl git openapi-specification
  python3-bs4 python3-eventlet
  openssh-server openssh-client sshpass
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
