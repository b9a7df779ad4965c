#!/bin/sh
# Install Debian packages that the build or the tests need, with apt's own
# progress on the screen and apt's own error when it fails.
#   sh tools/apt-install.sh 'WHAT' PKG...     (WHAT names them in messages)
# Not root: says the command to run, and fails. The package lists are
# refreshed first: a fresh machine has none, or old ones.
set -u
what=$1
shift
if [ "$(id -u)" != 0 ]; then
	echo "nestplan: need $what; as root run: apt-get update && apt-get install --no-install-recommends $*" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "nestplan: need $what, and there is no apt-get here: install the equivalents of $*" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "nestplan: installing $what: $*"
apt-get update || { echo "nestplan: 'apt-get update' failed (above): $what not installed" >&2; exit 1; }
apt-get install -y --no-install-recommends "$@" ||
	{ echo "nestplan: 'apt-get install' failed (above): $what not installed" >&2; exit 1; }
