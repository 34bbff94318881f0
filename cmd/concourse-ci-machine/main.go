// Command concourse-ci-machine is the charm's single binary. Juju runs it as
// the charm's dispatch script (JUJU_DISPATCH_PATH is set); run by hand it is
// the operator CLI.
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
)

// command is one operator subcommand. run gets the arguments after the
// subcommand's name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// errUsage marks an error in how the command was called (exit status 2).
var errUsage = errors.New("usage")

func commands() []command {
	return []command{
		{"inspect", "show the shared volume: lock holder, markers, releases, workers", runInspect},
		{"install", "install a Concourse release on the shared volume, once per cluster", runInstall},
		{"states", "print the upgrade and install state machines", runStates},
		{"drain-worker", "drain a worker unit's main process ($MAINPID); run by systemd on stop", runDrainWorker},
	}
}

// parseFlags parses a subcommand's flags. done is true when the caller has
// nothing more to do (--help printed the usage); a bad flag is a usage error.
func parseFlags(flags *flag.FlagSet, args []string) (done bool, err error) {
	err = flags.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return true, nil
	case err != nil:
		return true, fmt.Errorf("%w: %w", errUsage, err)
	}
	return false, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if getenv("JUJU_DISPATCH_PATH") != "" {
		return runDispatch(ctx, getenv, stderr)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "concourse-ci-machine %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "concourse-ci-machine %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "concourse-ci-machine: unknown command %q; run 'concourse-ci-machine --help' for the list\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: concourse-ci-machine COMMAND [ARGS]")
	fmt.Fprintln(w, "")
	fmt.Fprintln(w, "Run by Juju (JUJU_DISPATCH_PATH set) it is the charm's dispatch entry point.")
	fmt.Fprintln(w, "Run by hand it is an operator tool:")
	fmt.Fprintln(w, "")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "")
	fmt.Fprintln(w, "Run 'concourse-ci-machine COMMAND --help' for a command's flags.")
}
