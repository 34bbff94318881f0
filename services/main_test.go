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

	"github.com/concourse-ci-machine/concourse-ci-machine/services/internal/testprog"
	"github.com/concourse-ci-machine/concourse-ci-machine/services/systemdtest"
)

// testprogEnv, set in a unit's environment file, turns this test binary into
// the test program (internal/testprog) when systemd runs it.
const testprogEnv = "SERVICES_TESTPROG"

// fixture is the private systemd all tests in this binary share, and
// testBinary this test binary copied where units can run it; both are set
// once in TestMain before any test runs and never changed.
var (
	fixture    *systemdtest.Fixture
	testBinary string
)

func TestMain(m *testing.M) {
	if os.Getenv(testprogEnv) == "1" {
		args := os.Args[1:]
		if i := slices.Index(args, "--"); i >= 0 {
			args = args[i+1:]
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

// endpoints are the two ways to reach the private systemd.
func endpoints(inst *systemdtest.Instance) map[string]Endpoint {
	return map[string]Endpoint{
		"private socket": PrivateSocket(inst.PrivateSocket),
		"bus daemon":     BusDaemon(inst.BusAddress),
	}
}

// newManager connects to the private systemd; cfg's Endpoint and UnitDir
// default to the instance's.
func newManager(t testing.TB, cfg Config) (*Manager, *systemdtest.Instance) {
	t.Helper()
	inst := fixture.Require(t)
	if cfg.Endpoint.Address == "" {
		cfg.Endpoint = PrivateSocket(inst.PrivateSocket)
	}
	if cfg.UnitDir == "" {
		cfg.UnitDir = inst.UnitDir
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

var unsafeInName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// uniqueUnit returns a fresh service name for this test and removes the
// unit (stopped, disabled, files gone) when the test ends.
func uniqueUnit(t testing.TB, m *Manager) string {
	t.Helper()
	base := strings.ToLower(unsafeInName.ReplaceAllString(t.Name(), "-"))
	if len(base) > 60 {
		base = base[len(base)-60:]
	}
	name := fmt.Sprintf("t%d-%s.service", unitCounter.Add(1), strings.Trim(base, "-"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = m.Stop(ctx, name)
		_, _ = m.Uninstall(ctx, name)
	})
	return name
}

// testCommand is the argv of a unit running the test program in mode.
func testCommand(t *testing.T, mode string, args ...string) []string {
	t.Helper()
	require.NotEmpty(t, testBinary, "the test binary was not copied for units (see TestMain's output)")
	return append([]string{testBinary, "-test.run=^$", "--", mode}, args...)
}

// scratchDir is a fresh directory units can see (not under /tmp).
func scratchDir(t *testing.T) string {
	t.Helper()
	return fixture.Require(t).TempDir(t)
}

// testEnvFile writes the environment file that selects the test program,
// plus extra variables.
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
