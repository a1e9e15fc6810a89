#!/usr/bin/env bash
# The system packages sstpd's build, tests and benchmarks need, installed idempotently on Debian 12.
# As root: installs what is missing (apt-get, no recommends; package scripts may not start services),
# stops a system FreeRADIUS that would hold 1812/1813 (the tests start their own), and makes sure
# /dev/net/tun exists. Not root: lists what is missing and fails, so the caller knows why.
# Safe to run any number of times: with everything present it only checks (well under a second).
set -euo pipefail

# iproute2: netns, links · openssl: certificates · iputils-ping, procps, psmisc: test plumbing ·
# kmod: modprobe tun · qemu-system-x86: the sstpc VM · freeradius + freeradius-utils (radclient):
# RADIUS tests · haproxy: the proxy tests · systemd: systemd-analyze verify of the unit ·
# prometheus: promtool checks the metrics endpoint · postgresql + freeradius-postgresql: the
# examples/cluster deployment and its test (own PostgreSQL instance, FreeRADIUS rlm_sql on it) ·
# python3, make, g++: node-gyp for the native addon · iperf3: rate-limit tests and the benchmarks.
PACKAGES=(
    iproute2 openssl iputils-ping procps psmisc kmod ca-certificates iperf3 haproxy systemd prometheus
    qemu-system-x86
    freeradius freeradius-utils
    postgresql freeradius-postgresql
    python3 make g++
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "system-deps: missing packages: ${missing[*]}; run as root (or: apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "system-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep package scripts from starting services, unless a policy is already in place.
    policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
    fi
    trap '[ "$own_policy" = 0 ] || rm -f "$policy"' EXIT
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "system-deps: all present (${#PACKAGES[@]} packages)"
fi

if [ "$(id -u)" = 0 ]; then
    # A freeradius started by an earlier install must not occupy the RADIUS ports.
    for svc in freeradius haproxy prometheus; do
        if pidof "$svc" >/dev/null 2>&1; then
            echo "system-deps: stopping the system $svc service (the tests run their own)"
            service "$svc" stop >/dev/null 2>&1 || pkill -x "$svc" || true
        fi
    done
    # The postgresql package creates and starts a system cluster; the cluster example runs its own
    # instance (own data dir, socket and port), so the system one is stopped and left to start by hand.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters -h 2>/dev/null | while read -r ver name _port status _rest; do
            conf="/etc/postgresql/$ver/$name/start.conf"
            if [ -f "$conf" ] && ! grep -qx manual "$conf"; then echo manual > "$conf"; fi
            if [ "$status" = online ]; then
                echo "system-deps: stopping the system postgresql $ver/$name cluster (the tests run their own)"
                pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
            fi
        done
    fi
    if [ ! -c /dev/net/tun ]; then
        modprobe tun 2>/dev/null || true
        if [ ! -c /dev/net/tun ]; then mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && chmod 666 /dev/net/tun; fi
    fi
fi
