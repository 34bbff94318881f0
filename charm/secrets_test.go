package charm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/charm/charmtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answerWithSecret is PostgreSQL's answer with the credentials in the
// secret uri instead of the relation data.
func answerWithSecret(uri string) map[string]string {
	answer := charmtest.PostgresAnswer()
	delete(answer, "username")
	delete(answer, "password")
	answer["secret-user"] = uri
	return answer
}

// webRestarts counts the restarts of web on unit.
func webRestarts(w *charmtest.World, unit string) int {
	n := 0
	for _, line := range w.Machine(unit).Journal {
		if strings.HasPrefix(line, "restart concourse-web") {
			n++
		}
	}
	return n
}

// PostgreSQL rotates the password of its secret-user secret: the
// secret-changed hook alone brings it into web's environment, and web
// restarts once for it.
func TestPostgresRotatesTheSecretPassword(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2, Postgres: charmtest.PostgresSilent})
	const uri = "secret:pg-user"
	w.Model.AddSecret(uri, map[string]string{"username": "relation-3", "password": "pw-1"})
	w.Model.SetRemoteData(w.PostgresRelation("concourse"), answerWithSecret(uri))
	converge(t, w)
	require.Equal(t, "pw-1", envOf(t, w, "concourse/0", charm.RoleWeb)["CONCOURSE_POSTGRES_PASSWORD"])
	restarts := func() int { return webRestarts(w, "concourse/0") }
	before := restarts()

	w.Model.AddSecret(uri, map[string]string{"username": "relation-3", "password": "pw-2"})
	assert.Contains(t, w.Model.Queue("concourse/0"), jujutest.Event{Hook: "secret-changed", Secret: uri})
	settle(t, w)
	assert.Equal(t, "pw-2", envOf(t, w, "concourse/0", charm.RoleWeb)["CONCOURSE_POSTGRES_PASSWORD"])
	assert.Equal(t, before+1, restarts(), "one restart for the new password")

	w.Model.Tick(5 * time.Minute)
	converge(t, w)
	assert.Equal(t, before+1, restarts(), "and none after")
	assert.NotContains(t, status(w, "concourse/0"), "pw-")
}

// PostgreSQL names a secret the unit cannot read (not granted yet): web
// stops and the status says it was PostgreSQL's secret and what Juju
// answered, not only that a hook tool failed. Once readable, web starts.
func TestPostgresNamesASecretTheUnitCannotRead(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2, Postgres: charmtest.PostgresSilent})
	const uri = "secret:not-granted"
	w.Model.SetRemoteData(w.PostgresRelation("concourse"), answerWithSecret(uri))
	settle(t, w)
	assert.Equal(t, `blocked: Web stopped: PostgreSQL (postgresql) secret-user secret secret:not-granted unreadable: secret "secret:...nted" not found`,
		status(w, "concourse/0"))
	assert.NotContains(t, w.Machine("concourse/0").Running(), charm.RoleWeb)
	assert.Equal(t, "active: worker 7.14.3", status(w, "concourse/1"))

	w.Model.AddSecret(uri, map[string]string{"username": "relation-3", "password": "pw-1"})
	w.Model.Tick(5 * time.Minute)
	converge(t, w)
	assert.Equal(t, "pw-1", envOf(t, w, "concourse/0", charm.RoleWeb)["CONCOURSE_POSTGRES_PASSWORD"])
}
