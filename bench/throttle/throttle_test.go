package throttle

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		size, rate float64
		at         []time.Duration // offsets of successive takes
		want       []bool
	}{
		{"burst then empty", 2, 1, []time.Duration{0, 0, 0}, []bool{true, true, false}},
		{"refills at rate", 1, 10, []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}, []bool{true, false, true}},
		{"never above size", 2, 100, []time.Duration{0, time.Hour, time.Hour, time.Hour}, []bool{true, true, true, false}},
		{"unlimited", 0, 0, []time.Duration{0, 0, 0}, []bool{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBucket(tt.size, tt.rate)
			for i, off := range tt.at {
				if got := b.Take(t0.Add(off)); got != tt.want[i] {
					t.Errorf("take %d at +%v = %v, want %v", i, off, got, tt.want[i])
				}
			}
		})
	}
}

// TestSDKSeesAWSErrors: the SDK reads the throttle's answers as AWS's own
// throttling errors, for both protocols.
func TestSDKSeesAWSErrors(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(backend.Close)
	p, err := New(backend.URL, Limits{SMReadBurst: 1, SMReadRate: 0.001, TagsBurst: 1, TagsRate: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	// Drain both buckets: every request is throttled now.
	p.read.Take(time.Now())
	p.tags.Take(time.Now())
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), BaseEndpoint: aws.String(srv.URL)}
	ctx := context.Background()

	_, err = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }).
		GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")})
	if code := apiCode(err); code != "ThrottlingException" {
		t.Errorf("GetSecretValue: code %q (%v)", code, err)
	}
	_, err = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.RetryMaxAttempts = 1 }).CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{"i-0123456789abcdef0"}, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
	})
	if code := apiCode(err); code != "RequestLimitExceeded" {
		t.Errorf("CreateTags: code %q (%v)", code, err)
	}
	c := p.Counts()
	if c["GetSecretValue"].Throttled != 1 || c["CreateTags"].Throttled != 1 {
		t.Errorf("counts = %+v", c)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
