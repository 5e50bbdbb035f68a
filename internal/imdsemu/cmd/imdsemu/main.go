// Command imdsemu runs serialpass's IMDSv2 emulator (package
// internal/imdsemu) as a process, for the demo, the VM test and the
// DIY-script benchmark.
//
//	imdsemu -addr 127.0.0.1:1338 -instance-id i-0abc -region eu-west-1 -tags-file tags.json
//
// It prints "imdsemu listening on http://ADDR" on stdout once it accepts
// connections, then serves until SIGINT or SIGTERM. Point clients at it with
// AWS_EC2_METADATA_SERVICE_ENDPOINT=http://ADDR. -tags-file holds a JSON
// object of tag keys to values; without it tags are enabled and empty.
//
// The same listener serves a control API under /_emu/ (there is no separate
// port; anyone who can reach the emulator can drive it, so bind it to
// loopback or a private guest network only):
//
//	GET    /_emu/counts                 {"counts":{"PUT /latest/api/token":1,...},"v1Answers":0}
//	POST   /_emu/reset                  clear the counts
//	GET    /_emu/tags                   current tags (JSON object)
//	PUT    /_emu/tags                   replace all tags with a JSON object; enables tags
//	DELETE /_emu/tags                   disable tags in metadata (listing answers 404)
//	POST   /_emu/refuse?for=120s        refuse connections for a while, then listen again on the same port
//	POST   /_emu/fail?n=3  or  ?for=30s answer 500 to the next n requests, or for a while
//	POST   /_emu/delay?d=200ms          delay every metadata answer (d=0 turns it off)
//	POST   /_emu/token-status?code=403  make the token PUT fail (code=0 restores)
//	POST   /_emu/clear                  remove delays, 500s and token failures
//
// For example: curl -X PUT --data '{"serialpass:secret":"demo"}' http://ADDR/_emu/tags
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/serialpass/serialpass/internal/imdsemu"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imdsemu:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("imdsemu", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:1338", "listen address `host:port` (port 0 picks a free one)")
	instanceID := fs.String("instance-id", "", "instance id (default i-0123456789abcdef0)")
	region := fs.String("region", "", "region (default us-east-1)")
	instanceType := fs.String("instance-type", "", "instance type (default t3.micro)")
	role := fs.String("role", "", "instance profile role name (default serialpass-instance)")
	tagsFile := fs.String("tags-file", "", "JSON object of initial instance tags")
	noTags := fs.Bool("tags-disabled", false, "start with tags not exposed in metadata")
	allowV1 := fs.Bool("allow-v1", false, "answer tokenless GETs (HttpTokens=optional); off: IMDSv2 only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var tags map[string]string
	if *tagsFile != "" {
		b, err := os.ReadFile(*tagsFile)
		if err != nil {
			return fmt.Errorf("reading tags: %w", err)
		}
		if err := json.Unmarshal(b, &tags); err != nil {
			return fmt.Errorf("parsing tags file %s: %w", *tagsFile, err)
		}
	}
	srv := imdsemu.New(imdsemu.Options{
		Addr:         *addr,
		InstanceID:   *instanceID,
		Region:       *region,
		InstanceType: *instanceType,
		Role:         *role,
		Tags:         tags,
		TagsDisabled: *noTags,
		AllowV1:      *allowV1,
		Control:      true,
	})
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Println("imdsemu listening on", srv.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("closing: %w", err)
	}
	return nil
}
