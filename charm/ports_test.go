package charm_test

import (
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm/charmtest"
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
