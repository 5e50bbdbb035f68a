package testbed

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	if !isMainModule(filepath.Join(root, "go.mod")) {
		t.Fatalf("RepoRoot = %s, whose go.mod is not module %s", root, modulePath)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testbed", "repo.go")); err != nil {
		t.Errorf("RepoRoot = %s does not hold this package: %v", root, err)
	}
}

func TestStartAEMM(t *testing.T) {
	a := StartAEMM(t, "serialpass:secret", "aemm-secret")
	req, _ := http.NewRequest(http.MethodPut, a.Endpoint+"/latest/api/token", nil)
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tests := []struct {
		name, path, token string
		code              int
		body              string
	}{
		{"listing holds the one key", "/latest/meta-data/tags/instance", string(tok), 200, "serialpass:secret"},
		{"the tag", "/latest/meta-data/tags/instance/serialpass:secret", string(tok), 200, "aemm-secret"},
		{"instance id", "/latest/meta-data/instance-id", string(tok), 200, AEMMInstanceID},
		{"role name", "/latest/meta-data/iam/security-credentials/", string(tok), 200, AEMMRole},
		{"leaf without token is 401 (-I)", "/latest/meta-data/instance-id", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, a.Endpoint+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("X-aws-ec2-metadata-token", tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || (tt.body != "" && string(b) != tt.body) {
				t.Errorf("= %d %q, want %d %q", resp.StatusCode, b, tt.code, tt.body)
			}
		})
	}
}
