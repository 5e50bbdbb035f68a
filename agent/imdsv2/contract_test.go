package imdsv2

// The drift test: one contract, run against our emulator (internal/imdsemu)
// and AWS's amazon-ec2-metadata-mock, through the SDK exactly as the agent
// uses it (config.LoadDefaultConfig with AWS_EC2_METADATA_SERVICE_ENDPOINT).

import (
	"context"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/internal/imdsemu"
	"github.com/serialpass/serialpass/internal/testbed"
)

const (
	contractTagKey   = "serialpass:secret"
	contractTagValue = "contract/serial-password"
)

// peer is one IMDS implementation under the contract.
type peer struct {
	name     string
	endpoint string
	identity agent.Identity
	keyID    string // role AccessKeyId it serves
}

// isolateSDK points the SDK at endpoint and nothing else: no shared config
// or credentials files, no static keys, no region from the environment.
func isolateSDK(t *testing.T, endpoint string) {
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED",
		"AWS_EC2_METADATA_V1_DISABLED", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	} {
		t.Setenv(k, "")
	}
}

func loadConfig(t *testing.T, opts ...func(*config.LoadOptions) error) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context(), opts...)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return cfg
}

func TestContract(t *testing.T) {
	emu := imdsemu.New(imdsemu.Options{
		InstanceID: "i-0emu0000000000e1", Region: "ap-southeast-2", InstanceType: "m7g.medium",
		Tags: map[string]string{contractTagKey: contractTagValue, "Name": "contract"},
	})
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	aemm := testbed.StartAEMM(t, contractTagKey, contractTagValue)

	peers := []peer{
		{
			name:     "imdsemu",
			endpoint: emu.URL(),
			identity: agent.Identity{InstanceID: "i-0emu0000000000e1", Region: "ap-southeast-2", InstanceType: "m7g.medium"},
			keyID:    "ASIAEMULATEDKEY00001",
		},
		{
			// AEMM has two tag slots: one holds the listing, one the tag, so
			// its listing carries a single key and no non-prefixed tags.
			name:     "AEMM (tag listing of one key: AEMM has only two tag slots)",
			endpoint: aemm.Endpoint,
			identity: agent.Identity{InstanceID: testbed.AEMMInstanceID, Region: testbed.AEMMRegion, InstanceType: testbed.AEMMInstanceType},
			keyID:    testbed.AEMMAccessKeyID,
		},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			isolateSDK(t, p.endpoint)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cfg := loadConfig(t)
			client := imds.NewFromConfig(cfg, ClientOptions)

			t.Run("token and instance-id with fallback disabled", func(t *testing.T) {
				out, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: "instance-id"})
				if err != nil {
					t.Fatalf("GetMetadata(instance-id): %v", err)
				}
				defer out.Content.Close()
				b, _ := io.ReadAll(out.Content)
				if got := strings.TrimSpace(string(b)); got != p.identity.InstanceID {
					t.Errorf("instance-id = %q, want %q", got, p.identity.InstanceID)
				}
			})
			t.Run("region", func(t *testing.T) {
				out, err := client.GetRegion(ctx, &imds.GetRegionInput{})
				if err != nil {
					t.Fatalf("GetRegion: %v", err)
				}
				if out.Region != p.identity.Region {
					t.Errorf("region = %q, want %q", out.Region, p.identity.Region)
				}
			})
			t.Run("identity through the adapter", func(t *testing.T) {
				got, err := New(cfg).Identity(ctx)
				if err != nil {
					t.Fatalf("Identity: %v", err)
				}
				if got != p.identity {
					t.Errorf("Identity = %+v, want %+v", got, p.identity)
				}
			})
			t.Run("role credentials through the default chain", func(t *testing.T) {
				checkCreds(ctx, t, cfg, p.keyID)
			})
			t.Run("role credentials through the IMDSv2-only chain", func(t *testing.T) {
				checkCreds(ctx, t, loadConfig(t, RoleCredentials()), p.keyID)
			})
			t.Run("one tag through the adapter", func(t *testing.T) {
				got, err := New(cfg).Tags(ctx, "serialpass:")
				if err != nil {
					t.Fatalf("Tags: %v", err)
				}
				want := map[string]string{contractTagKey: contractTagValue}
				if !maps.Equal(got, want) {
					t.Errorf("Tags = %v, want %v", got, want)
				}
			})
		})
	}
}

func checkCreds(ctx context.Context, t *testing.T, cfg aws.Config, keyID string) {
	t.Helper()
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if creds.AccessKeyID != keyID {
		t.Errorf("AccessKeyID = %q, want %q (source %q)", creds.AccessKeyID, keyID, creds.Source)
	}
	if !creds.CanExpire || !creds.Expires.After(time.Now()) {
		t.Errorf("credentials expire at %v (CanExpire %v), want a time in the future", creds.Expires, creds.CanExpire)
	}
	if creds.SessionToken == "" {
		t.Error("no session token")
	}
}

// TestNoIMDSv1Fallback runs clients against an emulator that refuses to
// issue tokens but answers tokenless GETs (HttpTokens=optional with the
// token endpoint failing): a client that falls back to IMDSv1 succeeds
// there. The SDK's defaults do; ours must not.
func TestNoIMDSv1Fallback(t *testing.T) {
	for _, code := range []int{403, 404, 405} { // the codes the SDK falls back on
		t.Run(httpStatusName(code), func(t *testing.T) {
			emu := imdsemu.New(imdsemu.Options{AllowV1: true, Tags: map[string]string{contractTagKey: "v"}})
			if err := emu.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = emu.Close() })
			emu.SetTokenStatus(code)
			isolateSDK(t, emu.URL())
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cfg := loadConfig(t)

			// Guards that this setup can detect a fallback at all.
			t.Run("SDK default client falls back", func(t *testing.T) {
				emu.Reset()
				if _, err := newSource(imds.NewFromConfig(cfg)).Tags(ctx, "serialpass:"); err != nil {
					t.Fatalf("default client failed (%v): the setup no longer detects fallback", err)
				}
				if emu.V1Answers() == 0 {
					t.Fatal("default client succeeded without tokenless GETs: setup broken")
				}
			})
			t.Run("SDK default credential chain falls back", func(t *testing.T) {
				emu.Reset()
				if _, err := loadConfig(t).Credentials.Retrieve(ctx); err != nil {
					t.Fatalf("default chain failed (%v): the setup no longer detects fallback", err)
				}
				if emu.V1Answers() == 0 {
					t.Fatal("default chain succeeded without tokenless GETs")
				}
			})
			t.Run("adapter Tags and Identity refuse", func(t *testing.T) {
				emu.Reset()
				src := New(cfg)
				if got, err := src.Tags(ctx, "serialpass:"); err == nil {
					t.Errorf("Tags = %v, want an error", got)
				}
				if got, err := src.Identity(ctx); err == nil {
					t.Errorf("Identity = %+v, want an error", got)
				}
				assertNoV1(t, emu)
			})
			t.Run("RoleCredentials chain refuses", func(t *testing.T) {
				emu.Reset()
				if creds, err := loadConfig(t, RoleCredentials()).Credentials.Retrieve(ctx); err == nil {
					t.Errorf("Retrieve = key %q, want an error", creds.AccessKeyID)
				}
				assertNoV1(t, emu)
			})
		})
	}
}

func assertNoV1(t *testing.T, emu *imdsemu.Server) {
	t.Helper()
	if n := emu.V1Answers(); n != 0 {
		t.Errorf("%d tokenless GETs were answered 200; counts %v", n, emu.Counts())
	}
	counts := emu.Counts()
	if counts["PUT /latest/api/token"] == 0 {
		t.Errorf("no token request was made; counts %v", counts)
	}
	for k, n := range counts {
		if strings.HasPrefix(k, "GET ") {
			t.Errorf("%s was requested %d times without a token", k, n)
		}
	}
}

func httpStatusName(code int) string {
	return map[int]string{403: "token PUT 403", 404: "token PUT 404", 405: "token PUT 405"}[code]
}
