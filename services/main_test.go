package services

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fakeconcourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/services/internal/testprog"
	"github.com/concourse-ci-machine/concourse-ci-machine/services/systemdtest"
)

// testprogEnv, set in a unit's environment file, turns this test binary into
// the test program (internal/testprog) or the drain helper when systemd
// runs it.
const testprogEnv = "SERVICES_TESTPROG"

// fixture is the private systemd all tests in this binary share, and
// testBinary this test binary copied where units can run it; both are set
// once in TestMain before any test runs and never changed.
var (
	fixture    *systemdtest.Fixture
	testBinary string
)

func TestMain(m *testing.M) {
	fakeconcourse.RunIfRequested()
	if os.Getenv(testprogEnv) == "1" {
		args := os.Args[1:]
		if i := slices.Index(args, "--"); i >= 0 {
			args = args[i+1:]
		}
		if len(args) > 0 && args[0] == "drain-worker" {
			if err := RunDrainHelper(context.Background(), args[1:], os.Getenv, os.Stderr); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		}
		os.Exit(testprog.Main(args, os.Stdout, os.Stderr))
	}
	fixture = systemdtest.StartFixture()
	if inst, err := fixture.Instance(); err == nil {
		exe, err := os.Executable()
		if err == nil {
			testBinary, err = inst.CopyExecutable(exe)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "services tests: cannot copy the test binary for units:", err)
		}
	}
	code := m.Run()
	if err := fixture.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "services tests: stopping the private systemd:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// testTimeout guards every test against deadlock; nothing here should take
// more than a few seconds.
const testTimeout = 2 * time.Minute

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newManager connects to the private systemd; cfg's Endpoint and Root
// default to the instance's.
func newManager(t testing.TB, cfg Config) (*Manager, *systemdtest.Instance) {
	t.Helper()
	inst := fixture.Require(t)
	if cfg.Endpoint.Address == "" {
		cfg.Endpoint = PrivateSocket(inst.PrivateSocket)
	}
	if cfg.Root == "" {
		cfg.Root = inst.ManagerRoot
	}
	if cfg.StartSettle == 0 {
		cfg.StartSettle = 300 * time.Millisecond
	}
	m, err := Connect(testContext(t), cfg)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m, inst
}

// unitCounter makes unit names unique across parallel tests.
var unitCounter atomic.Int64

var unsafeInApp = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueUnit returns a fresh charm unit name for this test and removes its
// systemd units (stopped, disabled, files gone) when the test ends.
func uniqueUnit(t testing.TB, m *Manager) unitname.Name {
	t.Helper()
	base := strings.Trim(unsafeInApp.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 50 {
		base = strings.Trim(base[len(base)-50:], "-")
	}
	u := unitname.Name{App: "t-" + base, Number: int(unitCounter.Add(1))}
	require.NoError(t, unitname.CheckApp(u.App))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, name := range []string{WebUnitName(u), WorkerUnitName(u)} {
			_, _ = m.Stop(ctx, name)
			_, _ = m.Uninstall(ctx, name)
		}
	})
	return u
}

// testCommand is the argv of a unit running the test program in mode.
func testCommand(t *testing.T, mode string, args ...string) []string {
	t.Helper()
	require.NotEmpty(t, testBinary, "the test binary was not copied for units (see TestMain's output)")
	return append([]string{testBinary, "-test.run=^$", "--", mode}, args...)
}

// drainHelper is the argv prefix of the drain helper: this test binary.
func drainHelper(t *testing.T) []string { return testCommand(t, "drain-worker") }

// scratchDir is a fresh directory units can see (not under /tmp).
func scratchDir(t *testing.T) string {
	t.Helper()
	return fixture.Require(t).TempDir(t)
}

// testEnvFile writes the environment file that selects the test program
// (and the drain helper), plus extra variables.
func testEnvFile(t *testing.T, extra map[string]string) string {
	t.Helper()
	env := map[string]string{testprogEnv: "1"}
	for k, v := range extra {
		env[k] = v
	}
	path := filepath.Join(scratchDir(t), "env", "concourse.env")
	_, err := WriteEnvironmentFile(path, env)
	require.NoError(t, err)
	return path
}

// waitForFile waits until path contains want (a deadlock guard, not a
// timing expectation).
func waitForFile(t *testing.T, path, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(path)
		return err == nil && strings.Contains(string(data), want)
	}, time.Minute, 20*time.Millisecond, "%s never contained %q", path, want)
}
