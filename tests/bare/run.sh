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
	off=$(dirname "$fs")/offline
	rc=0
	mount_sys() {
		mount -t proc proc "$1/proc"
		mount --rbind /dev "$1/dev"
		mount -t sysfs sysfs "$1/sys"
	}
	# Stop whatever the commands left running under the root (found by it),
	# then unmount.
	unmount_sys() {
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/root" 2>/dev/null)" = "$1" ] && kill -9 "${p#/proc/}" 2>/dev/null
		done
		umount -R "$1/sys" "$1/dev" "$1/proc" || umount -R -l "$1/sys" "$1/dev" "$1/proc"
	}
	in_root() { # ROOT COMMAND: as a login would, with a clean environment
		r=$1
		shift
		chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -e -c "$*"
	}
	# ./make.sh demo in the copy, without network (a namespace of its own).
	offline_demo() {
		echo "== without network ($1): ./make.sh demo must stop with apt's error"
		log=$off.$(echo "$1" | tr -c 'a-z\n' -).log
		if unshare --net chroot "$off" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			/bin/sh -c 'cd /root/nestplan && ./make.sh demo' >"$log" 2>&1 </dev/null; then
			cat "$log"; echo "bare: FAILED: ./make.sh demo succeeded without network"; return 1
		fi
		awk '/^E: Failed to fetch/ { if (++n <= 2) print; else if (n == 3) print "E: ... (more of these)"; next }
			/^(E:|nestplan|make|Makefile)/' "$log" | sed 's/^/   | /'
		if grep -E 'command not found|make: cc|fatal error' "$log"; then
			echo "bare: FAILED: not stopped at the install"; return 1
		fi
		if ! grep -q '^E: ' "$log" || ! grep -q "^nestplan: 'apt-get [a-z]*' failed (above)" "$log"; then
			cat "$log"; echo "bare: FAILED: no apt error, or not said that the install failed"; return 1
		fi
		echo "bare: ok: without network ($1): stopped at the install, with apt's error"
	}

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

	# The chroot's git clones this repository (read-only) at the commit tested.
	mount_sys "$fs"
	mkdir "$fs/mnt/nestplan.git"
	mount --bind -o ro "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)" "$fs/mnt/nestplan.git"
	rev=$(git -C "$repo" rev-parse HEAD)
	in_root "$fs" "git clone -q /mnt/nestplan.git /root/nestplan && git -C /root/nestplan checkout -q --detach $rev" || rc=1
	umount "$fs/mnt/nestplan.git"
	echo "bare: cloned nestplan $(echo "$rev" | cut -c1-12) into /root/nestplan"
	echo "bare: before: $(in_root "$fs" 'for t in make cc gcc git; do
		command -v $t >/dev/null && echo "$t=present" || echo "$t=missing"; done' | tr '\n' ' ')"
	unmount_sys "$fs"

	# On a copy: with no network, ./make.sh stops with apt's own error, where
	# make is missing and where only the libraries are.
	cp -a "$fs" "$off"
	mount_sys "$off"
	offline_demo "no make" || rc=1
	in_root "$off" "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends make" \
		>"$off.make.log" 2>&1 </dev/null || { cat "$off.make.log"; echo "bare: cannot install make in the copy"; rc=1; }
	offline_demo "make, no libraries" || rc=1
	unmount_sys "$off"

	echo "== the README's Quickstart, as root in /root/nestplan:"
	sed 's/^/   /' "$quickstart"
	# The root a mount point of its own, as on a real machine: tests that make
	# a private mount namespace (unshare -m) need one.
	mount --bind "$fs" "$fs"
	mount_sys "$fs"
	in_root "$fs" 'cd /root/nestplan; while IFS= read -r line; do
		echo; echo "bare# $line"; eval "$line" </dev/null; done < /root/quickstart' || rc=$?
	unmount_sys "$fs"
	umount "$fs" || umount -l "$fs"
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
{
	unshare --mount --propagation private sh "$here/run.sh" --inside "$fs" "$mirror" "$top/quickstart"
	echo $? >"$top/rc"
} 2>&1 | tee "$top/log"
rc=$(cat "$top/rc" 2>/dev/null || echo 1)
echo
echo "== bare: summary ($(($(date +%s) - start)) s)"
grep -E '^bare: (ok|FAILED)' "$top/log" | sed 's/^bare: /  /'
echo "  README: $(tr '\n' ';' <"$top/quickstart" | sed 's/;$//; s/;/; /g'): exit $rc"
sed -n '/^skipped, with the reason:/,/^check: /p' "$top/log" | sed 's/^/  /'
grep -q '^check: ' "$top/log" || echo "  (no check summary)"
exit "$rc"
