package charmtest

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A unit's status never names the unit itself among those an upgrade
// waits for once it has done its part: relation-get of the peers lists
// only the others' acks, so its own comes from the hook.
func TestUpgradeStatusNeverWaitsForItself(t *testing.T) {
	t.Parallel()
	w := deployed(t, 3, Options{})
	startUpgrade(t, w, "7.14.4")
	waitingFor := regexp.MustCompile(`\(waiting for ([^)]*)\)`)
	seen := 0
	for i := 0; i < 400 && len(w.Ready()) > 0; i++ {
		unit := w.Ready()[i%len(w.Ready())]
		require.NoError(t, w.Step(context.Background(), unit))
		rec, err := w.Record()
		require.NoError(t, err)
		if rec.Phase == fsm.PhaseIdle {
			continue
		}
		for _, u := range w.Model.Units(w.App) {
			m := waitingFor.FindStringSubmatch(w.Model.Status(u).Message)
			if m == nil {
				continue
			}
			seen++
			assert.False(t, slices.Contains(strings.Split(m[1], ", "), u), "%s: %s", u, w.Model.Status(u).Message)
		}
	}
	assert.NotZero(t, seen, "some status waited for someone")
	settled(t, w)
}
