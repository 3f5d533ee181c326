#!/bin/sh
# apt-closure-check.sh LOCK CACHE_DIR TAG [EXCLUDE_ERE]
#
# The field's own check that a locked set is closed: the packages of LOCK tagged TAG are taken
# from the cache into a throwaway repository of exactly that set (indexed by apt-ftparchive,
# signed with a throwaway key), and apt, with an empty dpkg status and no other source, must
# accept installing every one of them at once (apt-get install --simulate). Package names
# matching EXCLUDE_ERE are left out of the install request (not out of the repository), for
# sets that are a union of alternatives (grub-pc and grub-efi-amd64 conflict).
set -eu
lock=$1 cache=$2 tag=$3 exclude=${4:-'^$'}
t=$(mktemp -d /tmp/kldload-aptcheck-XXXXXX)
trap 'rm -rf "$t"' EXIT
arch=$(sed -n 's/^arch: //p' "$lock")
mkdir -p "$t/repo/dists/kld/main/binary-$arch" "$t/state/lists/partial" "$t/cache/archives/partial" \
	"$t/etc/preferences.d" "$t/etc/apt.conf.d" "$t/etc/trusted.gpg.d"
: >"$t/status"
awk -v tag="$tag" 'NF == 8 && index("," $8 ",", "," tag ",") { print $1, $5, $7 }' "$lock" >"$t/set"
[ -s "$t/set" ] || { echo "apt-closure-check: no package tagged $tag in $lock" >&2; exit 1; }
while read -r name path sha; do
	mkdir -p "$t/repo/$(dirname "$path")"
	ln -s "$cache/sha256/$(echo "$sha" | cut -c1-2)/$sha" "$t/repo/$path"
done <"$t/set"
(cd "$t/repo" && apt-ftparchive packages pool >"dists/kld/main/binary-$arch/Packages" 2>/dev/null)
(cd "$t/repo/dists/kld" && apt-ftparchive -o APT::FTPArchive::Release::Suite=kld \
	-o APT::FTPArchive::Release::Codename=kld -o "APT::FTPArchive::Release::Architectures=$arch" \
	-o APT::FTPArchive::Release::Components=main release . >Release)
mkdir -m 700 "$t/gnupg"
export GNUPGHOME="$t/gnupg"
gpg -q --batch --passphrase '' --quick-gen-key aptcheck@kldload.invalid ed25519 sign never 2>/dev/null
gpg -q --batch --clearsign -o "$t/repo/dists/kld/InRelease" "$t/repo/dists/kld/Release"
gpg -q --batch --export >"$t/key.gpg"
echo "deb [signed-by=$t/key.gpg arch=$arch] file:$t/repo kld main" >"$t/sources.list"
set -- -o "Dir::Etc::sourcelist=$t/sources.list" -o Dir::Etc::sourceparts=- \
	-o "Dir::Etc::preferencesparts=$t/etc/preferences.d" -o "Dir::Etc::parts=$t/etc/apt.conf.d" \
	-o "Dir::Etc::trustedparts=$t/etc/trusted.gpg.d" -o "Dir::State=$t/state" \
	-o "Dir::State::status=$t/status" -o "Dir::Cache=$t/cache" -o "APT::Architecture=$arch" \
	-o "APT::Architectures::=$arch" -o Acquire::Languages=none -o Debug::NoLocking=1
apt-get "$@" -q update >"$t/update.log" 2>&1 || { cat "$t/update.log" >&2; exit 1; }
names=$(awk '{print $1}' "$t/set" | grep -Ev "$exclude" | sort -u)
if ! apt-get "$@" -q -s install $names >"$t/sim.log" 2>&1; then
	sed -n '/unmet dependencies/,$p' "$t/sim.log" >&2
	tail -5 "$t/sim.log" >&2
	exit 1
fi
n=$(grep -c '^Inst ' "$t/sim.log" || true)
echo "apt accepts the $tag set: $(wc -l <"$t/set") locked, $(echo "$names" | wc -w) requested, $n to install"
