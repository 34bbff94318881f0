package charm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// portTools is Juju's ports: opened-ports answers the committed ports,
// open-port and close-port are recorded, and commit applies them as a
// hook that succeeds would. No other tool is called.
type portTools struct {
	relation.Juju
	committed []relation.Port
	calls     []string
	pending   []func()
	openedErr error
}

func (p *portTools) OpenedPorts(ctx context.Context) ([]relation.Port, error) {
	return slices.Clone(p.committed), p.openedErr
}

func (p *portTools) OpenPort(ctx context.Context, n int, protocol string) error {
	port := relation.Port{Protocol: protocol, From: n, To: n}
	p.calls = append(p.calls, "open "+port.String())
	p.pending = append(p.pending, func() {
		if !slices.Contains(p.committed, port) {
			p.committed = append(p.committed, port)
		}
	})
	return nil
}

func (p *portTools) ClosePort(ctx context.Context, n int, protocol string) error {
	port := relation.Port{Protocol: protocol, From: n, To: n}
	p.calls = append(p.calls, "close "+port.String())
	p.pending = append(p.pending, func() {
		p.committed = slices.DeleteFunc(p.committed, func(o relation.Port) bool { return o == port })
	})
	return nil
}

// hook runs syncPorts as one hook that ends ok or fails (its port changes
// dropped, as Juju drops them), and returns the calls it made.
func (p *portTools) hook(t *testing.T, h *hook, ok bool) []string {
	t.Helper()
	p.calls, p.pending = nil, nil
	require.NoError(t, h.syncPorts(context.Background()))
	if ok {
		for _, apply := range p.pending {
			apply()
		}
	}
	return p.calls
}

func webHook(t *testing.T, tools *portTools) *hook {
	t.Helper()
	ports, err := concourse.PortsFor(0, 8080)
	require.NoError(t, err)
	return &hook{d: Deps{Juju: tools}, roles: Roles{Web: true}, wire: wiring{ports: ports}, local: &localState{}}
}

// The unit acts on what Juju committed: it closes what it no longer
// serves and opens what is missing, and at rest it changes nothing. A
// range or icmp, which it never opens, is left alone.
func TestSyncPortsActsOnTheCommittedPorts(t *testing.T) {
	t.Parallel()
	rng, icmp := relation.Port{Protocol: "tcp", From: 9000, To: 9010}, relation.Port{Protocol: "icmp"}
	tools := &portTools{committed: []relation.Port{relation.TCP(2222), rng, relation.TCP(8080), icmp}}
	h := webHook(t, tools)
	assert.Equal(t, []string{"close 2222/tcp"}, tools.hook(t, h, true))
	assert.Empty(t, tools.hook(t, h, true), "at rest no port changes")
	assert.Equal(t, []relation.Port{rng, relation.TCP(8080), icmp}, tools.committed)

	// The TSA opens while a tsa relation exists, and closes after.
	h.wire.tsaRelations = 1
	assert.Equal(t, []string{"open 2222/tcp"}, tools.hook(t, h, true))
	h.wire.tsaRelations = 0
	assert.Equal(t, []string{"close 2222/tcp"}, tools.hook(t, h, true))

	// A fresh unit opens web's port.
	fresh := &portTools{}
	assert.Equal(t, []string{"open 8080/tcp"}, fresh.hook(t, webHook(t, fresh), true))
	assert.Equal(t, []relation.Port{relation.TCP(8080)}, fresh.committed)
}

// Hooks that fail drop their port changes; the next hook asks again, as
// often as it takes, and once one succeeds the port is closed.
func TestSyncPortsAsksAgainAfterFailedHooks(t *testing.T) {
	t.Parallel()
	tools := &portTools{committed: []relation.Port{relation.TCP(8080)}}
	h := webHook(t, tools)
	h.roles = Roles{Worker: true}
	for i := range 3 {
		assert.Equal(t, []string{"close 8080/tcp"}, tools.hook(t, h, false), "failed hook %d", i+1)
	}
	assert.Equal(t, []string{"close 8080/tcp"}, tools.hook(t, h, true))
	assert.Empty(t, tools.committed)
	assert.Empty(t, tools.hook(t, h, true))
}

// opened-ports failing fails the hook: Juju retries it.
func TestSyncPortsFailsWhenOpenedPortsDoes(t *testing.T) {
	t.Parallel()
	broken := errors.New("opened-ports: connection to the unit agent lost")
	tools := &portTools{openedErr: broken}
	require.ErrorIs(t, webHook(t, tools).syncPorts(context.Background()), broken)
	assert.Empty(t, tools.calls)
}

// A local state file of an earlier revision, which kept the ports it
// opened and closed, still loads, and its other readings survive.
func TestLocalStateOfAnEarlierRevisionLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := `{"installed": {}, "last_drain": "drained", "written_generation": 7,
		"opened_ports": ["8080/tcp"], "closed_ports": ["2222/tcp"]}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, localStateFile), []byte(old), 0o600))
	s, err := loadLocalState(dir)
	require.NoError(t, err)
	assert.Equal(t, "drained", s.LastDrain)
	assert.Equal(t, uint64(7), s.WrittenGeneration)
	require.NoError(t, s.save(dir))
	data, err := os.ReadFile(filepath.Join(dir, localStateFile))
	require.NoError(t, err)
	assert.NotContains(t, string(data), "ports", "the old keys are not written again")
}
