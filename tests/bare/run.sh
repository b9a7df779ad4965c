#!/bin/sh
# make bare-test: the README's Quickstart commands, exactly as the README
# writes them, on a fresh Debian 12 (debootstrap minbase plus git: no make,
# no compiler), as root in a chroot. Slow (downloads and builds everything),
# so it is not part of `make check` nor .ci/run.
#
# The chroot is a clone of the committed HEAD, as a new user would get it.
# Everything runs in a private mount namespace: the chroot's /proc, /dev and
# /sys mounts (debootstrap's own too) cannot leak onto this machine, and they
# are unmounted before the tree is removed.
#
# Env: BARE_MIRROR  Debian mirror (default: the bookworm URI of apt's sources)
#      BARE_DIR     where the chroot goes (default /var/tmp)
#      BARE_KEEP=1  keep the chroot afterwards (its path is printed)
#      BARE_CACHE   debootstrap's .deb cache, kept between runs
#                   (default /var/tmp/nestplan-bare-cache; empty: none)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ "${1:-}" = --inside ]; then
	# In the private mount namespace: build the system, then run the commands.
	fs=$2 mirror=$3 quickstart=$4
	cache=${BARE_CACHE-/var/tmp/nestplan-bare-cache}
	set --
	if [ -n "$cache" ]; then
		mkdir -p "$cache"
		set -- --cache-dir="$cache"
	fi
	echo "== debootstrap --variant=minbase --include=git bookworm ($mirror)"
	debootstrap --variant=minbase --include=git "$@" bookworm "$fs" "$mirror" >"$fs.debootstrap.log" 2>&1 ||
		{ tail -n 40 "$fs.debootstrap.log"; echo "bare: debootstrap failed (log above)"; exit 1; }
	echo "debootstrap: $(grep -c '^I: Validating ' "$fs.debootstrap.log") packages"
	cp /etc/resolv.conf "$fs/etc/resolv.conf"
	cp "$quickstart" "$fs/root/quickstart"
	mount -t proc proc "$fs/proc"
	mount --rbind /dev "$fs/dev"
	mount -t sysfs sysfs "$fs/sys"
	# The chroot's git clones this repository (read-only) at the commit tested.
	mkdir "$fs/mnt/nestplan.git"
	mount --bind -o ro "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)" "$fs/mnt/nestplan.git"
	rev=$(git -C "$repo" rev-parse HEAD)
	chroot "$fs" /bin/sh -c "git clone -q /mnt/nestplan.git /root/nestplan && git -C /root/nestplan checkout -q --detach $rev"
	umount "$fs/mnt/nestplan.git"
	echo "bare: cloned nestplan $(echo "$rev" | cut -c1-12) into $fs/root/nestplan"
	rc=0
	echo "bare: before: $(chroot "$fs" /bin/sh -c 'for t in make cc gcc git; do
		command -v $t >/dev/null && echo "$t=present" || echo "$t=missing"; done' | tr '\n' ' ')"
	echo "== the README's Quickstart, as root in /root/nestplan:"
	sed 's/^/   /' "$quickstart"
	chroot "$fs" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -e -c 'cd /root/nestplan; while IFS= read -r line; do
			echo; echo "bare# $line"; eval "$line" </dev/null; done < /root/quickstart' || rc=$?
	# Stop whatever the commands left running in there (by their root).
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$fs" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	umount -R "$fs/sys" "$fs/dev" "$fs/proc" || umount -R -l "$fs/sys" "$fs/dev" "$fs/proc"
	exit $rc
fi

[ "$(id -u)" = 0 ] || { echo "bare: run as root (debootstrap, chroot, mount)"; exit 1; }
command -v debootstrap >/dev/null 2>&1 || sh "$repo/tools/apt-install.sh" "debootstrap (for the bare-machine test)" debootstrap

# The mirror apt already uses for bookworm (one-line or deb822 sources).
mirror=${BARE_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
	/^deb / { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break
		  if ($(i + 1) == "bookworm") { print $i; exit } }
	/^URIs:/ { uri = $2 }
	/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm" && uri != "") { print uri; exit } }
	/^$/ { uri = "" }')}
mirror=${mirror:-http://deb.debian.org/debian}

# The README's commands: the lines of the first code block under Quickstart,
# comments dropped.
top=$(mktemp -d "${BARE_DIR:-/var/tmp}/nestplan-bare.XXXXXX")
fs=$top/root
awk '/^## Quickstart/ { q = 1; next } q && /^## / { exit }
	q && /^```/ { if (c) exit; c = 1; next }
	c { sub(/[ \t]*#.*/, ""); if ($0 != "") print }' "$repo/README.md" >"$top/quickstart"
[ -s "$top/quickstart" ] || { echo "bare: no commands found in README.md's Quickstart"; rm -rf "$top"; exit 1; }

cleanup() {
	# The mounts lived in the namespace that has ended; refuse to remove a
	# tree that still has one (from this machine's point of view).
	if grep -q " $top/" /proc/self/mountinfo; then
		echo "bare: mounts left under $top, not removed:"; grep " $top/" /proc/self/mountinfo
	elif [ "${BARE_KEEP:-}" = 1 ]; then
		echo "bare: kept $fs"
	else
		rm -rf "$top"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
rc=0
unshare --mount --propagation private sh "$here/run.sh" --inside "$fs" "$mirror" "$top/quickstart" || rc=$?
echo
echo "bare: $(($(date +%s) - start)) s, exit $rc"
exit $rc
