package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/console"
	"github.com/serialpass/serialpass/agent/ec2tags"
	"github.com/serialpass/serialpass/agent/imdsv2"
	"github.com/serialpass/serialpass/agent/logins"
	"github.com/serialpass/serialpass/agent/osexec"
	"github.com/serialpass/serialpass/agent/secrets"
	"github.com/serialpass/serialpass/agent/shadow"
)

// buildAgent loads the config, waits for instance metadata (up to
// boot_timeout) and wires the production adapters: IMDSv2 for tags and
// identity, Secrets Manager, shadow-utils under the root, CreateTags.
func buildAgent(ctx context.Context, o *commonOptions, stderr io.Writer) (*agent.Agent, agent.Config, error) {
	cfg, err := agent.LoadConfig(o.configPath, o.configPath == agent.DefaultConfigPath)
	if err != nil {
		return nil, cfg, err
	}
	log := o.logger(stderr)
	// The instance-role step of the default chain is made IMDSv2-only too.
	awsCfg, err := config.LoadDefaultConfig(ctx, imdsv2.RoleCredentials())
	if err != nil {
		return nil, cfg, fmt.Errorf("loading AWS configuration: %w", err)
	}
	src := imdsv2.New(awsCfg)
	clock := agent.SystemClock{}
	id, err := agent.WaitIdentity(ctx, src, cfg.BootTimeout.D(), clock, log)
	if err != nil {
		return nil, cfg, err
	}
	if awsCfg.Region == "" { // AWS_REGION wins; else the instance's own
		awsCfg.Region = id.Region
	}
	log.Debug("instance", "id", id.InstanceID, "region", awsCfg.Region, "type", id.InstanceType)
	store := secrets.New(awsCfg)
	cons := console.New(o.root, osexec.Runner{})
	return &agent.Agent{
		Config:   cfg,
		Identity: id,
		Tags:     src,
		Secrets:  store,
		Accounts: shadow.New(o.root, osexec.Runner{}),
		Reporter: ec2tags.New(awsCfg),
		State:    agent.NewFileState(o.root),
		Clock:    clock,
		Log:      log,
		Admin:    store,
		Verifier: cons,
		Sessions: logins.New(o.root),
		Console:  consoleSetup{c: cons, o: cfg.Console},
	}, cfg, nil
}

// consoleSetup binds the config's console options to console.Console for
// the agent.ConsoleSetup seam.
type consoleSetup struct {
	c *console.Console
	o console.Options
}

func (s consoleSetup) Apply(ctx context.Context, user string) ([]string, error) {
	return s.c.Apply(ctx, user, s.o)
}

func (s consoleSetup) Banner(ctx context.Context, res agent.Result, at time.Time) error {
	return s.c.Banner(ctx, res, at)
}

// logger writes text logs to stderr at the command's level.
func (o *commonOptions) logger(stderr io.Writer) *slog.Logger {
	level := o.logLevel
	if o.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}
