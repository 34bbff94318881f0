package systemdtest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// startTimeout bounds how long a fixture waits for systemd to come up; it is a
// deadlock guard, not an expectation (it normally takes well under a second).
const startTimeout = 60 * time.Second

// Fixture is an Instance started once per test binary from TestMain. A
// failure to start is kept and reported by Require in each test that needs
// systemd, so tests that do not need it still run.
type Fixture struct {
	inst *Instance
	err  error
}

// StartFixture starts an Instance for a test binary. It never fails by
// itself: call Require from each test that needs systemd, and Stop after
// m.Run.
func StartFixture() *Fixture {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	inst, err := Start(ctx)
	return &Fixture{inst: inst, err: err}
}

// Require returns the running Instance. If it could not be started the test
// fails, here as in CI: a skipped systemd test would pass without testing.
func (f *Fixture) Require(tb testing.TB) *Instance {
	tb.Helper()
	if f.err == nil && f.inst != nil {
		return f.inst
	}
	msg := fmt.Sprintf("a private systemd could not be started: %v "+
		"(these tests need root and the systemd package; .ci/run installs them)", f.err)
	tb.Fatal(msg)
	return nil
}

// Instance returns the running Instance, or why it could not be started.
func (f *Fixture) Instance() (*Instance, error) { return f.inst, f.err }

// Stop stops the Instance, if one was started. Its error is returned so
// TestMain can fail the binary when cleanup went wrong.
func (f *Fixture) Stop() error {
	if f.inst == nil {
		return nil
	}
	return f.inst.Stop()
}
