// Command charmpack packs concourse-ci-machine.charm without charmcraft:
// the files Juju reads, derived from charmcraft.yaml as `charmcraft pack`
// derives them, lxd-profile.yaml, and dispatch, the charm's static binary.
// `make charm` runs it.
//
//	go run ./tools/charmpack [-o concourse-ci-machine.charm] [-root .] [-dispatch FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/concourse-ci-machine/concourse-ci-machine/tools/charmpack/charmfiles"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "charmpack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("charmpack", flag.ContinueOnError)
	flags.SetOutput(stderr)
	out := flags.String("o", "concourse-ci-machine.charm", "the .charm to write")
	root := flags.String("root", "", "the repository root (default: the module holding the current directory)")
	dispatch := flags.String("dispatch", "", "a prebuilt static dispatch binary (default: build ./cmd/concourse-ci-machine)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if flags.NArg() != 0 {
		fmt.Fprintln(stderr, "charmpack: unexpected arguments:", flags.Args())
		return errUsage
	}
	if *root == "" {
		r, err := charmfiles.FindRoot(".")
		if err != nil {
			return err
		}
		*root = r
	}
	names, err := Pack(ctx, Options{Root: *root, Output: *out, Dispatch: *dispatch})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "packed %s: %v\n", *out, names)
	return nil
}
