package charm

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// actOnRecord carries out what the committed record asks of this unit
// (fsm.Wanted) and computes its ack from what it then observes. A record
// that does not decode, or that is older than one this unit has acted on
// (a wiped application bag), is not acted on: services stay as they are.
func (h *hook) actOnRecord(ctx context.Context) error {
	rec, own := h.peers.Record, h.peers.Own
	if h.peers.RecordErr != nil || own.AckErr != nil {
		h.ack = own.Ack
		return nil
	}
	if fsm.Stale(rec, own.Ack) {
		h.ack = own.Ack
		h.waiting = append(h.waiting, fmt.Sprintf("the upgrade record went back to revision %d after %d; waiting for the leader to rebuild it", rec.Revision, own.Ack.Seen))
		return nil
	}
	want := fsm.Wanted(rec, h.self)
	if want.Stage.IsZero() {
		// Nothing is settled yet: get the configured release ready.
		h.firstInstall(ctx)
	}
	staged := h.stage(ctx, want.Stage, rec)
	if h.isSwitcher() && staged {
		h.switchCurrent(ctx, want.Current, rec.Revision)
	}
	if !want.PreStage.IsZero() && h.apart && h.roles.Worker {
		// Download ahead while the worker still runs (its own volume);
		// a failure here is retried in DOWNLOADING, where it counts.
		h.prestage(ctx, want.PreStage)
	}
	if err := h.runServices(ctx, want, staged); err != nil {
		return err
	}
	h.ack = fsm.AckFor(rec, h.observe(ctx, rec))
	h.ack.WroteGeneration, h.ack.WroteRevision = own.Ack.WroteGeneration, own.Ack.WroteRevision
	return nil
}

// isSwitcher says this unit points its volume's `current`: the leader for
// the shared volume, and a unit for a volume it has shown it does not
// share (a token that differs from the leader's). A unit that does not
// know yet leaves `current` alone.
func (h *hook) isSwitcher() bool { return h.leader || h.apart }

// ensureStaged makes v present and verified on the volume, protecting
// rec's releases from pruning; nil when v is ready.
func (h *hook) ensureStaged(ctx context.Context, v version.Version, rec fsm.Record) error {
	if h.vol.Staged(v) {
		return nil
	}
	return h.vol.Stage(ctx, h.stageRequest(ctx, v, rec))
}

// stage makes v ready for the record. It reports whether v is ready; a
// failure is a problem for the ack, a busy lock only a wait.
func (h *hook) stage(ctx context.Context, v version.Version, rec fsm.Record) bool {
	if v.IsZero() {
		return false
	}
	err := h.ensureStaged(ctx, v, rec)
	if err != nil && !h.waitFor(err) {
		h.problems = append(h.problems, fmt.Errorf("get Concourse %s ready: %w", v, err))
	}
	return err == nil
}

// prestage downloads v ahead of need; failing is only noted.
func (h *hook) prestage(ctx context.Context, v version.Version) {
	if v.IsZero() {
		return
	}
	if err := h.ensureStaged(ctx, v, fsm.Record{}); err != nil {
		h.notes = append(h.notes, fmt.Sprintf("could not download %s ahead: %s", v, describe(err)))
	}
}

// firstInstall gets the configured release ready before any record names
// one. A failure is for the status (installErr), a busy lock a wait.
func (h *hook) firstInstall(ctx context.Context) {
	v := h.cfg.Version
	if v.IsZero() {
		return
	}
	if err := h.ensureStaged(ctx, v, fsm.Record{}); err != nil && !h.waitFor(err) {
		h.installErr = fmt.Errorf("get Concourse %s ready: %w", v, err)
	}
}

// waitFor notes err as a wait when it resolves by itself (another unit
// holds the volume lock) and says whether it did.
func (h *hook) waitFor(err error) bool {
	if !isStillWaiting(err) {
		return false
	}
	h.waiting = append(h.waiting, describe(err))
	return true
}

func (h *hook) stageRequest(ctx context.Context, v version.Version, rec fsm.Record) StageRequest {
	req := StageRequest{
		Unit:     h.self,
		Version:  v,
		URL:      releaseURL(h.cfg.ReleaseURL, v),
		Resource: h.releaseResource(ctx),
		SHA256:   h.cfg.ReleaseSHA256,
		Space:    h.cfg.ReleaseSpace,
		Keep:     h.cfg.KeepReleases,
		Proxy:    h.proxy(),
		Status:   func(line string) { h.progress = line },
	}
	for _, p := range []version.Version{rec.Version, rec.TargetVersion, rec.PreviousVersion, v} {
		if !p.IsZero() {
			req.Protect = append(req.Protect, p)
		}
	}
	return req
}

// releaseResource is the path of the attached release tarball, or "" when
// none is attached: resource-get fails, or answers an empty file (the
// placeholder an operator uploads to detach one). The tarball must be the
// release being staged: its `concourse --version` is checked, and its
// bytes against release-sha256 or a .sha1 beside it.
func (h *hook) releaseResource(ctx context.Context) string {
	if h.resourcePath != nil {
		return *h.resourcePath
	}
	path, err := h.d.Juju.ResourceGet(ctx, ReleaseResource)
	if err != nil {
		path = ""
	} else if fi, statErr := os.Stat(path); statErr != nil || fi.Size() == 0 {
		path = ""
	}
	h.resourcePath = &path
	return path
}

func (h *hook) switchCurrent(ctx context.Context, v version.Version, revision uint64) {
	if v.IsZero() {
		return
	}
	if err := h.vol.SwitchCurrent(ctx, h.self, v, revision); err != nil {
		var stale *storage.StaleSwitchError
		if errors.As(err, &stale) {
			// A newer record already moved `current`: ours is out of date
			// and the next hook reads the newer one.
			h.waiting = append(h.waiting, describe(err))
			return
		}
		h.problems = append(h.problems, fmt.Errorf("point current at %s: %w", v, err))
	}
}

// observe reads what the unit runs now.
func (h *hook) observe(ctx context.Context, rec fsm.Record) fsm.Observed {
	var obs fsm.Observed
	var versions []version.Version
	all := true
	for _, role := range []Role{RoleWeb, RoleWorker} {
		if !h.hasRole(role) {
			continue
		}
		name := unitName(role, h.hc.Unit)
		st, err := h.d.Services.State(ctx, name)
		if err != nil {
			h.problems = append(h.problems, fmt.Errorf("read the state of %s: %w", name, err))
			all = false
			continue
		}
		if !st.Active {
			all = false
			continue
		}
		v := h.local.Installed[name]
		versions = append(versions, v)
		if role == RoleWorker {
			obs.Worker = v
		}
	}
	if all && len(versions) > 0 {
		obs.Running = versions[0]
		for _, v := range versions[1:] {
			if v != obs.Running {
				obs.Running = version.Version{}
			}
		}
	}
	if t := rec.TargetVersion; !t.IsZero() && h.vol.Staged(t) {
		obs.TargetReady = true
		if h.isSwitcher() {
			cur, _, err := h.vol.Current()
			obs.TargetReady = err == nil && cur == t
		}
	}
	obs.Err = h.firstProblem()
	return obs
}

func (h *hook) hasRole(r Role) bool {
	if r == RoleWeb {
		return h.roles.Web
	}
	return h.roles.Worker
}

// isStillWaiting tells a condition that resolves by itself (another unit
// holds the volume lock) from a failure.
func isStillWaiting(err error) bool {
	return unwrapAs[*StillWaitingError](err) != nil
}
