package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultIMDSEndpoint is EC2's instance metadata address.
const DefaultIMDSEndpoint = "http://169.254.169.254"

// HTTPMetadata probes the instance metadata service with plain HTTP: the
// IMDSv1 check needs a tokenless request, which the SDK client (rightly)
// refuses to make.
type HTTPMetadata struct {
	// Endpoint is the service's base URL.
	Endpoint string
	Client   *http.Client
	token    string
}

// NewHTTPMetadata uses AWS_EC2_METADATA_SERVICE_ENDPOINT when set, as the
// SDK does, and short timeouts: doctor must answer off EC2 too.
func NewHTTPMetadata() *HTTPMetadata {
	ep := os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if ep == "" {
		ep = DefaultIMDSEndpoint
	}
	return &HTTPMetadata{Endpoint: strings.TrimRight(ep, "/"), Client: &http.Client{Timeout: 2 * time.Second}}
}

// Token implements Metadata.
func (m *HTTPMetadata) Token(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.Endpoint+"/latest/api/token", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	body, code, err := m.do(req)
	if err != nil {
		return err
	}
	if code != http.StatusOK || body == "" {
		return fmt.Errorf("PUT %s/latest/api/token: HTTP %d", m.Endpoint, code)
	}
	m.token = body
	return nil
}

// Tokenless implements Metadata.
func (m *HTTPMetadata) Tokenless(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/latest/meta-data/instance-id", nil)
	if err != nil {
		return 0, err
	}
	_, code, err := m.do(req)
	return code, err
}

// Get implements Metadata.
func (m *HTTPMetadata) Get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/latest/meta-data/"+path, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-aws-ec2-metadata-token", m.token)
	body, code, err := m.do(req)
	switch {
	case err != nil:
		return "", err
	case code == http.StatusNotFound:
		return "", fmt.Errorf("%s: %w", path, ErrNotFound)
	case code != http.StatusOK:
		return "", fmt.Errorf("GET %s: HTTP %d", path, code)
	}
	return body, nil
}

func (m *HTTPMetadata) do(req *http.Request) (string, int, error) {
	resp, err := m.Client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("instance metadata at %s: %w", m.Endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", resp.StatusCode, fmt.Errorf("instance metadata at %s: %w", m.Endpoint, err)
	}
	return string(b), resp.StatusCode, nil
}
