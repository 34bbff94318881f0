package fsm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInstallTableValidates(t *testing.T) {
	t.Parallel()
	table := InstallTable()
	require.NoError(t, table.Validate())
	assert.Equal(t, "install", table.Machine)
	assert.Equal(t, InstallAbsent, table.Initial)
	for _, want := range []string{InstallAbsent, InstallWaiting, InstallDownloading, InstallVerifying, InstallInstalled, InstallFailed} {
		assert.Contains(t, table.StateNames(), want)
	}
}

func TestInstallTableIsDocumented(t *testing.T) {
	t.Parallel()
	table := InstallTable()
	for _, s := range table.States {
		assert.NotEmpty(t, s.Meaning, "state %s: Meaning", s.Name)
		assert.NotEmpty(t, s.WhenStuck, "state %s: WhenStuck", s.Name)
	}
	for _, tr := range table.Transitions {
		assert.NotEmpty(t, tr.Effect, "event %s: Effect", tr.Event)
		assert.Contains(t, []Actor{AnyUnit, LockHolder}, tr.Who, "event %s: Who", tr.Event)
	}
	// Only the lock holder may download, verify or declare the release found.
	for _, event := range []string{InstallLockAcquired, InstallFoundInstalled, InstallDownloaded, InstallVerified} {
		for _, tr := range table.Transitions {
			if tr.Event == event {
				assert.Equal(t, LockHolder, tr.Who, event)
			}
		}
	}
}

// TestInstallMachineEveryPair fires every event from every state: allowed
// pairs reach the table's destination, refused ones return the typed error
// and leave the state where it was.
func TestInstallMachineEveryPair(t *testing.T) {
	t.Parallel()
	table := InstallTable()
	allowed := 0
	for _, state := range table.StateNames() {
		for _, event := range table.EventNames() {
			t.Run(state+"/"+event, func(t *testing.T) {
				t.Parallel()
				var steps []InstallStep
				m := NewInstallMachine(func(s InstallStep) { steps = append(steps, s) })
				driveTo(t, m, state)
				steps = nil

				err := m.Fire(event)
				to, ok := tableNext(table, state, event)
				if ok {
					require.NoError(t, err)
					assert.Equal(t, to, m.Current())
					assert.Equal(t, []InstallStep{{From: state, To: to, Event: event}}, steps)
					return
				}
				require.Error(t, err)
				var invalid *InvalidEventError
				require.ErrorAs(t, err, &invalid)
				assert.Equal(t, "install", invalid.Machine)
				assert.Equal(t, state, invalid.State)
				assert.Equal(t, event, invalid.Event)
				assert.NotContains(t, invalid.Allowed, event)
				assert.Contains(t, err.Error(), "nothing was changed")
				assert.Equal(t, state, m.Current(), "a refused event must not move the machine")
				assert.Empty(t, steps)
			})
			if _, ok := tableNext(table, state, event); ok {
				allowed++
			}
		}
	}
	// 2 lock-busy + 2 lock-acquired + 2 found-installed + downloaded + verified + 4 fail + retry.
	assert.Equal(t, 13, allowed)
}

func TestInstallMachineUnknownEvent(t *testing.T) {
	t.Parallel()
	m := NewInstallMachine(nil)
	err := m.Fire("teleport")
	var invalid *InvalidEventError
	require.ErrorAs(t, err, &invalid)
	assert.Equal(t, []string{InstallFail, InstallFoundInstalled, InstallLockAcquired, InstallLockBusy}, invalid.Allowed)
	assert.Equal(t, InstallAbsent, m.Current())
}

func TestInstallMachineTerminalStateNamesNoEvents(t *testing.T) {
	t.Parallel()
	m := NewInstallMachine(nil)
	driveTo(t, m, InstallInstalled)
	err := m.Fire(InstallRetry)
	var invalid *InvalidEventError
	require.ErrorAs(t, err, &invalid)
	assert.Empty(t, invalid.Allowed)
	assert.Contains(t, err.Error(), "(allowed: none)")
}

func TestInstallMachinePaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []string
		want   string
	}{
		{"first unit downloads", []string{InstallLockAcquired, InstallDownloaded, InstallVerified}, InstallInstalled},
		{"second unit waits then reuses", []string{InstallLockBusy, InstallLockBusy, InstallLockBusy, InstallFoundInstalled}, InstallInstalled},
		{"waiter takes over after a dead downloader", []string{InstallLockBusy, InstallLockAcquired, InstallDownloaded, InstallVerified}, InstallInstalled},
		{"bad checksum then retry", []string{InstallLockAcquired, InstallDownloaded, InstallFail, InstallRetry, InstallLockAcquired}, InstallDownloading},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var steps []InstallStep
			m := NewInstallMachine(func(s InstallStep) { steps = append(steps, s) })
			for _, e := range tt.events {
				require.NoError(t, m.Fire(e))
			}
			assert.Equal(t, tt.want, m.Current())
			require.Len(t, steps, len(tt.events))
			for i, s := range steps {
				assert.Equal(t, tt.events[i], s.Event)
				if i > 0 {
					assert.Equal(t, steps[i-1].To, s.From, "steps chain")
				}
			}
		})
	}
}

func TestInstallStepString(t *testing.T) {
	t.Parallel()
	s := InstallStep{From: InstallAbsent, To: InstallDownloading, Event: InstallLockAcquired}
	assert.Equal(t, "absent -> downloading (lock-acquired)", s.String())
}

// driveTo moves a fresh machine to state along the shortest path in the table.
func driveTo(t *testing.T, m *InstallMachine, state string) {
	t.Helper()
	table := InstallTable()
	type node struct {
		state string
		path  []string
	}
	seen := map[string]bool{table.Initial: true}
	queue := []node{{state: table.Initial}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n.state == state {
			for _, e := range n.path {
				require.NoError(t, m.Fire(e))
			}
			require.Equal(t, state, m.Current())
			return
		}
		for _, tr := range table.Transitions {
			for _, from := range tr.From {
				if from == n.state && !seen[tr.To] {
					seen[tr.To] = true
					queue = append(queue, node{tr.To, append(append([]string(nil), n.path...), tr.Event)})
				}
			}
		}
	}
	t.Fatalf("state %q is not reachable", state)
}

// tableNext reads the table by hand (not through looplab), so the tests
// check looplab's answers against the table's rows.
func tableNext(t Table, from, event string) (string, bool) {
	for _, tr := range t.Transitions {
		if tr.Event != event {
			continue
		}
		for _, src := range tr.From {
			if src == from {
				return tr.To, true
			}
		}
	}
	return "", false
}
