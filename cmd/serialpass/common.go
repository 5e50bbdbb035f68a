package main

import (
	"flag"
	"log/slog"

	"github.com/serialpass/serialpass/agent"
)

// commonOptions are the flags every agent command takes.
type commonOptions struct {
	root       string
	configPath string
	verbose    bool
	// logLevel is the command's default; -v lowers it to debug.
	logLevel slog.Level
}

func addCommonFlags(fs *flag.FlagSet) *commonOptions {
	o := &commonOptions{}
	fs.StringVar(&o.root, "root", "/", "apply every change under this directory (an image being prepared, a test sandbox)")
	fs.StringVar(&o.configPath, "config", agent.DefaultConfigPath, "the AMI owner's guardrails (YAML); a missing default file means built-in defaults")
	fs.BoolVar(&o.verbose, "v", false, "verbose logging")
	return o
}
