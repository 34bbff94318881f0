package charm

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// decide is the leader's part of a hook: from the committed record and the
// members' acks it decides the record to write. It never acts on that
// record: a later hook does, once Juju has committed it.
func (h *hook) decide(ctx context.Context) {
	p := h.peers
	rec := p.Record
	h.decided = true
	h.next, h.nextApp = rec, p.App
	h.nextApp.VolumeToken = h.token(ctx)
	if h.roles.Web {
		h.nextApp.WebAddress = h.wire.address
	}
	h.nextApp.TSA = h.tsaOffer()
	acks := h.acks()

	cur, fenced, err := h.vol.Current()
	if err != nil {
		h.problems = append(h.problems, err)
	}
	peers := h.activePeers()
	if rebuilt, ok := fsm.Recover(rec, fsm.Evidence{
		Acks: acks, Members: fsm.LeaderView{Self: h.self, Peers: peers}.Members(), FenceRevision: fenced, FenceVersion: cur,
		WrittenGeneration: h.local.WrittenGeneration, WrittenRevision: h.local.WrittenRevision,
	}); ok {
		h.next = rebuilt
		// The bag that said which `version` config was acted on is gone
		// too; the operator did not change it, so it is not a new request.
		h.nextApp.ConfigVersion = h.cfg.Version.String()
		h.notes = append(h.notes, rebuilt.LastError)
		return
	}
	if h.next.Phase == fsm.PhaseIdle && h.next.Version.IsZero() {
		h.settleFirstRelease()
	} else if h.cfg.Version.String() != h.nextApp.ConfigVersion {
		h.followConfigVersion(ctx)
	}
	since := h.local.phaseSince(rec, h.d.Clock())
	if h.next.Generation != rec.Generation || h.next.Phase != rec.Phase {
		since = h.d.Clock()
	}
	d, err := fsm.LeaderStep(h.next, fsm.LeaderView{
		Self: h.self, Peers: peers, Acks: acks, Now: h.d.Clock(), PhaseSince: since,
	})
	if err != nil {
		h.problems = append(h.problems, err)
		return
	}
	h.next = d.Record
}

// activePeers are the other units that count, sorted: relation-list,
// without a unit that is departing in this very hook.
func (h *hook) activePeers() []string {
	if h.peers == nil {
		return nil
	}
	var peers []string
	for _, u := range h.peers.Others {
		if u != h.hc.DepartingUnit {
			peers = append(peers, u)
		}
	}
	slices.Sort(peers)
	return peers
}

// settleFirstRelease records the configured release once the leader has it
// on its volume (the unit part of this hook downloaded it): from then on
// members run it.
func (h *hook) settleFirstRelease() {
	if !h.vol.Staged(h.cfg.Version) {
		return
	}
	if next, ok := fsm.Settle(h.next, h.cfg.Version); ok {
		h.next = next
		h.nextApp.ConfigVersion = h.cfg.Version.String()
	}
}

// followConfigVersion starts the upgrade machine when the `version` config
// changed since the leader last acted on it. An abort or rollback is
// therefore not undone by the next config-changed: only a new value acts.
func (h *hook) followConfigVersion(ctx context.Context) {
	target := h.cfg.Version
	if target == h.next.Version && h.next.Phase == fsm.PhaseIdle {
		h.nextApp.ConfigVersion = target.String()
		return
	}
	next, err := fsm.Initiate(h.next, h.initiateRequest(target))
	if err == nil && !h.stage(ctx, target, h.next) {
		return // the status says why; the next hook tries again
	}
	var (
		already *fsm.AlreadyError
		same    *fsm.SameVersionError
		invalid *fsm.InvalidEventError
	)
	switch {
	case err == nil:
		h.next = next
	case errors.As(err, &invalid):
		// Another upgrade is under way or failed: the configured version
		// waits for it to end.
		h.notes = append(h.notes, fmt.Sprintf("config version=%s waits for the upgrade to %s to end", target, h.next.TargetVersion))
		return
	case errors.As(err, &already), errors.As(err, &same):
	default:
		h.problems = append(h.problems, fmt.Errorf("config version=%s: %w", target, err))
	}
	h.nextApp.ConfigVersion = target.String()
}

func (h *hook) initiateRequest(target version.Version) fsm.InitiateRequest {
	return fsm.InitiateRequest{Target: target, By: h.self, Now: h.d.Clock(), PrepareTimeout: h.cfg.PrepareTimeout}
}

// writeDecision writes what the leader decided (and what an action
// changed), only what differs from the committed bag.
func (h *hook) writeDecision(ctx context.Context) error {
	if !h.decided {
		return nil
	}
	h.local.WrittenGeneration = max(h.local.WrittenGeneration, h.next.Generation)
	h.local.WrittenRevision = max(h.local.WrittenRevision, h.next.Revision)
	if err := h.peers.WriteApp(ctx, h.d.Juju, h.next, h.nextApp); err != nil {
		return err
	}
	if h.peers.Own.AckErr != nil || h.next.Revision == h.peers.Record.Revision {
		return nil
	}
	// Echo the record in this unit's own bag, committed with it: a wiped
	// application bag leaves unit bags, so a later leader rebuilds above it.
	h.ack.WroteGeneration = max(h.ack.WroteGeneration, h.next.Generation)
	h.ack.WroteRevision = max(h.ack.WroteRevision, h.next.Revision)
	return h.peers.WriteOwn(ctx, h.d.Juju, h.ack, h.facts(ctx))
}
