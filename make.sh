#!/bin/sh
# make for a machine that may not have it yet: installs make when it is
# missing (as root, from Debian's packages), then runs make with the same
# arguments. The Makefile installs the libraries and test tools it needs.
#   ./make.sh demo     ./make.sh check     ./make.sh help
set -eu
cd "$(dirname "$0")"
if ! command -v make >/dev/null 2>&1; then
	sh tools/apt-install.sh "make (to build nestplan)" make
fi
exec make "$@"
