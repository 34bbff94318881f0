package charm_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/charm/charmtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/stretchr/testify/assert"
)

// flakyVolume fails the next UseRelease calls while fails is above zero.
type flakyVolume struct {
	charm.Volume
	fails *atomic.Int32
}

func (v flakyVolume) UseRelease(ctx context.Context, unit string, ver version.Version) error {
	if v.fails.Add(-1) >= 0 {
		return errors.New("injected: the volume lock is busy")
	}
	return v.Volume.UseRelease(ctx, unit, ver)
}

// A unit file that changed is restarted even when the hook that
// installed it stopped short of the restart: the restart is owed until it
// happens.
func TestChangedServiceIsRestartedAfterAFailedStep(t *testing.T) {
	t.Parallel()
	var fails atomic.Int32
	w := newWorld(t, charmtest.Options{Units: 2, WrapVolume: func(v charm.Volume) charm.Volume {
		return flakyVolume{Volume: v, fails: &fails}
	}})
	converge(t, w)
	marks := map[string]int{}
	for _, u := range w.Model.Units("concourse") {
		marks[u] = len(w.Machine(u).Journal)
	}
	fails.Store(1)
	w.Model.SetConfig("concourse", map[string]any{"log-level": "debug"})
	settle(t, w)
	assert.Contains(t, status(w, "concourse/0"), "injected")
	w.Model.Tick(5 * time.Minute) // update-status
	settle(t, w)
	checked := 0
	for _, u := range w.Model.Units("concourse") {
		m := w.Machine(u)
		for role, unit := range m.Installed() {
			if _, runs := m.Running()[role]; !runs {
				continue
			}
			checked++
			assert.Equal(t, "debug", unit.Env["CONCOURSE_LOG_LEVEL"], "%s %s", u, role)
			restarted := false
			for _, line := range m.Journal[marks[u]:] {
				restarted = restarted || strings.HasPrefix(line, "restart "+unit.Name+" ")
			}
			assert.True(t, restarted, "%s's %s runs its new file: %v", u, role, m.Journal[marks[u]:])
		}
	}
	assert.Equal(t, 2, checked, "web on the leader and the other unit's worker run")
}
