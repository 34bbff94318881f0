// Package charm is the charm itself: one entry point (Run) for every hook
// and action, which reconciles the unit with the committed peer relation
// data (the upgrade record of fsm), carries out the effects on the volume
// (storage, installer) and systemd (services), reports in its own bag and,
// on the leader, decides the next record. Operator-facing status lines and
// advice live here and only here (status.go, advice.go).
package charm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// StorageName is the charm's storage (metadata.yaml).
const StorageName = "concourse-data"

// ReleaseResource is the charm's optional resource: a release tarball for
// machines that cannot reach release-url (air-gapped).
const ReleaseResource = "concourse-release"

// hook is one dispatch: what it read at its start and what it did.
type hook struct {
	hc     relation.Context
	d      Deps
	self   string
	app    string
	leader bool
	cfg    Config
	cfgErr error
	roles  Roles
	vol    Volume
	volErr error
	apart  bool // this unit's volume is not the leader's (tokens differ)
	peers  *relation.Peers
	local  *localState

	// What acting produced, for the ack and the status.
	problems []error // failures worth an error in the ack and a status line
	// installErr: getting the configured release ready before any record
	// names one failed. No record asks for it yet, so it is no ack's
	// error, but the status must say what to fix.
	installErr error
	// resourcePath is the attached release tarball, "" when none is; read
	// once per hook, when something must be staged.
	resourcePath *string
	// volumeToken is the volume's sharing token, read once per hook: a
	// volume without one makes the first reader wait for the lock.
	volumeToken *string
	waiting     []string // conditions that resolve by themselves
	notes       []string // what the status may add
	progress    string   // the latest install progress line
	held        []error  // why a role does not run, when not a failure (no database, no TSA)
	wire        wiring
	ack         fsm.Ack
	// decided: this unit, as leader, decided next and nextApp (decide),
	// for writeDecision to write them.
	decided bool
	next    fsm.Record
	nextApp relation.AppData
}

// Run is the charm's dispatch: Juju runs it for every hook and action.
// It returns an error only when Juju must retry the hook (its relation
// writes are then dropped); what an operator must fix is reported in the
// status and the hook succeeds.
func Run(ctx context.Context, hc relation.Context, d Deps) error {
	h := &hook{hc: hc, d: d, self: hc.Unit.String(), app: hc.Unit.App}
	local, err := loadLocalState(d.StateDir)
	if err != nil {
		return fmt.Errorf("read the charm's state in %s: %w", d.StateDir, err)
	}
	h.local = local
	if h.leader, err = d.Juju.IsLeader(ctx); err != nil {
		return err
	}
	raw, err := d.Juju.ConfigGet(ctx)
	if err != nil {
		return err
	}
	h.cfg, h.cfgErr = ParseConfig(raw)
	h.roles = RolesFor(h.cfg.Mode, h.leader)

	switch {
	case hc.Kind == relation.KindHook && isLeaving(hc):
		err = h.leave(ctx)
	case hc.Kind == relation.KindHook && !knownHook(hc.Hook):
		return d.Juju.Log(ctx, relation.LogInfo, "hook "+hc.Hook+" is not one this charm handles; nothing to do")
	default:
		h.noteDeparture()
		err = h.reconcile(ctx)
		if err == nil && hc.Kind == relation.KindAction {
			err = h.runAction(ctx)
		}
		if err == nil {
			err = h.writeDecision(ctx)
		}
		if err == nil {
			h.pruneWorkers(ctx)
		}
	}
	if err != nil {
		return err
	}
	if err := h.local.save(d.StateDir); err != nil {
		return err
	}
	return h.setStatus(ctx)
}

// knownHook lists the hooks the charm handles; any other is logged.
func knownHook(name string) bool {
	switch name {
	case "install", "start", "stop", "remove", "config-changed", "upgrade-charm", "update-status",
		"leader-elected", "leader-settings-changed",
		// A provider's new secret revision (a rotated password): the
		// reconcile reads it (secret-get --refresh) like any other input.
		"secret-changed",
		StorageName + "-storage-attached", StorageName + "-storage-detaching":
		return true
	}
	for _, endpoint := range []string{relation.PeerRelation, relation.PostgresEndpoint, relation.TSAEndpoint, relation.WebTSAEndpoint} {
		if strings.HasPrefix(name, endpoint+"-relation-") {
			return true
		}
	}
	return false
}

// isLeaving says the hook is about this unit going away: its services stop
// for good.
func isLeaving(hc relation.Context) bool {
	switch hc.Hook {
	case "stop", "remove", StorageName + "-storage-detaching", relation.PeerRelation + "-relation-broken":
		return true
	}
	return hc.Hook == relation.PeerRelation+"-relation-departed" && hc.DepartingUnit == hc.Unit.String()
}

// reconcile is every hook's work: open the volume, read the committed peer
// data, act on the record for this unit, report, and on the leader decide
// the next record.
func (h *hook) reconcile(ctx context.Context) error {
	if h.cfgErr != nil {
		return nil // nothing acts on a refused configuration; the status says why
	}
	h.openVolume(ctx)
	var err error
	h.peers, err = relation.ReadPeers(ctx, h.d.Juju, h.hc)
	switch {
	case errors.Is(err, relation.ErrNoPeerRelation):
		h.peers = nil
	case err != nil:
		return err
	}
	if h.vol == nil {
		return nil
	}
	if err := h.readWiring(ctx); err != nil {
		return err
	}
	if h.peers == nil {
		// Before the peer relation exists nothing may run: get the
		// configured release ready, so the unit is quick once it may.
		h.firstInstall(ctx)
		return nil
	}
	if leaderToken := h.peers.App.VolumeToken; leaderToken != "" {
		own := h.token(ctx)
		h.apart = own != "" && own != leaderToken
	}
	if err := h.actOnRecord(ctx); err != nil {
		return err
	}
	if h.peers.Own.AckErr == nil { // a bag this charm cannot read is never overwritten
		if err := h.peers.WriteOwn(ctx, h.d.Juju, h.ack, h.facts(ctx)); err != nil {
			return err
		}
	}
	if err := h.publishWiring(ctx); err != nil {
		return err
	}
	if h.leader && h.peers.RecordErr == nil {
		h.decide(ctx)
	}
	return nil
}

// openVolume finds the unit's storage and opens its volume; the unit's own
// subdirectory of it when sharing is off.
func (h *hook) openVolume(ctx context.Context) {
	root := h.hc.StorageLocation
	if root == "" {
		ids, err := h.d.Juju.StorageList(ctx, StorageName)
		switch {
		case err != nil:
			h.volErr = err
			return
		case len(ids) == 0:
			h.volErr = &NoStorageError{}
			return
		}
		if root, err = h.d.Juju.StorageGet(ctx, ids[0], "location"); err != nil {
			h.volErr = err
			return
		}
	}
	if h.cfg.SharedStorage == SharedNone {
		root = strings.TrimRight(root, "/") + "/unit-" + h.hc.Unit.Slug()
	}
	h.vol, h.volErr = h.d.OpenVolume(root)
}

// NoStorageError says the unit has no concourse-data storage attached.
type NoStorageError struct{}

func (e *NoStorageError) Error() string { return "no " + StorageName + " storage is attached" }

func (h *hook) token(ctx context.Context) string {
	if h.volumeToken != nil {
		return *h.volumeToken
	}
	token, err := h.vol.Token(ctx, h.self)
	if err != nil {
		h.problems = append(h.problems, fmt.Errorf("read the volume token: %w", err))
	}
	h.volumeToken = &token
	return token
}

// acks are every member's ack as this hook knows them: the others' as
// Juju committed them, and this unit's own as this hook leaves it
// (relation-get of its own bag reads what the last hook committed).
func (h *hook) acks() map[string]fsm.Ack {
	acks := h.peers.Acks()
	acks[h.self] = h.ack
	return acks
}

func (h *hook) facts(ctx context.Context) relation.Facts {
	f := relation.Facts{VolumeToken: h.token(ctx), Address: h.wire.address}
	h.wiringFacts(&f)
	return f
}

// firstProblem is the error the ack reports.
func (h *hook) firstProblem() error {
	if len(h.problems) == 0 {
		return nil
	}
	return h.problems[0]
}
