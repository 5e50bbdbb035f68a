// Package testbed starts and drives the emulators serialpass is tested
// against. This file: moto_server, for Secrets Manager and EC2.
package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// MotoRegion is the region every moto client uses.
const MotoRegion = "us-east-1"

// motoReadyTimeout bounds the wait for moto_server to answer; it is
// usually ready in about a second, slower on a busy 2-core machine.
const motoReadyTimeout = 30 * time.Second

// Moto is a running moto_server on a loopback port, killed when the test
// ends.
type Moto struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT.
	Endpoint string
	log      string
}

// StartMoto starts moto_server on a free loopback port and waits until it
// answers. It fails the test when moto_server is not installed.
func StartMoto(t TB) *Moto {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server not found: pip install 'moto[server]' (%v)", err)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := range 3 {
		m, err := startMoto(t, bin, filepath.Join(dir, fmt.Sprintf("moto-%d.log", attempt)))
		if err == nil {
			return m
		}
		lastErr = err
	}
	t.Fatalf("starting moto_server: %v", lastErr)
	return nil
}

func startMoto(t TB, bin, logPath string) (*Moto, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating moto log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: the pyenv shim may leave a parent behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	m := &Moto{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), log: logPath}
	if err := m.waitReady(exited); err != nil {
		stop()
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w; its output:\n%s", err, out)
	}
	t.Cleanup(stop)
	return m, nil
}

func (m *Moto) waitReady(exited <-chan error) error {
	deadline := time.Now().Add(motoReadyTimeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("moto_server exited before it was ready: %w", exitError(err))
		default:
		}
		resp, err := client.Get(m.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("moto_server did not answer within " + motoReadyTimeout.String())
}

// errExitedZero stands for the nil a process's Wait returns when it
// exited with status 0, which is still an early exit for a server.
var errExitedZero = errors.New("exit status 0")

// exitError is Wait's error, or errExitedZero when Wait returned nil.
func exitError(err error) error {
	if err == nil {
		return errExitedZero
	}
	return err
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// LogPath is the file holding moto_server's output (one line per request).
func (m *Moto) LogPath() string { return m.log }

// AWSConfig is a client configuration for moto: static test credentials,
// region us-east-1, every service at Endpoint. It reads no environment
// and no shared config files.
func (m *Moto) AWSConfig(t TB) aws.Config {
	t.Helper()
	return MotoConfigAt(m.Endpoint)
}

// MotoConfigAt is AWSConfig for any endpoint, such as a Proxy in front of
// moto.
func MotoConfigAt(endpoint string) aws.Config {
	return aws.Config{
		Region:       MotoRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// Env is the environment a child process needs to reach moto the
// standard way.
func (m *Moto) Env() []string { return MotoEnvAt(m.Endpoint) }

// MotoEnvAt is Env for any endpoint, such as a Proxy in front of moto.
func MotoEnvAt(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=" + MotoRegion,
	}
}

func (m *Moto) secrets(t TB) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(m.AWSConfig(t))
}

func motoCtx(t TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// CreateSecret creates secret name holding value and returns its ARN and
// the first VersionId.
func (m *Moto) CreateSecret(t TB, name, value string) (arn, versionID string) {
	t.Helper()
	out, err := m.secrets(t).CreateSecret(motoCtx(t), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("creating secret %q in moto: %v", name, err)
	}
	return aws.ToString(out.ARN), aws.ToString(out.VersionId)
}

// CreateEmptySecret creates secret name with no version, as Terraform's
// aws_secretsmanager_secret does, and returns its ARN.
func (m *Moto) CreateEmptySecret(t TB, name string) (arn string) {
	t.Helper()
	out, err := m.secrets(t).CreateSecret(motoCtx(t), &secretsmanager.CreateSecretInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("creating empty secret %q in moto: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

// PutSecret stores value as a new AWSCURRENT version of name and returns
// its VersionId. After an UpdateSecretVersionStage, moto's PutSecretValue
// leaves AWSCURRENT on the old version too (its default version goes
// stale); PutSecret then takes it off there, which also leaves AWSPREVIOUS
// on that version, as Secrets Manager would.
func (m *Moto) PutSecret(t TB, name, value string) (versionID string) {
	t.Helper()
	ctx, c := motoCtx(t), m.secrets(t)
	out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("putting a value into secret %q in moto: %v", name, err)
	}
	id := aws.ToString(out.VersionId)
	for v, stages := range m.SecretStages(t, name) {
		if v == id || !slices.Contains(stages, "AWSCURRENT") {
			continue
		}
		_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(name), VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: aws.String(v),
		})
		if err != nil {
			t.Fatalf("taking a stale AWSCURRENT off version %s of secret %q in moto: %v", v, name, err)
		}
	}
	return id
}

// SecretStages maps each VersionId of secret name to its staging labels.
func (m *Moto) SecretStages(t TB, name string) map[string][]string {
	t.Helper()
	out, err := m.secrets(t).DescribeSecret(motoCtx(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("describing secret %q in moto: %v", name, err)
	}
	return out.VersionIdsToStages
}

// InstanceTags returns the tags moto holds for instanceID.
func (m *Moto) InstanceTags(t TB, instanceID string) map[string]string {
	t.Helper()
	c := ec2.NewFromConfig(m.AWSConfig(t))
	in := &ec2.DescribeTagsInput{Filters: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{instanceID}}}}
	tags := map[string]string{}
	for p := ec2.NewDescribeTagsPaginator(c, in); p.HasMorePages(); {
		out, err := p.NextPage(motoCtx(t))
		if err != nil {
			t.Fatalf("describing tags of %s in moto: %v", instanceID, err)
		}
		for _, tag := range out.Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
	}
	return tags
}
