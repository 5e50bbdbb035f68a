package testbed

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RootOption changes the root NewRoot builds.
type RootOption func(*sandboxSpec)

type sandboxSpec struct {
	adminGroup    string
	encryptMethod string
	users         []sandboxUser
}

type sandboxUser struct {
	name string
	uid  int
}

// WithWheel makes the admin group "wheel" (RHEL style) instead of "sudo".
func WithWheel() RootOption { return func(s *sandboxSpec) { s.adminGroup = "wheel" } }

// WithEncryptMethod sets ENCRYPT_METHOD in etc/login.defs (SHA512 by
// default), e.g. "YESCRYPT".
func WithEncryptMethod(method string) RootOption {
	return func(s *sandboxSpec) { s.encryptMethod = method }
}

// WithUser adds a user with its own group (GID = uid), shell /bin/bash and
// a locked password ("!"), as useradd would leave it.
func WithUser(name string, uid int) RootOption {
	return func(s *sandboxSpec) { s.users = append(s.users, sandboxUser{name: name, uid: uid}) }
}

// NewRoot builds a minimal root in t.TempDir() that shadow-utils' --root
// accepts: etc/passwd, shadow (0640), group, gshadow (0640), login.defs,
// shells with empty executable bin/bash and bin/sh, etc/skel and home/,
// and what the serial console needs of an image: etc/pam.d/login,
// etc/security/access.conf and GRUB defaults with console=ttyS0. It has no
// PAM configuration for chpasswd, so chpasswd --root needs -c there.
func NewRoot(t TB, opts ...RootOption) string {
	t.Helper()
	spec := sandboxSpec{adminGroup: "sudo", encryptMethod: "SHA512"}
	for _, o := range opts {
		o(&spec)
	}
	root := t.TempDir()
	passwd := []string{
		"root:x:0:0:root:/root:/bin/bash",
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
		"bin:x:2:2:bin:/bin:/usr/sbin/nologin",
		"sys:x:3:3:sys:/dev:/usr/sbin/nologin",
		"sync:x:4:65534:sync:/bin:/bin/sync",
		"man:x:6:12:man:/var/cache/man:/usr/sbin/nologin",
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
	}
	var shadow []string
	for _, l := range passwd {
		name, _, _ := strings.Cut(l, ":")
		shadow = append(shadow, name+":*:19700:0:99999:7:::")
	}
	groups := []string{
		"root:x:0:", "daemon:x:1:", "bin:x:2:", "sys:x:3:", "adm:x:4:",
		"tty:x:5:", "disk:x:6:", "man:x:12:", "users:x:100:",
	}
	if spec.adminGroup == "wheel" {
		groups = append(groups, "wheel:x:10:")
	} else {
		groups = append(groups, "sudo:x:27:")
	}
	groups = append(groups, "nogroup:x:65534:")
	for _, u := range spec.users {
		passwd = append(passwd, fmt.Sprintf("%s:x:%d:%d::/home/%s:/bin/bash", u.name, u.uid, u.uid, u.name))
		shadow = append(shadow, u.name+":!:19700:0:99999:7:::")
		groups = append(groups, fmt.Sprintf("%s:x:%d:", u.name, u.uid))
	}
	var gshadow []string
	for _, l := range groups {
		name, _, _ := strings.Cut(l, ":")
		gshadow = append(gshadow, name+":*::")
	}
	loginDefs := fmt.Sprintf(`# login.defs for a serialpass test root
MAIL_DIR        /var/mail
PASS_MAX_DAYS   99999
PASS_MIN_DAYS   0
PASS_WARN_AGE   7
UID_MIN         1000
UID_MAX         60000
SYS_UID_MIN     100
SYS_UID_MAX     999
GID_MIN         1000
GID_MAX         60000
SYS_GID_MIN     100
SYS_GID_MAX     999
UMASK           022
HOME_MODE       0750
USERGROUPS_ENAB yes
ENCRYPT_METHOD  %s
`, spec.encryptMethod)

	// What a Debian image has for the serial console: a login PAM stack
	// with pam_access commented out (as Debian ships it), an access.conf,
	// and the kernel console on ttyS0 in the GRUB defaults.
	pamLogin := `# The PAM configuration file for the Shadow 'login' service
auth       optional   pam_faildelay.so  delay=3000000
auth       requisite  pam_nologin.so
# Uncomment and edit /etc/security/access.conf if you need to
# set access limits.
# account  required     pam_access.so
@include common-auth
@include common-account
session    required   pam_limits.so
@include common-session
@include common-password
`
	grub := "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200\"\n"

	for _, d := range []string{"etc/skel", "home", "bin", "root", "var/mail", "etc/pam.d", "etc/security", "etc/default"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatalf("creating sandbox root: %v", err)
		}
	}
	files := []struct {
		path string
		mode os.FileMode
		data string
	}{
		{"etc/passwd", 0o644, sandboxLines(passwd)},
		{"etc/shadow", 0o640, sandboxLines(shadow)},
		{"etc/group", 0o644, sandboxLines(groups)},
		{"etc/gshadow", 0o640, sandboxLines(gshadow)},
		{"etc/login.defs", 0o644, loginDefs},
		{"etc/shells", 0o644, "# /etc/shells: valid login shells\n/bin/sh\n/bin/bash\n/usr/bin/bash\n"},
		{"etc/pam.d/login", 0o644, pamLogin},
		{"etc/security/access.conf", 0o644, "# Login access control table.\n"},
		{"etc/default/grub", 0o644, grub},
		{"bin/bash", 0o755, ""},
		{"bin/sh", 0o755, ""},
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatalf("creating sandbox root: %v", err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // umask-proof
			t.Fatalf("creating sandbox root: %v", err)
		}
	}
	return root
}

func sandboxLines(ls []string) string { return strings.Join(ls, "\n") + "\n" }

// ShadowHash returns the password field of user in root's etc/shadow; it
// fails the test if the user has no entry.
func ShadowHash(t TB, root, user string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc", "shadow"))
	if err != nil {
		t.Fatalf("reading sandbox shadow: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) == 9 && f[0] == user {
			return f[1]
		}
	}
	t.Fatalf("user %q has no entry in %s/etc/shadow", user, root)
	return ""
}

// FileSum returns the hex SHA-256 of the file's bytes, for "left
// byte-identical" assertions.
func FileSum(t TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hashing %s: %v", path, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
