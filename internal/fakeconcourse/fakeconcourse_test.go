package fakeconcourse

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

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
	return exec.CommandContext(ctx, f.Binary, args...)
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
