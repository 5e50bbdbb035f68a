package packaging_test

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/internal/testbed"
	"github.com/serialpass/serialpass/systemd"
)

const (
	// maxExposure is the limit issue 3 sets for systemd-analyze security.
	maxExposure = 2.5
	// maxDebSize is the limit issue 3 sets for the .deb.
	maxDebSize = 8 << 20
	// aptPackages is what these tests need on a Debian machine;
	// tools/system-deps.sh (run by make test) installs them.
	aptPackages = "systemd dpkg lintian rpm mmdebstrap"
)

// repoRoot is the module root, seen from this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// needTools fails the test when a system tool is missing.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s not found: run tools/system-deps.sh as root (or apt-get install %s), or set SERIALPASS_SKIP_PACKAGING=1", n, aptPackages)
		}
	}
}

func skipIfAsked(t *testing.T) {
	t.Helper()
	if os.Getenv("SERIALPASS_SKIP_PACKAGING") == "1" {
		t.Skip("SERIALPASS_SKIP_PACKAGING=1")
	}
}

// run runs a command and returns its stdout; it fails the test on error.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

var (
	exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	// readmeExposureRE finds the number the README states, as in
	// "reports an exposure of **2.3**" (the line may wrap anywhere).
	readmeExposureRE = regexp.MustCompile(`exposure\s+of\s+\*\*([0-9.]+)\*\*`)
)

func TestUnitExposure(t *testing.T) {
	skipIfAsked(t)
	needTools(t, "systemd-analyze")
	unit := filepath.Join(repoRoot(t), "systemd", "serialpass.service")
	out := run(t, nil, "systemd-analyze", "security", "--offline=yes", unit)
	m := exposureRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in systemd-analyze output:\n%s", out)
	}
	got, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exposure %.1f", got)
	if got > maxExposure {
		t.Errorf("exposure %.1f, want <= %.1f:\n%s", got, maxExposure, out)
	}
	// The unit's own comment states the measured number: keep it honest.
	if want := "overall exposure of " + m[1]; !strings.Contains(systemd.Unit, want) {
		t.Errorf("unit comment does not say %q", want)
	}
	// So does the README: every number it states is the measured one.
	stated := readmeExposureRE.FindAllStringSubmatch(readRepoFile(t, "README.md"), -1)
	if len(stated) == 0 {
		t.Errorf("README.md states no exposure (want \"exposure of **%s**\")", m[1])
	}
	for _, s := range stated {
		if s[1] != m[1] {
			t.Errorf("README.md says %q; systemd-analyze measures %s", s[0], m[1])
		}
	}
}

func TestUnitText(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "systemd", "serialpass.service"))
	if err != nil {
		t.Fatal(err)
	}
	if systemd.Unit != string(data) {
		t.Error("systemd.Unit differs from systemd/serialpass.service")
	}
	if strings.Contains(systemd.Unit, "{{") {
		t.Error("unit holds {{, which kardianos/service would read as a template")
	}
	for _, line := range []string{
		"Type=notify", "ExecStart=/usr/bin/serialpass run",
		"EnvironmentFile=-/etc/default/serialpass", "EnvironmentFile=-/etc/sysconfig/serialpass",
		"ProtectSystem=strict", "ReadWritePaths=/etc /home", "StateDirectory=serialpass",
		"NoNewPrivileges=yes", "MemoryMax=64M", "Restart=on-failure", "WantedBy=multi-user.target",
	} {
		if !slices.Contains(strings.Split(systemd.Unit, "\n"), line) {
			t.Errorf("unit lacks the line %q", line)
		}
	}
}

// TestDefaultConfig checks packaging/config.yaml: commented out it gives
// the defaults, uncommented it names every key of agent.Config with its
// default value.
func TestDefaultConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	keyLine := regexp.MustCompile(`(?m)^#([a-z_]+):`)
	uncommented := keyLine.ReplaceAll(data, []byte("$1:"))
	want, err := yaml.Marshal(agent.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string][]byte{"as shipped": data, "uncommented": uncommented} {
		t.Run(name, func(t *testing.T) {
			cfg, err := agent.ParseConfig(text)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			got, err := yaml.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("config differs from agent.DefaultConfig():\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	t.Run("every key", func(t *testing.T) {
		var keys []string
		for _, m := range keyLine.FindAllSubmatch(data, -1) {
			keys = append(keys, string(m[1]))
		}
		var check func(typ reflect.Type)
		check = func(typ reflect.Type) {
			for i := range typ.NumField() {
				tag, opts, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
				if opts == "inline" {
					check(typ.Field(i).Type) // keys at the top level
					continue
				}
				if tag != "" && tag != "-" && !slices.Contains(keys, tag) {
					t.Errorf("packaging/config.yaml lacks a commented %q line", tag)
				}
			}
		}
		check(reflect.TypeFor[agent.Config]())
	})
}

// buildPackages runs packaging/build.sh into a temporary dist dir.
func buildPackages(t *testing.T, env ...string) string {
	t.Helper()
	root := repoRoot(t)
	nfpm := filepath.Join(root, "bin", "nfpm")
	if _, err := os.Stat(nfpm); err != nil {
		t.Fatalf("%s missing: run 'make tools'", nfpm)
	}
	dist := t.TempDir()
	run(t, append([]string{"NFPM=" + nfpm}, env...), filepath.Join(root, "packaging", "build.sh"), dist)
	return dist
}

func TestPackages(t *testing.T) {
	skipIfAsked(t)
	needTools(t, "dpkg-deb", "lintian", "rpm")
	testbed.Exclusive(t)
	const version = "0.9.0"
	dist := buildPackages(t, "VERSION="+version)
	arches := []struct {
		goarch, deb, rpm string
		machine          elf.Machine
	}{
		{"amd64", "amd64", "x86_64", elf.EM_X86_64},
		{"arm64", "arm64", "aarch64", elf.EM_AARCH64},
	}
	for _, a := range arches {
		deb := filepath.Join(dist, "serialpass_"+version+"_"+a.deb+".deb")
		rpmFile := filepath.Join(dist, "serialpass-"+version+"."+a.rpm+".rpm")
		t.Run("deb/"+a.goarch, func(t *testing.T) {
			fi, err := os.Stat(deb)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes", filepath.Base(deb), fi.Size())
			if fi.Size() > maxDebSize {
				t.Errorf("%s is %d bytes, want <= %d", deb, fi.Size(), maxDebSize)
			}
			fields := run(t, nil, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture")
			if want := "Package: serialpass\nVersion: " + version + "\nArchitecture: " + a.deb + "\n"; fields != want {
				t.Errorf("control fields:\n%s\nwant:\n%s", fields, want)
			}
			conffiles := strings.Fields(run(t, nil, "dpkg-deb", "-I", deb, "conffiles"))
			slices.Sort(conffiles)
			if want := []string{"/etc/default/serialpass", "/etc/serialpass/config.yaml"}; !slices.Equal(conffiles, want) {
				t.Errorf("conffiles %q, want %q", conffiles, want)
			}
			files := debFiles(t, deb)
			wantFiles := []string{
				"etc/default/serialpass", "etc/serialpass/config.yaml",
				"lib/systemd/system/serialpass.service", "usr/bin/serialpass",
				"usr/share/doc/serialpass/README.md",
				"usr/share/doc/serialpass/changelog.gz", "usr/share/doc/serialpass/copyright",
				"usr/share/lintian/overrides/serialpass",
			}
			if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, wantFiles) {
				t.Errorf("deb files:\n%q\nwant:\n%q", got, wantFiles)
			}
			if files["lib/systemd/system/serialpass.service"] != systemd.Unit {
				t.Error("packaged unit differs from systemd/serialpass.service")
			}
			checkBinary(t, files["usr/bin/serialpass"], a.machine)
			checkRuns(t, files["usr/bin/serialpass"], a.goarch, version)
			checkDebMeta(t, deb, files)
		})
		t.Run("rpm/"+a.goarch, func(t *testing.T) {
			info := run(t, nil, "rpm", "-qp", "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}", rpmFile)
			if want := "serialpass " + version + " 1 " + a.rpm; info != want {
				t.Errorf("rpm info %q, want %q", info, want)
			}
			list := strings.Fields(run(t, nil, "rpm", "-qpl", rpmFile))
			wantList := []string{
				"/etc/serialpass/config.yaml", "/etc/sysconfig/serialpass", "/usr/bin/serialpass",
				"/usr/lib/systemd/system-preset/80-serialpass.preset",
				"/usr/lib/systemd/system/serialpass.service",
				"/usr/share/doc/serialpass/README.md", "/usr/share/doc/serialpass/copyright",
			}
			if !slices.Equal(list, wantList) {
				t.Errorf("rpm -qpl:\n%q\nwant:\n%q", list, wantList)
			}
			// FILEFLAGS "cn": %config(noreplace).
			flags := run(t, nil, "rpm", "-qp", "--queryformat", "[%{FILENAMES}=%{FILEFLAGS:fflags}\n]", rpmFile)
			for _, f := range []string{"/etc/serialpass/config.yaml=cn", "/etc/sysconfig/serialpass=cn", "/usr/bin/serialpass="} {
				if !slices.Contains(strings.Split(flags, "\n"), f) {
					t.Errorf("rpm file flags lack %q:\n%s", f, flags)
				}
			}
			checkRPMMeta(t, rpmFile, flags)
			configs := strings.Fields(run(t, nil, "rpm", "-qp", "--configfiles", rpmFile))
			if want := []string{"/etc/serialpass/config.yaml", "/etc/sysconfig/serialpass"}; !slices.Equal(configs, want) {
				t.Errorf("rpm --configfiles %q, want %q", configs, want)
			}
			scripts := run(t, nil, "rpm", "-qp", "--scripts", rpmFile)
			for _, s := range []string{
				"postinstall scriptlet", "systemctl --no-reload preset serialpass.service",
				"preuninstall scriptlet", "systemctl --no-reload disable serialpass.service",
				"postuninstall scriptlet", "systemctl try-restart serialpass.service",
			} {
				if !strings.Contains(scripts, s) {
					t.Errorf("rpm scripts lack %q:\n%s", s, scripts)
				}
			}
		})
	}
	t.Run("lintian", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
		out, err := exec.CommandContext(ctx, "lintian", append([]string{"--no-cfg", "--pedantic", "--display-info"}, debs...)...).CombinedOutput()
		t.Logf("lintian:\n%s", out)
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("lintian: %v", err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "E: ") {
				t.Errorf("lintian error: %s", line)
			}
		}
		if err != nil && !t.Failed() {
			t.Errorf("lintian exited with %v", err)
		}
	})
}

// debFiles reads the regular files of a .deb's data archive.
func debFiles(t *testing.T, deb string) map[string]string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "dpkg-deb", "--fsys-tarfile", deb)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(stdout)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = string(data)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile %s: %v", deb, err)
	}
	return files
}

// checkBinary asserts a static ELF executable for machine.
func checkBinary(t *testing.T, data string, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(strings.NewReader(data))
	if err != nil {
		t.Fatalf("packaged binary: %v", err)
	}
	if f.Machine != machine {
		t.Errorf("binary machine %v, want %v", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has an ELF interpreter: not static (CGO_ENABLED=0?)")
		}
	}
}
