package charm_test

import (
	"context"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm/charmtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otherStorage asks the model for a storage the unit does not own, as a
// unit whose storage went away under it would: the model refuses with the
// *relation.ToolError that Juju's tool gives.
type otherStorage struct{ relation.Juju }

func (j otherStorage) StorageGet(ctx context.Context, id, attribute string) (string, error) {
	return j.Juju.StorageGet(ctx, "concourse-data/99", attribute)
}

// A hook tool that fails where the charm reports instead of retrying
// (storage-get, finding the volume) reaches the status through the
// ToolError entry, with Juju's words; the next hook heals.
func TestAFailedHookToolIsReported(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2})
	converge(t, w)
	ctx := context.Background()
	w.Model.Trigger("concourse/1", "update-status")
	h := w.Model.Begin("concourse/1")
	dispatch := w.Dispatcher("concourse/1")
	require.NoError(t, h.Run(ctx, func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		return dispatch(ctx, hc, otherStorage{j})
	}))
	require.NoError(t, w.Commit(h))
	assert.Equal(t, `blocked: A Juju hook tool failed: storage-get: exit status 1: ERROR storage "concourse-data/99" attribute "location" not found`,
		status(w, "concourse/1"))

	w.Model.Tick(5 * time.Minute)
	converge(t, w)
	assert.Equal(t, "active: worker 7.14.3", status(w, "concourse/1"))
}
