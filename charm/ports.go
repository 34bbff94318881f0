package charm

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// port is one port the charm opens, as Juju lists it ("8080/tcp").
type port struct {
	number   int
	protocol string
}

func (p port) String() string { return strconv.Itoa(p.number) + "/" + p.protocol }

// parsePort reads a port back from the local state; ok is false for
// anything else.
func parsePort(s string) (port, bool) {
	n, proto, ok := strings.Cut(s, "/")
	num, err := strconv.Atoi(n)
	if !ok || err != nil || num < 1 || num > 65535 || (proto != "tcp" && proto != "udp") {
		return port{}, false
	}
	return port{num, proto}, true
}

// wantedPorts are the ports this unit serves to the outside now: web's
// while it runs web, and the TSA's while workers of other applications
// (other models too) register with it.
func (h *hook) wantedPorts() []port {
	if !h.roles.Web || h.wire.portsErr != nil {
		return nil
	}
	want := []port{{h.wire.ports.Web, "tcp"}}
	if h.wire.tsaRelations > 0 {
		want = append(want, port{h.wire.ports.TSA, "tcp"})
	}
	return want
}

// syncPorts opens the wanted ports and closes the ones the unit no longer
// serves: web's once it stops running web (leadership moved in mode
// auto, the mode changed), the TSA's once the last tsa relation is gone,
// and a port an earlier web-port opened. The local state remembers what
// the unit opened; a port it closes is closed once more in the next hook,
// because a hook that fails after saving the local state has its port
// changes dropped by Juju (closing a port that is not open is a no-op).
// At rest no port is closed, so a hook costs no extra tool call.
func (h *hook) syncPorts(ctx context.Context) error {
	want := h.wantedPorts()
	unwanted := func(list []string) []port {
		var out []port
		for _, s := range list {
			if p, ok := parsePort(s); ok && !slices.Contains(want, p) {
				out = append(out, p)
			}
		}
		return out
	}
	closing := unwanted(h.local.OpenedPorts)
	again := unwanted(h.local.ClosedPorts)
	for _, p := range append(slices.Clone(closing), again...) {
		if err := h.d.Juju.ClosePort(ctx, p.number, p.protocol); err != nil {
			return err
		}
	}
	opened := make([]string, 0, len(want))
	for _, p := range want {
		if err := h.d.Juju.OpenPort(ctx, p.number, p.protocol); err != nil {
			return err
		}
		opened = append(opened, p.String())
	}
	h.local.OpenedPorts = opened
	h.local.ClosedPorts = nil
	for _, p := range closing {
		if !slices.Contains(again, p) {
			h.local.ClosedPorts = append(h.local.ClosedPorts, p.String())
		}
	}
	return nil
}
