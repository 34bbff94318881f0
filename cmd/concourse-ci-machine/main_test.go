package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// asCLI makes this test binary the CLI (see binary), also with no
// arguments.
const asCLI = "CONCOURSE_CI_MACHINE_TEST_AS_CLI"

// TestMain lets the test binary act as the CLI when it is started as one:
// the demo starts its units as processes of its own executable, which under
// `go test` is this binary, and without this each of them would run the
// whole test suite again.
func TestMain(m *testing.M) {
	if os.Getenv(asCLI) != "" || len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-test.") {
		os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

// binary runs the CLI as a process: this test binary, which TestMain turns
// into the CLI. It sees all the process writes, on os.Stdout and
// os.Stderr too, and its real exit status.
func binary(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCLI+"=1", "JUJU_DISPATCH_PATH=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, exited := errors.AsType[*exec.ExitError](err); err != nil && !exited {
		t.Fatal(err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// cli runs the CLI in this process as a shell would (no
// JUJU_DISPATCH_PATH).
func cli(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}
