package relation_test

import (
	"context"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setCounter counts relation-set calls.
type setCounter struct {
	relation.Juju
	sets []map[string]string
}

func (s *setCounter) RelationSet(ctx context.Context, id string, app bool, data map[string]string) error {
	s.sets = append(s.sets, data)
	return s.Juju.RelationSet(ctx, id, app, data)
}

// Two writes of the own bag in one hook: the second sends only what
// changed since the first, and a key set back to the value the hook read
// is sent too (it was skipped, so the first write's value stayed).
func TestWriteOwnTwiceInOneHook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := jujutest.NewModel("test", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m.Deploy("app", "/charm", map[string]any{})
	m.AddUnit("app", t.TempDir())
	require.NoError(t, m.Settle(ctx, func(context.Context, relation.Context, relation.Juju) error { return nil }, 100))

	m.Tick(5 * time.Minute) // update-status
	h := m.Begin("app/0")
	require.NotNil(t, h)
	var sets []map[string]string
	require.NoError(t, h.Run(ctx, func(ctx context.Context, _ relation.Context, hj relation.Juju) error {
		j := &setCounter{Juju: hj}
		p, err := relation.ReadPeers(ctx, j, unitname.MustParse("app/0"))
		require.NoError(t, err)
		ack := fsm.Ack{Generation: 1}
		require.NoError(t, p.WriteOwn(ctx, j, ack, relation.Facts{Address: "10.0.0.1", VolumeToken: "t"}))
		require.Len(t, j.sets, 1)
		require.NoError(t, p.WriteOwn(ctx, j, ack, relation.Facts{Address: "10.0.0.1", VolumeToken: "t"}))
		assert.Len(t, j.sets, 1, "nothing changed since the first write")
		require.NoError(t, p.WriteOwn(ctx, j, ack, relation.Facts{VolumeToken: "t"}))
		sets = j.sets
		return nil
	}))
	require.Len(t, sets, 2)
	assert.Equal(t, map[string]string{relation.KeyUnitAddress: ""}, sets[1], "only the address, deleted")
	require.NoError(t, h.Commit())
	assert.NotContains(t, m.UnitBag("app/0"), relation.KeyUnitAddress)
	assert.Equal(t, "t", m.UnitBag("app/0")[relation.KeyUnitVolumeToken])
}
