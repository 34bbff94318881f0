package main

import (
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
