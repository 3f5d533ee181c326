#!/bin/sh
# Each module package is read by dpkg-deb and passes lintian without an error; its modules sit
# under /lib/modules/<release>/updates, it depends on the exact kernel and provides a generic name.
set -eu
. "$(dirname "$0")/common.sh"
need_build
n=0
for d in "$work"/assemble/debs/*.deb; do
	dpkg-deb --info "$d" >/tmp/kldload-debinfo.$$
	pkg=$(sed -n 's/^ Package: //p' /tmp/kldload-debinfo.$$)
	k=${pkg#*-modules-}
	grep -q "^ Depends: linux-image-$k (= " /tmp/kldload-debinfo.$$
	grep -q "^ Provides: ${pkg%%-modules-*}-modules" /tmp/kldload-debinfo.$$
	dpkg-deb --contents "$d" | grep -q " ./lib/modules/$k/updates/.*\.ko"
	dpkg-deb --ctrl-tarfile "$d" | tar -xO ./postinst | grep -q "depmod -a $k"
	lintian --fail-on error "$d"
	echo "$pkg: dpkg-deb and lintian agree"
	n=$((n + 1))
done
rm -f /tmp/kldload-debinfo.$$
[ "$n" -gt 0 ]
