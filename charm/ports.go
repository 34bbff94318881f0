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
// and a port an earlier web-port opened. Juju treats closing a port that
// is not open as a no-op, so this unit's web and TSA ports are closed
// whenever they are not wanted, whether or not the local state remembers
// opening them (a hook that failed after saving it, a lost state file).
func (h *hook) syncPorts(ctx context.Context) error {
	want := h.wantedPorts()
	wanted := func(p port) bool { return slices.Contains(want, p) }
	var closing []port
	for _, s := range h.local.OpenedPorts {
		if p, ok := parsePort(s); ok && !wanted(p) {
			closing = append(closing, p)
		}
	}
	if h.wire.portsErr == nil {
		for _, p := range []port{{h.wire.ports.Web, "tcp"}, {h.wire.ports.TSA, "tcp"}} {
			if !wanted(p) && !slices.Contains(closing, p) {
				closing = append(closing, p)
			}
		}
	}
	for _, p := range closing {
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
	return nil
}
