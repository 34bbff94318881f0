package charm

import (
	"context"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// portTools records open-port and close-port; no other tool is called.
type portTools struct {
	relation.Juju
	calls []string
}

func (p *portTools) OpenPort(ctx context.Context, port int, protocol string) error {
	p.calls = append(p.calls, "open "+(portOf(port, protocol)))
	return nil
}

func (p *portTools) ClosePort(ctx context.Context, port int, protocol string) error {
	p.calls = append(p.calls, "close "+(portOf(port, protocol)))
	return nil
}

func portOf(n int, proto string) string { return port{n, proto}.String() }

// A port the unit stops serving is closed in that hook and once more in
// the next (Juju drops the port changes of a hook that fails after the
// local state was saved); at rest no port is closed.
func TestSyncPortsClosesTwiceThenRests(t *testing.T) {
	t.Parallel()
	ports, err := concourse.PortsFor(0, 8080)
	require.NoError(t, err)
	tools := &portTools{}
	h := &hook{d: Deps{Juju: tools}, roles: Roles{Web: true}, wire: wiring{ports: ports}, local: &localState{OpenedPorts: []string{"2222/tcp", "8080/tcp"}}}
	for i, want := range [][]string{
		{"close 2222/tcp", "open 8080/tcp"},
		{"close 2222/tcp", "open 8080/tcp"},
		{"open 8080/tcp"},
		{"open 8080/tcp"},
	} {
		tools.calls = nil
		require.NoError(t, h.syncPorts(context.Background()))
		assert.Equal(t, want, tools.calls, "hook %d", i+1)
	}
	assert.Equal(t, []string{"8080/tcp"}, h.local.OpenedPorts)
	assert.Empty(t, h.local.ClosedPorts)

	// The unit stops running web: its port closes, twice, then nothing.
	h.roles = Roles{Worker: true}
	for i, want := range [][]string{{"close 8080/tcp"}, {"close 8080/tcp"}, nil} {
		tools.calls = nil
		require.NoError(t, h.syncPorts(context.Background()))
		assert.Equal(t, want, tools.calls, "worker hook %d", i+1)
	}
}
