package relation_test

import (
	"context"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A removed unit's own peers-relation-broken still lists the peer
// relation (as Juju does), but ReadPeers treats it as gone; the hooks
// before read it.
func TestReadPeersLeavesOutTheBreakingPeerRelation(t *testing.T) {
	t.Parallel()
	m := jujutest.NewModel("test", t0)
	m.Deploy("app", "/charm", nil)
	m.AddUnit("app", t.TempDir())
	m.AddUnit("app", t.TempDir())
	read := map[string]error{}
	charm := func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		p, err := relation.ReadPeers(ctx, j, hc)
		if err == nil {
			assert.Equal(t, "peers:0", p.ID)
		}
		if hc.Unit.String() == "app/1" {
			read[hc.Hook] = err
		}
		return nil
	}
	settle(t, m, charm)
	m.RemoveUnit("app/1")
	settle(t, m, charm)
	require.Contains(t, read, "peers-relation-broken")
	assert.ErrorIs(t, read["peers-relation-broken"], relation.ErrNoPeerRelation)
	assert.NoError(t, read["peers-relation-departed"])
	assert.ErrorIs(t, read["stop"], relation.ErrNoPeerRelation, "the unit left the relation once its broken hook committed")
}

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
	require.NoError(t, h.Run(ctx, func(ctx context.Context, hc relation.Context, hj relation.Juju) error {
		j := &setCounter{Juju: hj}
		p, err := relation.ReadPeers(ctx, j, hc)
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
