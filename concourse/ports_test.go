package concourse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnitZeroKeepsConcoursesDefaults(t *testing.T) {
	t.Parallel()
	p, err := PortsFor(0, DefaultWebPort)
	require.NoError(t, err)
	assert.Equal(t, PortSet{
		Web: 8080, WebDebug: 8079, TSA: 2222, TSADebug: 2221,
		Garden: 7777, GardenDebug: 7776, Baggageclaim: 7788, BaggageclaimDebug: 7787, Healthcheck: 8888,
	}, p)
	assert.Equal(t, map[string]string{
		"CONCOURSE_BIND_PORT": "8080", "CONCOURSE_DEBUG_BIND_PORT": "8079",
		"CONCOURSE_TSA_BIND_PORT": "2222", "CONCOURSE_TSA_DEBUG_BIND_PORT": "2221",
	}, p.Env(RoleWeb))
	assert.Equal(t, map[string]string{
		"CONCOURSE_BIND_PORT": "7777", "CONCOURSE_DEBUG_BIND_PORT": "7776",
		"CONCOURSE_BAGGAGECLAIM_BIND_PORT": "7788", "CONCOURSE_BAGGAGECLAIM_DEBUG_BIND_PORT": "7787",
		"CONCOURSE_HEALTHCHECK_BIND_PORT": "8888",
	}, p.Env(RoleWorker))
}

func TestPortsShiftByUnitNumber(t *testing.T) {
	t.Parallel()
	p, err := PortsFor(2, 9000)
	require.NoError(t, err)
	assert.Equal(t, 9000+2*PortStride, p.Web)
	assert.Equal(t, DefaultGardenPort+2*PortStride, p.Garden)
	assert.Equal(t, DefaultHealthcheckPort+2*PortStride, p.Healthcheck)
}

// Every bind-port setting either role reads is in the set: a port Concourse
// would open on its default for every unit would collide on a shared
// machine.
func TestPortSetCoversEveryBindPort(t *testing.T) {
	t.Parallel()
	p, err := PortsFor(1, DefaultWebPort)
	require.NoError(t, err)
	// Set only by an operator who turns them on (metrics, TLS): the
	// pass-through carries them, and they have no default port to collide.
	optIn := map[string]bool{"CONCOURSE_PROMETHEUS_BIND_PORT": true, "CONCOURSE_TLS_BIND_PORT": true}
	for _, role := range Roles() {
		covered := p.Env(role)
		for _, f := range Flags(role) {
			if strings.HasSuffix(f.Env, "_BIND_PORT") && !optIn[f.Env] {
				assert.Contains(t, covered, f.Env, "%s %s", role, f.Name)
			}
		}
	}
}

// No port of one unit is a port of another, for every pair of unit
// numbers whose ports fit, and a unit's own ports are distinct.
func TestPortsNeverCollide(t *testing.T) {
	t.Parallel()
	owner := map[int]int{} // port -> unit
	units := 0
	for n := 0; ; n++ {
		p, err := PortsFor(n, DefaultWebPort)
		if err != nil {
			var rangeErr *PortRangeError
			require.ErrorAs(t, err, &rangeErr)
			assert.Equal(t, n, rangeErr.Unit)
			break
		}
		units++
		for _, port := range p.all() {
			if other, taken := owner[port]; taken {
				t.Fatalf("port %d of unit %d is also unit %d's", port, n, other)
			}
			owner[port] = n
		}
	}
	assert.Greater(t, units, 4000, "units with ports in range")
}

func TestPortsOutOfRange(t *testing.T) {
	t.Parallel()
	_, err := PortsFor(0, 70000)
	var rangeErr *PortRangeError
	require.ErrorAs(t, err, &rangeErr)
	assert.Equal(t, "CONCOURSE_BIND_PORT", rangeErr.Setting)
	assert.Equal(t, 70000, rangeErr.Port)
	_, err = PortsFor(-1, DefaultWebPort)
	assert.Error(t, err)
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	unit0 := mustPorts(t, 0, DefaultWebPort)
	unit1 := mustPorts(t, 1, DefaultWebPort)
	assert.Empty(t, unit0.Conflicts(unit1))
	// A web port chosen onto unit 1's garden port.
	odd := mustPorts(t, 0, DefaultGardenPort+PortStride)
	assert.Equal(t, []int{DefaultGardenPort + PortStride}, odd.Conflicts(unit1))
}

func mustPorts(t *testing.T, unit, web int) PortSet {
	t.Helper()
	p, err := PortsFor(unit, web)
	require.NoError(t, err)
	return p
}
