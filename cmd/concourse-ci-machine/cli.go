package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
)

// cliApp stands for the application in the commands the charm's advice
// names: the CLI runs on a machine and does not know it.
const cliApp = "<app>"

// command is one operator subcommand.
type command struct {
	name string
	// args is the synopsis after the name, e.g. "[--json] VOLUME".
	args string
	// summary is its line in the command list; about is what `help NAME`
	// says above the flags.
	summary, about string
	// flags declares the command's flags and returns what runs it with the
	// arguments left once they are parsed.
	flags func(fs *flag.FlagSet) action
}

// action runs a command. A *usageError exits 2 with the command's synopsis;
// any other error exits 1.
type action func(ctx context.Context, args []string, stdout, stderr io.Writer) error

func commands() []command {
	return []command{
		inspectCommand(),
		installCommand(),
		statesCommand(),
		versionCommand(),
		drainWorkerCommand(),
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usageError is an error in how a command was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// runCLI runs the operator CLI: no arguments print the usage on stderr and
// exit 2; help (-h, --help) prints it on stdout and exits 0.
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return runHelp(args[1:], stdout, stderr)
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "concourse-ci-machine %s: unknown command\nRun 'concourse-ci-machine help' for usage.\n", args[0])
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

// runHelp is `help [COMMAND]`.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return 0
	case 1:
		if c, ok := lookup(args[0]); ok {
			c.help(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "concourse-ci-machine help %s: unknown command\nRun 'concourse-ci-machine help' for usage.\n", args[0])
	default:
		fmt.Fprintln(stderr, "usage: concourse-ci-machine help [COMMAND]")
	}
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `concourse-ci-machine is the charm's single binary. Juju runs it as the
charm's dispatch (JUJU_DISPATCH_PATH set); run by hand it is an operator tool.

usage: concourse-ci-machine COMMAND [ARGUMENTS]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'concourse-ci-machine help COMMAND' for a command's flags.\n")
}

// flagSet returns the command's flags, quiet: errors are reported once, by
// run, and help is printed by help.
func (c command) flagSet() (*flag.FlagSet, action) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs, c.flags(fs)
}

func (c command) synopsis() string {
	return strings.TrimSpace("concourse-ci-machine " + c.name + " " + c.args)
}

// help prints the synopsis, what the command does and its flags.
func (c command) help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsis(), c.about)
	fs, _ := c.flagSet()
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// run parses the flags and runs the command, reporting an error once.
func (c command) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, act := c.flagSet()
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.help(stdout)
		return 0
	case err != nil:
		err = &usageError{msg: err.Error()}
	default:
		err = act(ctx, fs.Args(), stdout, stderr)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "concourse-ci-machine %s: %v\n", c.name, err)
	if _, ok := errors.AsType[*usageError](err); ok {
		fmt.Fprintf(stderr, "usage: %s\nRun 'concourse-ci-machine help %s' for details.\n", c.synopsis(), c.name)
		return 2
	}
	// The charm's advice for the error, as `juju status` would show it.
	if advice := charm.Advice(err, cliApp); advice != "" {
		fmt.Fprintf(stderr, "  %s\n", advice)
	}
	return 1
}

// volumeArg is the VOLUME argument of the commands that read or write the
// shared volume. --volume DIR is accepted as another spelling of it.
type volumeArg struct{ flag *string }

func volumeFlag(fs *flag.FlagSet) volumeArg {
	return volumeArg{fs.String("volume", "", "another spelling of the VOLUME argument")}
}

// from returns the volume named by the arguments left after the flags.
func (v volumeArg) from(args []string) (string, error) {
	switch {
	case len(args) > 1 && strings.HasPrefix(args[1], "-"):
		return "", usagef("%s after VOLUME: flags go before it", args[1])
	case len(args) > 1:
		return "", usagef("expected one VOLUME, got %d arguments %q", len(args), args)
	case len(args) == 1 && *v.flag != "" && *v.flag != args[0]:
		return "", usagef("--volume %s and VOLUME %s disagree", *v.flag, args[0])
	case len(args) == 1:
		return args[0], nil
	case *v.flag != "":
		return *v.flag, nil
	}
	return "", usagef("VOLUME, the shared volume's directory, is missing")
}
