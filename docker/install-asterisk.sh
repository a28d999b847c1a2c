#!/usr/bin/env bash
# Installs Asterisk 16.28 from Debian 11's security suite on Debian 12, plus the system tools flowengine
# needs (sox, espeak-ng, SIPp, PostgreSQL, Kamailio, a C compiler for the media kernel); idempotent. Mirror URIs come from the apt sources.
set -euo pipefail

SYSTEM_PACKAGES="asterisk asterisk-modules asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm sox espeak-ng sip-tester python3-venv python3-dev gcc libc6-dev postgresql kamailio docker-compose tmux"
LIST=/etc/apt/sources.list.d/flowengine-bullseye.sources

need_install() {
  for p in $SYSTEM_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 0
  done
  return 1
}

if ! need_install; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "install-asterisk: run as root (it installs Debian packages)" >&2
  exit 1
fi

# Collect the URIs this machine already uses for Debian (deb822 and one-line formats).
uris() {
  local kind=$1   # "debian" or "debian-security"
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      if [ -f "$f" ]; then awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f"; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      if [ -f "$f" ]; then awk '/^deb[ \t]/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) {print $i; break}}' "$f"; fi
    done
  } | sed 's#/*$##' | sort -u | while read -r u; do
    case "$kind:$u" in
      debian-security:*debian-security*) echo "$u" ;;
      debian:*debian-security*) ;;
      debian:*/debian) echo "$u" ;;
    esac
  done
}

if [ ! -f "$LIST" ]; then
  main_uris=$(uris debian | tr '\n' ' ')
  sec_uris=$(uris debian-security | tr '\n' ' ')
  if [ -z "$main_uris" ] || [ -z "$sec_uris" ]; then
    echo "install-asterisk: no Debian mirror found in /etc/apt/sources.list{,.d}" >&2
    exit 1
  fi
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  cat > "$LIST" <<SRC
# Added by flowengine: Debian 11 for Asterisk 16.28 (Debian 12 has no asterisk package).
Types: deb
URIs: $main_uris
Suites: bullseye
Components: main
Signed-By: $keyring

Types: deb
URIs: $sec_uris
Suites: bullseye-security
Components: main
Signed-By: $keyring
SRC
  # Prefer bookworm for everything else: only what bookworm lacks comes from bullseye.
  cat > /etc/apt/preferences.d/flowengine-bullseye <<'PREF'
Package: *
Pin: release n=bullseye
Pin-Priority: 100

Package: *
Pin: release n=bullseye-security
Pin-Priority: 100
PREF
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -o Acquire::Retries=3
# The package's postinst tries to start a system service; containers refuse that, which is fine.
apt-get install -y --no-install-recommends -o Acquire::Retries=3 $SYSTEM_PACKAGES || {
  dpkg --configure -a || true
  apt-get install -y --no-install-recommends $SYSTEM_PACKAGES
}
# Never leave Debian's system-wide instances running: flowengine and its tests start private ones.
if command -v service >/dev/null 2>&1; then
  service asterisk stop >/dev/null 2>&1 || true
  service postgresql stop >/dev/null 2>&1 || true
  service kamailio stop >/dev/null 2>&1 || true
fi
# Debian's kamailio service would take port 5060 at boot: flowengine starts its own (`flowengine kamailio`).
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable kamailio >/dev/null 2>&1 || true
fi
if command -v update-rc.d >/dev/null 2>&1; then
  update-rc.d kamailio disable >/dev/null 2>&1 || true
fi
pkill -x asterisk -u asterisk 2>/dev/null || true
asterisk -V
