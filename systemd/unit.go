// Package systemd holds serialpass's systemd unit, the one text both the
// packages and `serialpass install` use.
package systemd

import _ "embed"

// Unit is the hardened unit file systemd/serialpass.service. The deb and rpm
// packages install the file itself; `serialpass install` hands this text to
// kardianos/service, which treats it as a template: it holds no "{{".
//
//go:embed serialpass.service
var Unit string
