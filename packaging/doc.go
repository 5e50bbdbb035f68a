// Package packaging holds serialpass's packaging files (nfpm inputs,
// maintainer scripts, build.sh) and, in its tests, the checks of the built
// deb and rpm packages and of the systemd unit.
package packaging
