#!/bin/sh
# Build serialpass's deb and rpm packages for amd64 and arm64 into dist/.
#
#   packaging/build.sh [DIST_DIR]      (default: dist)
#   packaging/build.sh --print-version print the version it would stamp
#
# Environment (all optional):
#   VERSION            package version; default derived from git (see below)
#   ARCHES             GOARCH list; default "amd64 arm64"
#   SERIALPASS_CONFIG  default config.yaml to package; default packaging/config.yaml
#   NFPM               nfpm binary; default bin/nfpm (`make tools` builds it)
#   SOURCE_DATE_EPOCH  default: the last commit's time (reproducible output)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Debian/RPM-safe version from `git describe`:
#   v1.2.3                -> 1.2.3
#   v1.2.3-4-gabc1234     -> 1.2.3+git4.abc1234   (sorts after 1.2.3)
#   v1.2.3-rc1            -> 1.2.3~rc1            (sorts before 1.2.3)
#   abc1234 (no tag)      -> 0.0.0~git<commits>.abc1234
#   a tag not a version   -> 0.0.0~git<commits>.<short hash>
#   ...-dirty             -> ... .dirty
# A '-' never stays: dpkg would read it as a revision, rpm refuses it.
git_version() {
	desc=$(git describe --tags --always --dirty 2>/dev/null) || {
		echo 0.0.0~dev
		return
	}
	dirty=
	case $desc in *-dirty) dirty=.dirty desc=${desc%-dirty} ;; esac
	desc=${desc#v}
	tag=$desc since=
	case $desc in
	*-*-g*)
		tag=${desc%-*-g*}
		rest=${desc#"$tag"-}
		since=+git${rest%-g*}.${rest#*-g}
		;;
	esac
	case $tag in
	[0-9]*.*) echo "$(printf %s "$tag" | tr - '~')$since$dirty" ;;
	*) echo "0.0.0~git$(git rev-list --count HEAD).$(git rev-parse --short HEAD)$dirty" ;;
	esac
}

if [ "${1:-}" = --print-version ]; then
	git_version
	exit 0
fi

# Debian (native, no revision) and RPM both take a digit first, then
# letters, digits, '.', '+' and '~'.
safe_version() {
	case $1 in [0-9]*) ;; *) return 1 ;; esac
	case $1 in *[!A-Za-z0-9.+~]*) return 1 ;; esac
}

VERSION=${VERSION:-$(git_version)}
if ! safe_version "$VERSION"; then
	echo "build.sh: version '$VERSION' is not Debian/RPM-safe (a digit, then letters, digits, . + ~)" >&2
	exit 1
fi

dist=${1:-dist}
case $dist in /*) ;; *) dist=$root/$dist ;; esac
arches=${ARCHES:-amd64 arm64}
nfpm=${NFPM:-$root/bin/nfpm}
if [ ! -x "$nfpm" ]; then
	echo "build.sh: $nfpm not found: run 'make tools'" >&2
	exit 1
fi
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
SERIALPASS_CONFIG=${SERIALPASS_CONFIG:-packaging/config.yaml}
export VERSION SOURCE_DATE_EPOCH SERIALPASS_CONFIG

SERIALPASS_BUILD=$(mktemp -d)
trap 'rm -rf "$SERIALPASS_BUILD"' EXIT
export SERIALPASS_BUILD

# changelog.gz: lintian wants one (a native package: not changelog.Debian.gz).
# gzip -n keeps it reproducible.
{
	printf 'serialpass (%s) unstable; urgency=medium\n\n' "$VERSION"
	printf '  * Built from git %s.\n\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	printf ' -- serialpass maintainers <serialpass@users.noreply.github.com>  %s\n' \
		"$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a, %d %b %Y %H:%M:%S +0000')"
} | gzip -9n >"$SERIALPASS_BUILD/changelog.gz"

mkdir -p "$dist"
for GOARCH in $arches; do
	export GOARCH
	SERIALPASS_BIN=$SERIALPASS_BUILD/serialpass-$GOARCH
	export SERIALPASS_BIN
	CGO_ENABLED=0 GOOS=linux go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" \
		-o "$SERIALPASS_BIN" ./cmd/serialpass
	# nfpm names the deb serialpass_<version>_<arch>.deb itself; the rpm
	# gets serialpass-<version>.<arch>.rpm (nfpm's own name would carry the
	# release, -1, which the package keeps inside).
	case $GOARCH in
	amd64) rpmarch=x86_64 ;;
	arm64) rpmarch=aarch64 ;;
	*) rpmarch=$GOARCH ;;
	esac
	"$nfpm" package --config nfpm.yaml --packager deb --target "$dist/" >/dev/null
	"$nfpm" package --config nfpm.yaml --packager rpm \
		--target "$dist/serialpass-$VERSION.$rpmarch.rpm" >/dev/null
done
ls -l "$dist"
