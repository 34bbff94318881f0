package fakeconcourse

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	RunIfRequested()
	os.Exit(m.Run())
}

func install(t *testing.T, drainAfter time.Duration) Fake {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	f, err := Install(t.TempDir(), self, Options{DrainAfter: drainAfter, Version: "7.14.4"})
	require.NoError(t, err)
	return f
}

func command(t *testing.T, f Fake, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, f.Binary, args...)
	if len(args) > 0 && (args[0] == "worker" || args[0] == "web") {
		env, err := MinimalEnv(concourse.Role(args[0]), t.TempDir())
		require.NoError(t, err)
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	return cmd
}

// The fake is honest: like the real binary it refuses a setting it does
// not know and runs without one it needs, from the checked-in flag list.
func TestRefusesWhatConcourseRefuses(t *testing.T) {
	t.Parallel()
	f := install(t, 0)
	for name, edit := range map[string]func(map[string]string){
		"missing required": func(e map[string]string) { delete(e, "CONCOURSE_TSA_WORKER_PRIVATE_KEY") },
		"unknown setting":  func(e map[string]string) { e["CONCOURSE_NO_SUCH_SETTING"] = "1" },
		"another runtime's": func(e map[string]string) {
			e["CONCOURSE_RUNTIME"] = "containerd"
			e["CONCOURSE_GARDEN_DNS_PROXY_ENABLE"] = "true"
		},
	} {
		env, err := MinimalEnv(concourse.RoleWorker, t.TempDir())
		require.NoError(t, err)
		edit(env)
		// command's deadline guard ends a fake that wrongly accepted.
		cmd := command(t, f, "worker")
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%s: %s", name, out)
		assert.Equal(t, 2, exit.ExitCode(), "%s: %s", name, out)
	}
	// A flag on the command line is refused even with every setting right.
	out, err := command(t, f, "worker", "--work-dir", "/x").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "flags on the command line are refused: %s", out)
	assert.Equal(t, 2, exit.ExitCode(), "%s", out)
	assert.Contains(t, string(out), "not [\"--work-dir\" \"/x\"]")
}

func TestWebRunsUntilTerm(t *testing.T) {
	t.Parallel()
	f := install(t, 0)
	cmd := command(t, f, "web")
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		lines, _ := f.Received()
		return len(lines) > 0 && strings.HasPrefix(lines[0], "web started")
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
	lines, err := f.Received()
	require.NoError(t, err)
	assert.Equal(t, "web exiting on SIGTERM", lines[len(lines)-1])
}

func TestVersionAndRetireWorker(t *testing.T) {
	t.Parallel()
	f := install(t, 0)
	out, err := command(t, f, "--version").Output()
	require.NoError(t, err)
	assert.Equal(t, "7.14.4\n", string(out))

	var stderr bytes.Buffer
	cmd := command(t, f, "retire-worker", "--name", "w")
	cmd.Stderr = &stderr
	require.Error(t, cmd.Run(), "the TSA flags are required")
	assert.Contains(t, stderr.String(), "was not specified")

	full := []string{"retire-worker", "--name", "w", "--tsa-host", "h:2222", "--tsa-public-key", "/k.pub", "--tsa-worker-private-key", "/k"}
	require.NoError(t, command(t, f, full...).Run())
	require.NoError(t, f.Set(GatewayGone, true))
	require.Error(t, command(t, f, full...).Run())
	got, err := f.Received()
	require.NoError(t, err)
	assert.Equal(t, []string{"retire-worker --name=w --tsa-host=h:2222", "retire-worker --name=w failed: gateway gone"}, got)
}

// TestWorkerSignals: what the worker does on each signal, as measured.
func TestWorkerSignals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		switches []string
		signals  []syscall.Signal
		exit     int
		want     []string
	}{
		{"land", nil, []syscall.Signal{syscall.SIGUSR1}, 0, []string{"received SIGUSR1", "landed"}},
		{"retire", nil, []syscall.Signal{syscall.SIGUSR2}, 0, []string{"received SIGUSR2", "retired"}},
		{"retire then land lands", nil, []syscall.Signal{syscall.SIGUSR2, syscall.SIGUSR1}, 0,
			[]string{"received SIGUSR2", "received SIGUSR1", "landed"}},
		{"retire then TERM deletes the registration", nil, []syscall.Signal{syscall.SIGUSR2, syscall.SIGTERM}, 0,
			[]string{"received SIGUSR2", "received SIGTERM", "deleted registration", "exiting on SIGTERM"}},
		{"gateway gone", []string{GatewayGone}, []syscall.Signal{syscall.SIGUSR1}, 1, []string{"received SIGUSR1", "gateway gone"}},
		{"stuck until TERM", []string{Stuck}, []syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM}, 0,
			[]string{"received SIGUSR1", "stuck: ignoring SIGUSR1", "received SIGTERM", "exiting on SIGTERM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			drainAfter := 200 * time.Millisecond
			if len(tt.signals) > 1 {
				drainAfter = time.Hour // the second signal comes first
			}
			if tt.name == "retire then land lands" {
				drainAfter = 500 * time.Millisecond
			}
			f := install(t, drainAfter)
			for _, s := range tt.switches {
				require.NoError(t, f.Set(s, true))
			}
			cmd := command(t, f, "worker")
			require.NoError(t, cmd.Start())
			waitLines := func(n int) {
				require.Eventually(t, func() bool { got, _ := f.Received(); return len(got) >= n }, time.Minute, 10*time.Millisecond)
			}
			waitLines(1) // started, signal handlers set
			for i, s := range tt.signals {
				require.NoError(t, cmd.Process.Signal(s))
				waitLines(2 + i)
			}
			err := cmd.Wait()
			assert.Equal(t, tt.exit, cmd.ProcessState.ExitCode(), "%v", err)
			got, err := f.Received()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got[1:])
		})
	}
}
