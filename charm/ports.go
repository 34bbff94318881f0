package charm

import (
	"context"
	"slices"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// wantedPorts are the ports this unit serves to the outside now: web's
// while it runs web, and the TSA's while workers of other applications
// (other models too) register with it.
func (h *hook) wantedPorts() []relation.Port {
	if !h.roles.Web {
		return nil
	}
	want := []relation.Port{relation.TCP(h.wire.ports.Web)}
	if h.wire.tsaRelations > 0 {
		want = append(want, relation.TCP(h.wire.ports.TSA))
	}
	return want
}

// syncPorts makes the unit's ports the ones it serves, starting from what
// Juju has committed (opened-ports): it closes every open port it no
// longer serves (web's once it stops running web, the TSA's once the last
// tsa relation is gone, the port of an earlier web-port) and opens the
// wanted ones that are not open. Juju applies a hook's open-port and
// close-port only when the hook succeeds, so what a failed hook asked for
// is asked again by the next one; at rest no port changes. A range or
// icmp (which this charm never opens, so an operator's) is left alone:
// close-port of one port cannot close it.
func (h *hook) syncPorts(ctx context.Context) error {
	if h.wire.portsErr != nil && h.roles.Web {
		// web-port does not fit this unit: a running web keeps its port
		// (roleHeld), and so does Juju. A unit without web closes its
		// ports as usual (wantedPorts needs no port numbers then).
		return nil
	}
	want := h.wantedPorts()
	open, err := h.d.Juju.OpenedPorts(ctx)
	if err != nil {
		return err
	}
	for _, p := range open {
		if p.Single() && !slices.Contains(want, p) {
			if err := h.d.Juju.ClosePort(ctx, p.From, p.Protocol); err != nil {
				return err
			}
		}
	}
	for _, p := range want {
		if !slices.Contains(open, p) {
			if err := h.d.Juju.OpenPort(ctx, p.From, p.Protocol); err != nil {
				return err
			}
		}
	}
	return nil
}
