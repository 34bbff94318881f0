package jujutest

import (
	"context"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
)

// A secret keeps its revisions: a unit reads the revision it tracks until
// it refreshes, and only a unit that read the secret hears of a new one.
func TestSecretRevisionsAndSecretChanged(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	const uri = "secret:pg-user"
	m.AddSecret(uri, map[string]string{"password": "pw-1"})

	// reader reads the secret on app/0 and records what it saw in each hook.
	var seen []string
	reader := func(refresh bool) Dispatcher {
		return func(ctx context.Context, hc relation.Context, j relation.Juju) error {
			if hc.Unit.String() != "app/0" {
				return nil
			}
			content, err := j.SecretGet(ctx, uri, refresh)
			if err != nil {
				return err
			}
			seen = append(seen, hc.Hook+" "+content["password"])
			return nil
		}
	}

	m.Trigger("app/0", "update-status")
	settle(t, m, reader(false))
	assert.Equal(t, 1, m.Tracked("app/0", uri), "the first read tracks the newest")

	m.AddSecret(uri, map[string]string{"password": "pw-2"})
	assert.Equal(t, []Event{{Hook: "secret-changed", Secret: uri}}, m.Queue("app/0"))
	assert.Empty(t, m.Queue("app/1"), "a unit that never read the secret hears nothing")
	settle(t, m, reader(false))
	assert.Equal(t, 1, m.Tracked("app/0", uri))

	m.AddSecret(uri, map[string]string{"password": "pw-3"})
	settle(t, m, reader(true))
	assert.Equal(t, 3, m.Tracked("app/0", uri))
	assert.Equal(t, []string{"update-status pw-1", "secret-changed pw-1", "secret-changed pw-3"}, seen,
		"without --refresh the tracked revision, with it the newest")

	m.Trigger("app/0", "update-status")
	settle(t, m, reader(false))
	assert.Equal(t, "update-status pw-3", seen[len(seen)-1], "a refresh moves the tracking")
}
