package charm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/charm/charmtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The charm closes the ports it no longer serves: the TSA's when the last
// tsa relation goes, web's on a unit that stops running web (leadership
// moved in mode auto), and web's old port when web-port changes.
func TestPortsCloseWhenNoLongerServed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2})
	converge(t, w)
	assert.Equal(t, []string{"8080/tcp"}, w.Model.Ports("concourse/0"))
	assert.Empty(t, w.Model.Ports("concourse/1"))

	require.NoError(t, w.Deploy(charmtest.Options{App: "worker", Units: 1, Config: map[string]any{"mode": "worker"}, Postgres: charmtest.PostgresAbsent}))
	id := w.Model.Relate("concourse", "tsa", "worker", "web-tsa")
	converge(t, w)
	assert.Equal(t, []string{"2222/tcp", "8080/tcp"}, w.Model.Ports("concourse/0"))
	w.Model.Unrelate(id)
	settle(t, w)
	assert.Equal(t, []string{"8080/tcp"}, w.Model.Ports("concourse/0"), "no workers of other applications: the TSA closes")

	w.Model.SetLeader("concourse/1")
	converge(t, w)
	assert.Empty(t, w.Model.Ports("concourse/0"), "the former leader runs no web")
	assert.Equal(t, []string{"8093/tcp"}, w.Model.Ports("concourse/1"), "unit 1's web port")

	w.Model.SetConfig("concourse", map[string]any{"web-port": 9000})
	converge(t, w)
	assert.Equal(t, []string{"9013/tcp"}, w.Model.Ports("concourse/1"), "the old web port closes")
	assert.Empty(t, w.Model.Ports("concourse/0"))
}

// A hook that closes a port and then fails has its close dropped by Juju;
// when that happens twice in a row the port still closes once a hook
// succeeds (the charm reads the unit's ports from Juju, not from what it
// remembers asking for).
func TestPortClosesAfterTwoFailedHooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, charmtest.Options{Units: 2})
	converge(t, w)
	require.Equal(t, []string{"8080/tcp"}, w.Model.Ports("concourse/0"))

	// Leadership moves: unit 0 no longer runs web (mode auto) and closes
	// its port in its next hook, which fails after the charm's work is
	// done (the local state saved), twice.
	w.Model.SetLeader("concourse/1")
	w.Model.Trigger("concourse/0", "update-status")
	failAfter := func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		_ = w.Dispatcher("concourse/0")(ctx, hc, j)
		return errors.New("the hook dies after the charm's work")
	}
	for i := range 2 {
		h := w.Begin("concourse/0")
		require.NotNil(t, h)
		require.Equal(t, "update-status", h.Event.Hook)
		require.Error(t, h.Run(ctx, failAfter))
		require.Error(t, w.Commit(h))
		assert.Equal(t, []string{"8080/tcp"}, w.Model.Ports("concourse/0"), "failed hook %d: its close is dropped", i+1)
	}
	converge(t, w)
	assert.Empty(t, w.Model.Ports("concourse/0"), "the port closes once a hook succeeds")
	assert.Equal(t, []string{"8093/tcp"}, w.Model.Ports("concourse/1"))
}

// A web-port that does not fit the unit running web (its number's offset
// passes 65535) keeps web running on its old port, and the port open: the
// status says what to fix.
func TestPortStaysOpenWhileWebPortDoesNotFit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2})
	w.Model.SetLeader("concourse/1")
	converge(t, w)
	require.Equal(t, []string{"8093/tcp"}, w.Model.Ports("concourse/1"))
	w.Model.SetConfig("concourse", map[string]any{"web-port": 65530})
	settle(t, w)
	assert.Equal(t, "blocked: Unit number 1 puts CONCOURSE_BIND_PORT at 65543: lower juju config concourse web-port", status(w, "concourse/1"))
	assert.NotZero(t, w.Machine("concourse/1").Running()[charm.RoleWeb], "web keeps running")
	assert.Equal(t, []string{"8093/tcp"}, w.Model.Ports("concourse/1"), "and its port stays open")

	// Leadership moves back: unit 1 stops web and closes its port, though
	// web-port still does not fit it.
	w.Model.SetLeader("concourse/0")
	settle(t, w)
	assert.Zero(t, w.Machine("concourse/1").Running()[charm.RoleWeb], "web moved to the leader")
	assert.Empty(t, w.Model.Ports("concourse/1"), "a unit without web serves no port")
	assert.Equal(t, []string{"65530/tcp"}, w.Model.Ports("concourse/0"))
}
