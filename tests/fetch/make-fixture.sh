#!/bin/sh
# make-fixture.sh OUT
#
# Builds a small signed Debian repository for the fetch tests, at test time:
#   OUT/debian/{dists/fixture,pool}   the archive (dists/stable -> fixture), components main and
#                                     contrib, amd64; real .debs made with dpkg-deb, indexes by
#                                     apt-ftparchive, InRelease clearsigned by a throwaway key
#   OUT/keyring.gpg                   that key (the archive keyring to trust)
#   OUT/stranger.gpg                  another throwaway key, trusted by nobody
#   OUT/gnupg                         the GnuPG home holding both secret keys
# Env: VALID_UNTIL (RFC 2822 date) adds a Valid-Until field.
set -eu
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
arch=amd64
work=$out/build
mkdir -p "$work" "$out/debian/dists/fixture/main/binary-$arch" \
	"$out/debian/dists/fixture/contrib/binary-$arch"

# deb COMPONENT NAME VERSION ARCH PRIORITY [FIELD: VALUE]...
deb() {
	comp=$1 name=$2 ver=$3 a=$4 prio=$5
	shift 5
	d=$work/$name-$ver
	mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$name"
	{
		echo "Package: $name"
		echo "Version: $ver"
		echo "Architecture: $a"
		echo "Maintainer: kldload tests <tests@kldload.invalid>"
		echo "Priority: $prio"
		echo "Section: misc"
		for f in "$@"; do echo "$f"; done
		echo "Description: fixture package $name"
		echo " Built by kldload's fetch tests."
	} >"$d/DEBIAN/control"
	echo "$name $ver" >"$d/usr/share/doc/$name/README"
	pool=$out/debian/pool/$comp/$(echo "$name" | cut -c1)/$name
	mkdir -p "$pool"
	dpkg-deb --root-owner-group -Zgzip --build "$d" "$pool/${name}_${ver}_$a.deb" >/dev/null
}

deb main base-files 13.8 $arch required "Essential: yes"
deb main libc6 2.41-12 $arch optional
deb main dash 0.5.12-12 $arch required "Essential: yes" "Pre-Depends: libc6 (>= 2.34)"
deb main libc6-dev 2.41-12 $arch optional "Depends: libc6 (= 2.41-12)"
deb main make 4.4.1-2 $arch optional "Depends: libc6"
deb main cpp-12 12.2.0-14 $arch optional
deb main gcc-12 12.2.0-14 $arch optional "Depends: cpp-12 (= 12.2.0-14), libc6"
deb main linux-image-0.9.0-1-amd64 0.9.0-1 $arch optional
deb main linux-image-1.0.0-1-amd64 1.0.0-1 $arch optional
deb main linux-image-1.0.0-1-cloud-amd64 1.0.0-2 $arch optional
deb main linux-image-amd64 1.0.0-1 $arch optional "Depends: linux-image-1.0.0-1-amd64 (= 1.0.0-1)"
deb main linux-headers-1.0.0-1-common 1.0.0-1 all optional
deb main linux-kbuild-1.0 1.0.0-1 $arch optional "Depends: libc6"
deb main linux-headers-1.0.0-1-amd64 1.0.0-1 $arch optional \
	"Depends: linux-headers-1.0.0-1-common (= 1.0.0-1), linux-kbuild-1.0 (>= 1.0.0-1), gcc-12"
deb main linux-headers-0.9.0-1-common 0.9.0-1 all optional
deb main linux-kbuild-0.9 0.9.0-1 $arch optional
deb main linux-headers-0.9.0-1-amd64 0.9.0-1 $arch optional \
	"Depends: linux-headers-0.9.0-1-common (= 0.9.0-1), linux-kbuild-0.9, linux-compiler-gcc-12-x86"
deb main linux-compiler-gcc-12-x86 1.0.0-1 $arch optional "Depends: gcc-12"
deb main dkms 3.0.10-8 all optional "Depends: make, gcc | gcc-12"
deb main broken 1.0 all optional "Depends: missing-thing (>= 2)"
deb main conflict-a 1.0 all optional "Conflicts: conflict-b"
deb main conflict-b 1.0 all optional
deb main needs-newer 1.0 all optional "Depends: libc6 (>= 9.0)"
# a larger package (1 MiB of random bytes) for the truncation and resume tests
mkdir -p "$work/bigpkg-1.0/usr/share/bigpkg"
head -c 1048576 /dev/urandom >"$work/bigpkg-1.0/usr/share/bigpkg/data"
deb main bigpkg 1.0 all standard
deb contrib zfs-dkms 2.3.9-1 all optional "Depends: dkms (>= 2.1)" "Recommends: zfsutils-linux"
deb contrib zfsutils-linux 2.3.9-1 $arch optional "Depends: libc6" "Breaks: zfs-old (<< 2)"

cd "$out/debian"
for comp in main contrib; do
	apt-ftparchive packages "pool/$comp" >"dists/fixture/$comp/binary-$arch/Packages" 2>/dev/null
	xz -k -f "dists/fixture/$comp/binary-$arch/Packages"
	gzip -k -f -n "dists/fixture/$comp/binary-$arch/Packages"
done
ln -sfn fixture dists/stable
(cd dists/fixture && apt-ftparchive -o APT::FTPArchive::Release::Origin=Fixture \
	-o APT::FTPArchive::Release::Suite=stable -o APT::FTPArchive::Release::Codename=fixture \
	-o APT::FTPArchive::Release::Version=13.8 -o "APT::FTPArchive::Release::Architectures=$arch" \
	-o "APT::FTPArchive::Release::Components=main contrib" release . >Release.new)
if [ -n "${VALID_UNTIL:-}" ]; then
	sed "s/^\(Date: .*\)$/\1\nValid-Until: $VALID_UNTIL/" dists/fixture/Release.new >dists/fixture/Release
else
	mv dists/fixture/Release.new dists/fixture/Release
fi
rm -f dists/fixture/Release.new

mkdir -p -m 700 "$out/gnupg"
export GNUPGHOME="$out/gnupg"
if [ ! -s "$out/keyring.gpg" ]; then
	gpg -q --batch --passphrase '' --quick-gen-key archive@fixture.invalid ed25519 sign never 2>/dev/null
	gpg -q --batch --passphrase '' --quick-gen-key stranger@fixture.invalid ed25519 sign never 2>/dev/null
	gpg -q --batch --export archive@fixture.invalid >"$out/keyring.gpg"
	gpg -q --batch --export stranger@fixture.invalid >"$out/stranger.gpg"
fi
gpg -q --batch --yes --local-user archive@fixture.invalid --clearsign \
	-o dists/fixture/InRelease dists/fixture/Release
rm -rf "$work"
