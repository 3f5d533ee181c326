# Shared by the fetch and resolve benchmarks: find kldload, the mirror from the host's APT
# configuration (never written here), and a throwaway APT configuration for that release.
KLDLOAD=${KLDLOAD:-$(cd "$(dirname "$0")/.." && pwd)/build/kldload}
PLUGIN_DIR=${PLUGIN_DIR:-$(dirname "$KLDLOAD")/plugins}
MIRROR=${MIRROR:-$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $1; exit}')}
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit}' /etc/apt/sources.list)
KEYRING=${KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }

# kldload with the same mirror and keyring the apt side is given
kld() {
	"$KLDLOAD" --plugin-path "$PLUGIN_DIR" --mirror "$MIRROR" --keyring "$KEYRING" "$@"
}

# apt_setup DIR CODENAME ARCH: an APT configuration in DIR that sees only that release of the
# mirror, with an empty dpkg status; sets APT_OPTS. Runs apt-get update (not timed).
apt_setup() {
	d=$1
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/parts" "$d/prefs"
	: >"$d/status"
	echo "deb [signed-by=$KEYRING arch=$3] $MIRROR $2 main contrib non-free non-free-firmware" \
		>"$d/sources.list"
	APT_OPTS="-o Dir::Etc::sourcelist=$d/sources.list -o Dir::Etc::sourceparts=- \
-o Dir::Etc::parts=$d/parts -o Dir::Etc::preferencesparts=$d/prefs -o Dir::State::lists=$d/lists \
-o Dir::State::status=$d/status -o Dir::Cache=$d/cache -o APT::Architecture=$3 \
-o APT::Architectures::=$3 -o Acquire::Languages=none -o Debug::NoLocking=1"
	# shellcheck disable=SC2086
	apt-get $APT_OPTS -qq update
}
