package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary act as the CLI when it is started as one:
// the demo starts its units as processes of its own executable, which under
// `go test` is this binary, and without this each of them would run the
// whole test suite again.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-test.") {
		os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the CLI as a shell would (no JUJU_DISPATCH_PATH).
func cli(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}
