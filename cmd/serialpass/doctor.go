package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/console"
	"github.com/serialpass/serialpass/agent/console/consolecfg"
	"github.com/serialpass/serialpass/agent/doctor"
	"github.com/serialpass/serialpass/agent/imdsv2"
	"github.com/serialpass/serialpass/agent/logins"
	"github.com/serialpass/serialpass/agent/osexec"
	"github.com/serialpass/serialpass/agent/secrets"
)

const doctorSummary = `Check every prerequisite of a serial-console login: instance metadata, tags,
role, secret, CreateTags, account-level access, instance type, kernel
console, getty, the user, console-only login. The secret is the one a pass
would use: the secret tag in pull mode (DescribeSecret and GetSecretValue),
the tag or secret_template in rotate mode (DescribeSecret only; a missing
secret is created by the first pass). In rotate mode with rotate_after_use
on, also the login records post-use rotation reads (/var/log/wtmp and
wtmp.1, and wtmpdb's /var/lib/wtmpdb/wtmp.db). Exit 0 when nothing fails.`

// doctorTimeout bounds the whole check-up: it must answer off EC2 too.
const doctorTimeout = 60 * time.Second

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("doctor", doctorSummary, stderr)
	opts := addCommonFlags(fs)
	asJSON := fs.Bool("json", false, "print the checks as a JSON array")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	cfg, err := agent.LoadConfig(opts.configPath, opts.configPath == agent.DefaultConfigPath)
	if err != nil {
		fmt.Fprintf(stderr, "serialpass doctor: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	d := &doctor.Doctor{
		Config:  cfg,
		Console: consoleOptions(cfg),
		IMDS:    doctor.NewHTTPMetadata(),
		Host:    console.New(opts.root, osexec.Runner{}),
		Logins:  logins.New(opts.root),
	}
	wireDoctorAWS(ctx, d)
	checks := d.Run(ctx)
	if *asJSON {
		err = doctor.WriteJSON(stdout, checks)
	} else {
		err = doctor.WriteTable(stdout, checks)
	}
	if err != nil {
		fmt.Fprintf(stderr, "serialpass doctor: %v\n", err)
		return 1
	}
	if doctor.Failed(checks) {
		return 1
	}
	return 0
}

// consoleOptions returns the config's console settings.
func consoleOptions(cfg agent.Config) consolecfg.Options { return cfg.Console }

// wireDoctorAWS sets up the Secrets Manager and EC2 clients, or says in
// d.NoAWS why it cannot: without instance metadata there is neither a
// region (unless AWS_REGION is set) nor role credentials worth waiting for.
func wireDoctorAWS(ctx context.Context, d *doctor.Doctor) {
	md := d.IMDS.(*doctor.HTTPMetadata)
	if err := md.Token(ctx); err != nil {
		d.NoAWS = errors.New("instance metadata is unreachable, so no region or role credentials")
		return
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, imdsv2.RoleCredentials())
	if err != nil {
		d.NoAWS = fmt.Errorf("loading AWS configuration: %w", err)
		return
	}
	if awsCfg.Region == "" {
		region, err := md.Get(ctx, "placement/region")
		if err != nil {
			d.NoAWS = fmt.Errorf("no region: %w", err)
			return
		}
		awsCfg.Region = strings.TrimSpace(region)
	}
	d.Secrets = secrets.New(awsCfg)
	d.EC2, err = newDoctorEC2(awsCfg)
	if err != nil {
		d.NoAWS = err
	}
}
