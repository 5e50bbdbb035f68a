package testbed

// This file: AWS's amazon-ec2-metadata-mock (AEMM), the IMDS emulator that
// keeps our own internal/imdsemu honest.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Values AEMM serves, as configured by StartAEMM.
const (
	AEMMInstanceID   = "i-0aemm0000000000a1"
	AEMMRegion       = "eu-west-3"
	AEMMInstanceType = "t3.nano"
	AEMMRole         = "serialpass-aemm-role"
	AEMMAccessKeyID  = "ASIAAEMMTESTKEY00001"
)

// aemmReadyTimeout bounds the wait for AEMM to answer (usually ~40 ms).
const aemmReadyTimeout = 10 * time.Second

// AEMM is a running ec2-metadata-mock.
type AEMM struct {
	// Endpoint is http://127.0.0.1:PORT, for AWS_EC2_METADATA_SERVICE_ENDPOINT.
	Endpoint string
	// TagKey and TagValue are the one tag it serves.
	TagKey, TagValue string
	log              string
}

// LogPath is the file holding AEMM's output (it logs every request).
func (a *AEMM) LogPath() string { return a.log }

// StartAEMM runs ec2-metadata-mock in IMDSv2-only mode (-I) on a free
// loopback port, serving the instance, region, type and role above, role
// credentials that expire in 2099, and exactly one instance tag:
// meta-data/tags/instance lists tagKey and tags/instance/<tagKey> holds
// tagValue. AEMM has only two tag slots (tags-instance-name and
// tags-instance-test); the listing takes one, the tag the other, so more
// tags are not possible. It is killed when the test ends. The binary comes
// from <repo>/bin (make tools) or PATH; without it the test fails.
func StartAEMM(t TB, tagKey, tagValue string) *AEMM {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin", "ec2-metadata-mock")
	if _, err := os.Stat(bin); err != nil {
		p, lerr := exec.LookPath("ec2-metadata-mock")
		if lerr != nil {
			t.Fatalf("ec2-metadata-mock not found in %s or on PATH: run make tools", filepath.Dir(bin))
		}
		bin = p
	}
	if strings.ContainsAny(tagKey, "/ \n") || tagKey == "" {
		t.Fatalf("StartAEMM: tag key %q is not valid in instance metadata", tagKey)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "aemm.json")
	if err := os.WriteFile(cfgPath, aemmConfig(tagKey, tagValue), 0o600); err != nil {
		t.Fatalf("writing AEMM config: %v", err)
	}
	var lastErr error
	for attempt := range 3 { // a port taken in between makes AEMM panic
		a, err := startAEMM(t, bin, cfgPath, filepath.Join(dir, fmt.Sprintf("aemm-%d.log", attempt)))
		if err == nil {
			a.TagKey, a.TagValue = tagKey, tagValue
			return a
		}
		lastErr = err
	}
	t.Fatalf("starting ec2-metadata-mock: %v", lastErr)
	return nil
}

// aemmConfig is AEMM's JSON config: the two tag slots remapped onto the
// listing and one key, and our own identity and credentials.
func aemmConfig(tagKey, tagValue string) []byte {
	creds := map[string]string{
		"Code":            "Success",
		"LastUpdated":     "2026-01-01T00:00:00Z",
		"Type":            "AWS-HMAC",
		"AccessKeyId":     AEMMAccessKeyID,
		"SecretAccessKey": "aemm/test/secret/access/key/not/real/0000",
		"Token":           "aemm-session-token",
		// Its default credentials expired in 2020.
		"Expiration": "2099-01-01T00:00:00Z",
	}
	cfg := map[string]any{
		"metadata": map[string]any{
			"paths": map[string]string{
				"tags-instance-name":            "/latest/meta-data/tags/instance",
				"tags-instance-test":            "/latest/meta-data/tags/instance/" + tagKey,
				"iam-security-credentials":      "/latest/meta-data/iam/security-credentials/" + AEMMRole,
				"iam-security-credentials-role": "/latest/meta-data/iam/security-credentials",
			},
			"values": map[string]any{
				"tags-instance-name":            tagKey,
				"tags-instance-test":            tagValue,
				"instance-id":                   AEMMInstanceID,
				"instance-type":                 AEMMInstanceType,
				"placement-region":              AEMMRegion,
				"placement-availability-zone":   AEMMRegion + "a",
				"iam-security-credentials-role": AEMMRole,
				"iam-security-credentials":      creds,
			},
		},
		"dynamic": map[string]any{
			"values": map[string]any{
				"instance-identity-document": map[string]any{
					"instanceId":       AEMMInstanceID,
					"region":           AEMMRegion,
					"instanceType":     AEMMInstanceType,
					"availabilityZone": AEMMRegion + "a",
				},
			},
		},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ") // maps of strings: cannot fail
	return b
}

func startAEMM(t TB, bin, cfgPath, logPath string) (*AEMM, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating AEMM log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-c", cfgPath, "-I", "-n", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill() // already gone is fine
		<-exited
	}
	a := &AEMM{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), log: logPath}
	if err := waitAEMM(a.Endpoint, exited); err != nil {
		stop()
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w; its output:\n%s", err, out)
	}
	t.Cleanup(stop)
	return a, nil
}

// waitAEMM polls the token endpoint until AEMM issues a token.
func waitAEMM(endpoint string, exited <-chan error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(aemmReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("ec2-metadata-mock exited before it was ready: %w", exitError(err))
		default:
		}
		req, err := http.NewRequest(http.MethodPut, endpoint+"/latest/api/token", nil)
		if err != nil {
			return fmt.Errorf("building token request: %w", err)
		}
		req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("ec2-metadata-mock did not issue a token within " + aemmReadyTimeout.String())
}
