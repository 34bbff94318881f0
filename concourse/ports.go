package concourse

import (
	"fmt"
	"slices"
)

// Concourse's default ports (flags/*.flags' sources: `concourse web --help`
// and `concourse worker --help` defaults).
const (
	DefaultWebPort               = 8080 // web --bind-port
	DefaultWebDebugPort          = 8079 // web --debug-bind-port
	DefaultTSAPort               = 2222 // web --tsa-bind-port
	DefaultTSADebugPort          = 2221 // web --tsa-debug-bind-port
	DefaultGardenPort            = 7777 // worker --bind-port
	DefaultGardenDebugPort       = 7776 // worker --debug-bind-port
	DefaultBaggageclaimPort      = 7788 // worker --baggageclaim-bind-port
	DefaultBaggageclaimDebugPort = 7787 // worker --baggageclaim-debug-bind-port
	DefaultHealthcheckPort       = 8888 // worker --healthcheck-bind-port
)

// PortStride is how far apart two consecutive unit numbers' ports are: unit
// N listens on each default port + PortStride*N, so unit 0 keeps Concourse's
// defaults. 13 is the smallest stride for which no two of the default ports
// differ by a multiple of it (the differences are 1, 11, 12, 292, 809, ...),
// so no port of one unit is ever a port of another, whatever their numbers;
// TestPortsNeverCollide checks this for every pair of unit numbers that fits.
const PortStride = 13

// PortSet is every TCP port one unit's Concourse processes listen on. Web
// ports are used when the unit runs web, worker ports when it runs a worker;
// a unit running both uses all, and they are distinct.
type PortSet struct {
	Web               int
	WebDebug          int
	TSA               int
	TSADebug          int
	Garden            int
	GardenDebug       int
	Baggageclaim      int
	BaggageclaimDebug int
	Healthcheck       int
}

// PortRangeError: a unit number (with the configured web port) puts a port
// outside 1..65535.
type PortRangeError struct {
	Unit    int
	WebPort int
	Setting string // the environment variable whose port does not fit
	Port    int
}

func (e *PortRangeError) Error() string {
	return fmt.Sprintf("unit number %d (web port %d) puts %s at %d, outside 1..65535", e.Unit, e.WebPort, e.Setting, e.Port)
}

// PortsFor is unit's port set: each default + PortStride*unit, the web
// port starting from webPort (the charm's web-port option) instead of 8080.
func PortsFor(unit, webPort int) (PortSet, error) {
	if unit < 0 {
		return PortSet{}, fmt.Errorf("concourse: negative unit number %d", unit)
	}
	off := PortStride * unit
	p := PortSet{
		Web: webPort + off, WebDebug: DefaultWebDebugPort + off,
		TSA: DefaultTSAPort + off, TSADebug: DefaultTSADebugPort + off,
		Garden: DefaultGardenPort + off, GardenDebug: DefaultGardenDebugPort + off,
		Baggageclaim: DefaultBaggageclaimPort + off, BaggageclaimDebug: DefaultBaggageclaimDebugPort + off,
		Healthcheck: DefaultHealthcheckPort + off,
	}
	for _, e := range p.entries() {
		if e.port < 1 || e.port > 65535 {
			return PortSet{}, &PortRangeError{Unit: unit, WebPort: webPort, Setting: e.env, Port: e.port}
		}
	}
	return p, nil
}

type portEntry struct {
	env  string
	role Role
	port int
}

// entries lists the set's ports with the setting each one is.
func (p PortSet) entries() []portEntry {
	return []portEntry{
		{"CONCOURSE_BIND_PORT", RoleWeb, p.Web},
		{"CONCOURSE_DEBUG_BIND_PORT", RoleWeb, p.WebDebug},
		{"CONCOURSE_TSA_BIND_PORT", RoleWeb, p.TSA},
		{"CONCOURSE_TSA_DEBUG_BIND_PORT", RoleWeb, p.TSADebug},
		{"CONCOURSE_BIND_PORT", RoleWorker, p.Garden},
		{"CONCOURSE_DEBUG_BIND_PORT", RoleWorker, p.GardenDebug},
		{"CONCOURSE_BAGGAGECLAIM_BIND_PORT", RoleWorker, p.Baggageclaim},
		{"CONCOURSE_BAGGAGECLAIM_DEBUG_BIND_PORT", RoleWorker, p.BaggageclaimDebug},
		{"CONCOURSE_HEALTHCHECK_BIND_PORT", RoleWorker, p.Healthcheck},
	}
}

// all lists every port of the set, sorted.
func (p PortSet) all() []int {
	var ports []int
	for _, e := range p.entries() {
		ports = append(ports, e.port)
	}
	slices.Sort(ports)
	return ports
}

// Env is the role's bind-port settings.
func (p PortSet) Env(role Role) map[string]string {
	env := map[string]string{}
	for _, e := range p.entries() {
		if e.role == role {
			env[e.env] = fmt.Sprint(e.port)
		}
	}
	return env
}

// Conflicts lists the ports p shares with q, sorted; for the sets of two
// units on one machine it must be empty.
func (p PortSet) Conflicts(q PortSet) []int {
	var shared []int
	for _, a := range p.all() {
		if slices.Contains(q.all(), a) && !slices.Contains(shared, a) {
			shared = append(shared, a)
		}
	}
	return shared
}
