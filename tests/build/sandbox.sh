#!/bin/sh
# The sandbox's walls, tried by fixture DKMS packages whose builds misbehave:
#   net      connects to a listener this test opens on the host's loopback: must fail
#   write    writes into the read-only build root and to a host path: must fail
#   modules  reads the host's /lib/modules/<host release>: must fail
#   probe    uname -r, /lib/modules and hostname name the target only: must build
# A failed build shows the end of its log and the log's path and leaves no output behind.
# The probe also builds when kldload runs as an unprivileged user (nobody).
# usage: sandbox.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/build/common.sh"

command -v dpkg-deb >/dev/null || kt_skip "no dpkg-deb"
command -v python3 >/dev/null || kt_skip "no python3 for the loopback listener"
[ -n "$(kt_kernel_abi)" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
unshare --user --map-root-user true 2>/dev/null || kt_skip "user namespaces are not allowed here"
work=$(mktemp -d /var/tmp/kldload-sandbox-test.XXXXXX)
chmod 755 "$work"
listener=
trap 'rm -rf "$work"; [ -z "$listener" ] || kill "$listener" 2>/dev/null' EXIT

# A listener on the host's loopback that would accept the net variant's connection.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(600)
while True:
    try:
        c, _ = s.accept(); c.close()
    except Exception:
        break
' "$work/port" &
listener=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$work/port" ] && break; sleep 0.2; done
port=$(cat "$work/port") || fail "the loopback listener did not start"
# Prove the listener is reachable from outside the sandbox, so the net case can fail.
bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || fail "the listener on port $port is not reachable"

bt_resolve "$work" wireguard || fail "resolve failed"
krel=$(bt_lock_kernel "$work")
marker=$work/host-marker
for v in net write modules probe; do
	param=
	[ $v = net ] && param=$port
	[ $v = write ] && param=$marker
	bt_fixture_deb "$work/kldtest-$v-dkms.deb" $v "$param" || fail "cannot make fixture $v"
	bt_add_to_lock "$work" "$work/kldtest-$v-dkms.deb" "$krel" || fail "cannot add fixture $v"
done

bt_forget_results
expect_refused() {
	v=$1
	said=$2
	log=$work/build-logs/$krel/dkms-kldtest-$v-dkms.log
	if bt_build "$work" "dkms:kldtest-$v-dkms" 2>"$work/$v.err"; then
		fail "the $v fixture built: the sandbox let it through"
	fi
	grep -q "$said" "$log" || { cat "$log"; fail "$v: the log does not say '$said'"; }
	grep -q "REACHED\|WROTE\|READ THE HOST" "$log" && { cat "$log"; fail "$v escaped the sandbox"; }
	grep -q "$log" "$work/$v.err" || { cat "$work/$v.err"; fail "$v: the error names no log"; }
	grep -q "$said" "$work/$v.err" || { cat "$work/$v.err"; fail "$v: no log tail shown"; }
	[ ! -e "$work/build-modules" ] || fail "$v: a failed stage left $work/build-modules"
	echo "$v: refused ($said)"
}
expect_refused net "no network, as expected"
expect_refused write "cannot write outside the build directory, as expected"
[ ! -e "$marker" ] || fail "the write fixture created $marker on the host"
expect_refused modules "the host's /lib/modules is not visible, as expected"

bt_build "$work" dkms:kldtest-probe-dkms 2>"$work/probe.err" ||
	{ cat "$work/probe.err" "$work/build-logs/$krel/dkms-kldtest-probe-dkms.log"; fail "probe failed"; }
grep -q "name the target only" "$work/build-logs/$krel/dkms-kldtest-probe-dkms.log" ||
	fail "probe: no statement from the build"
echo "probe: built as root"

# As an unprivileged user, with a cache and work directory of its own.
command -v setpriv >/dev/null || kt_skip "no setpriv to drop privileges"
[ "$(id -u)" -eq 0 ] || { echo "not root: the unprivileged case is this run itself"; exit 0; }
u=$work/user
mkdir -p "$u/cache/sha256" "$u/work"
cp -al "$(bt_cache)/sha256/." "$u/cache/sha256/" 2>/dev/null || cp -a "$(bt_cache)/sha256/." "$u/cache/sha256/"
cp -a "$work/resolve" "$work/resolve.stamp" "$work/fetch" "$work/fetch.stamp" "$u/work/" 2>/dev/null ||
	cp -a "$work/resolve" "$u/work/"
chown -R 65534:65534 "$u"
setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$u" \
	"$KLDLOAD" --plugin-path "$PLUGINS" --plugin debian --release "$(bt_release)" \
	--module dkms:kldtest-probe-dkms --stage build-modules --work-dir "$u/work" \
	--cache-dir "$u/cache" --output "$u/out" 2>"$work/nobody.err" ||
	{ cat "$work/nobody.err"; fail "the probe did not build as an unprivileged user"; }
ko=$u/work/build-modules/$krel/modules/dkms-kldtest-probe-dkms/updates/dkms/kldtest.ko
[ -f "$ko" ] || fail "no module from the unprivileged build"
[ "$(stat -c %u "$ko")" = 65534 ] || fail "the unprivileged build's output is not owned by nobody"
echo "probe: built as nobody ($(/sbin/modinfo -F vermagic "$ko"))"
