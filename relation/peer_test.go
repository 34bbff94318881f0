package relation_test

import (
	"context"
	"testing"

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
