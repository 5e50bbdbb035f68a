#!/usr/bin/env bash
# Installs the Debian packages serialpass's tests drive, those that are
# missing, and nothing else. `make test` runs it first, and .ci/run before
# its other checks. Idempotent and quiet: with all of them installed it
# prints nothing and takes a fraction of a second.
#
#   tools/system-deps.sh          check, and install what is missing (root)
#
# Not here: moto_server (Python), which comes with the machine image, and
# the Go tools (nfpm, ec2-metadata-mock), which `make tools` builds.
set -euo pipefail

# shadow-utils (passwd) and perl for crypt(3); a Debian root and packages
# (mmdebstrap, rpm, lintian); the serial-console VM (qemu, expect, socat,
# e2fsprogs, ssh); systemd-analyze (systemd); the arm64 binary run under
# emulation (qemu-user-static); SQLite databases for the wtmpdb reader
# (python3's sqlite3).
pkgs=(passwd perl mmdebstrap rpm lintian qemu-system-x86 qemu-utils
  expect socat e2fsprogs openssh-client systemd ca-certificates
  qemu-user-static python3)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "system-deps: not a Debian machine (no dpkg-query/apt-get); install the equivalents of: ${pkgs[*]}" >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0

if [[ $(id -u) != 0 ]]; then
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "system-deps: install them as root: apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
