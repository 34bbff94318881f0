// Command concourse-ci-machine is the charm's single binary. Juju runs it as
// the charm's dispatch script (JUJU_DISPATCH_PATH is set); run by hand it is
// the operator CLI, which behaves like the go command: usage errors exit 2,
// help goes to stdout.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

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
	return runCLI(ctx, args, stdout, stderr)
}
