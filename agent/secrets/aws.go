// Package secrets holds the agent's secret stores: AWS, over Secrets
// Manager, and Memory, an in-memory store with the same semantics for tests
// and benchmarks.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/awserr"
)

// ErrInvalidRequest: the store refused the request's parameters (a bad
// token, a stage not on the version named, ...).
var ErrInvalidRequest = errors.New("invalid request")

// api holds exactly the Secrets Manager calls AWS makes.
type api interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// AWS is an agent.SecretAdmin over AWS Secrets Manager. Secret values
// travel only as agent.Password; no error it returns quotes one.
type AWS struct {
	api api
}

var (
	_ agent.SecretStore = (*AWS)(nil)
	_ agent.SecretAdmin = (*AWS)(nil)
)

// New returns a store using a Secrets Manager client built from cfg.
func New(cfg aws.Config, optFns ...func(*secretsmanager.Options)) *AWS {
	return newWithClient(secretsmanager.NewFromConfig(cfg, optFns...))
}

func newWithClient(c api) *AWS { return &AWS{api: c} }

// GetSecret returns the version of id holding stage (AWSCURRENT when
// stage is empty). The stage is always sent: never rely on a default.
func (a *AWS) GetSecret(ctx context.Context, id, stage string) (agent.SecretVersion, error) {
	if stage == "" {
		stage = agent.StageCurrent
	}
	out, err := a.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(id), VersionStage: aws.String(stage),
	})
	if err != nil {
		return agent.SecretVersion{}, fmt.Errorf("getting secret %q stage %s: %w", id, stage, mapError(err))
	}
	return fromGet(id, out)
}

// GetSecretVersion returns version versionID of id.
func (a *AWS) GetSecretVersion(ctx context.Context, id, versionID string) (agent.SecretVersion, error) {
	out, err := a.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(id), VersionId: aws.String(versionID),
	})
	if err != nil {
		return agent.SecretVersion{}, fmt.Errorf("getting secret %q version %s: %w", id, versionID, mapError(err))
	}
	return fromGet(id, out)
}

func fromGet(id string, out *secretsmanager.GetSecretValueOutput) (agent.SecretVersion, error) {
	v := agent.SecretVersion{
		ARN:       aws.ToString(out.ARN),
		Name:      aws.ToString(out.Name),
		VersionID: aws.ToString(out.VersionId),
		Stages:    out.VersionStages,
	}
	if out.SecretString == nil {
		return agent.SecretVersion{}, fmt.Errorf("secret %q version %s holds no SecretString (binary secrets are not supported)", id, v.VersionID)
	}
	v.Value = agent.NewPassword(*out.SecretString)
	return v, nil
}

// DescribeSecret returns the versions' stages, the tags and the last
// change of id.
func (a *AWS) DescribeSecret(ctx context.Context, id string) (agent.SecretInfo, error) {
	out, err := a.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return agent.SecretInfo{}, fmt.Errorf("describing secret %q: %w", id, mapError(err))
	}
	info := agent.SecretInfo{
		ARN:      aws.ToString(out.ARN),
		Name:     aws.ToString(out.Name),
		Versions: maps.Clone(out.VersionIdsToStages),
		Tags:     map[string]string{},
		// Secrets Manager and moto 5.2 advance it on every new version.
		LastChanged: aws.ToTime(out.LastChangedDate),
	}
	if info.Versions == nil {
		info.Versions = map[string][]string{}
	}
	for _, t := range out.Tags {
		info.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return info, nil
}

// CreateSecret creates in.Name with in.Value as its AWSCURRENT version.
// A taken name wraps agent.ErrSecretExists.
func (a *AWS) CreateSecret(ctx context.Context, in agent.NewSecret) (agent.SecretVersion, error) {
	req := &secretsmanager.CreateSecretInput{
		Name:         aws.String(in.Name),
		SecretString: aws.String(string(in.Value.Reveal())),
	}
	if in.Token != "" {
		req.ClientRequestToken = aws.String(in.Token)
	}
	if in.Description != "" {
		req.Description = aws.String(in.Description)
	}
	if in.KMSKeyID != "" {
		req.KmsKeyId = aws.String(in.KMSKeyID)
	}
	for _, k := range slices.Sorted(maps.Keys(in.Tags)) {
		req.Tags = append(req.Tags, types.Tag{Key: aws.String(k), Value: aws.String(in.Tags[k])})
	}
	out, err := a.api.CreateSecret(ctx, req)
	if err != nil {
		return agent.SecretVersion{}, fmt.Errorf("creating secret %q: %w", in.Name, redact(mapError(err), in.Value))
	}
	id := aws.ToString(out.VersionId)
	if id == "" {
		// moto omits it when a repeated call returns the existing
		// version; the token is that version's id.
		id = in.Token
	}
	return agent.SecretVersion{
		ARN:       aws.ToString(out.ARN),
		Name:      aws.ToString(out.Name),
		VersionID: id,
		Stages:    []string{agent.StageCurrent},
		Value:     in.Value,
	}, nil
}

// PutSecretValue stores value as version token of id with stages (none:
// AWSCURRENT). Repeating it is idempotent; reusing token for another value
// wraps agent.ErrSecretExists.
func (a *AWS) PutSecretValue(ctx context.Context, id, token string, value agent.Password, stages []string) (string, error) {
	req := &secretsmanager.PutSecretValueInput{
		SecretId:      aws.String(id),
		SecretString:  aws.String(string(value.Reveal())),
		VersionStages: stages,
	}
	if token != "" {
		req.ClientRequestToken = aws.String(token)
	}
	out, err := a.api.PutSecretValue(ctx, req)
	if err != nil {
		return "", fmt.Errorf("putting a value into secret %q: %w", id, redact(mapError(err), value))
	}
	return aws.ToString(out.VersionId), nil
}

// UpdateSecretVersionStage moves stage of id to moveTo and off
// removeFrom; either may be empty.
func (a *AWS) UpdateSecretVersionStage(ctx context.Context, id, stage, moveTo, removeFrom string) error {
	req := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(id), VersionStage: aws.String(stage),
	}
	if moveTo != "" {
		req.MoveToVersionId = aws.String(moveTo)
	}
	if removeFrom != "" {
		req.RemoveFromVersionId = aws.String(removeFrom)
	}
	if _, err := a.api.UpdateSecretVersionStage(ctx, req); err != nil {
		return fmt.Errorf("moving stage %s of secret %q to %q from %q: %w", stage, id, moveTo, removeFrom, mapError(err))
	}
	return nil
}

// secretCodes are the Secrets Manager error codes beyond the common ones.
var secretCodes = map[string]error{
	"ResourceNotFoundException": agent.ErrSecretNotFound,
	"ResourceExistsException":   agent.ErrSecretExists,
	"InvalidParameterException": ErrInvalidRequest,
	"InvalidRequestException":   ErrInvalidRequest,
}

// mapError puts the agent's sentinel in front of the SDK's error, keeping
// the SDK's error in the chain.
func mapError(err error) error { return awserr.Map(err, secretCodes) }

// redacted is an error whose text never contains the secret it was built
// with; errors.Is and errors.As still see the whole chain.
type redacted struct {
	err    error
	secret agent.Password
}

func redact(err error, secret agent.Password) error { return redacted{err, secret} }

func (r redacted) Error() string {
	msg := r.err.Error()
	if s := string(r.secret.Reveal()); len(s) >= 3 {
		msg = strings.ReplaceAll(msg, s, "[redacted]")
	}
	return msg
}

func (r redacted) Unwrap() error { return r.err }
