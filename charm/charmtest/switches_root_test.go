//go:build !unit

package charmtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A switch bound searches fewer orders the lower it is, and each bound
// still reaches rest. (The bound keys states by the unit that ran last, so
// on 2 units it visits more state-and-unit pairs than no bound does; it
// pays off from 3 units on, where orders multiply.)
func TestExplorerSwitchBound(t *testing.T) {
	t.Parallel()
	w := upgradeStart(t, 2, nil)
	states := map[int]int{}
	for _, bound := range []int{0, 1, 2} {
		e := &Explorer{Budget: Budget{}, MaxDepth: 80, Scratch: t.TempDir(), MaxSwitches: bound}
		require.NoError(t, e.Explore(context.Background(), w), "bound %d", bound)
		assert.Positive(t, e.Leaves, "bound %d", bound)
		states[bound] = e.States
	}
	assert.Less(t, states[1], states[2], "one switch searches less than two")
	t.Logf("states by bound (0: none): %v", states)
}
