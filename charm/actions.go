package charm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// runAction runs the operator's action, after the hook's reconcile so it
// sees and moves on from fresh state. A refused action is action-fail with
// what to do instead; the hook itself succeeds.
func (h *hook) runAction(ctx context.Context) error {
	params, err := h.d.Juju.ActionGet(ctx)
	if err != nil {
		return err
	}
	var results map[string]string
	switch h.hc.Action {
	case fsm.ActionUpgrade:
		results, err = h.actionUpgrade(ctx, params)
	case fsm.ActionUpgradeStatus:
		results, err = h.actionUpgradeStatus()
	case fsm.ActionUpgradeAbort:
		results, err = h.leaderAction(func(rec fsm.Record) (fsm.Record, error) {
			reason, _ := params["reason"].(string)
			return fsm.Abort(rec, h.self, reason)
		})
	case fsm.ActionUpgradeRetry:
		results, err = h.leaderAction(func(rec fsm.Record) (fsm.Record, error) {
			if rec.Phase == fsm.PhaseFailed {
				if err := h.stageForAction(ctx, rec.TargetVersion); err != nil {
					return rec, err
				}
			}
			return fsm.Retry(rec, fsm.RetryRequest{By: h.self, Now: h.d.Clock(), PrepareTimeout: h.cfg.PrepareTimeout})
		})
	case fsm.ActionUpgradeRollback:
		results, err = h.leaderAction(func(rec fsm.Record) (fsm.Record, error) { return fsm.Rollback(rec, h.self) })
	case fsm.ActionGetAdminPassword:
		results, err = h.actionGetAdminPassword(ctx)
	default:
		err = fmt.Errorf("unknown action %q; this charm has: %s", h.hc.Action, strings.Join(fsm.Actions(), ", "))
	}
	if err != nil {
		return h.d.Juju.ActionFail(ctx, h.adviceLine(err))
	}
	return h.d.Juju.ActionSet(ctx, results)
}

// NotLeaderError refuses a leader-only action on another unit.
type NotLeaderError struct{ Action string }

func (e *NotLeaderError) Error() string {
	return "action " + e.Action + " changes the upgrade record, which only the leader writes"
}

// NotReadyError refuses an action the unit cannot take yet.
type NotReadyError struct{ Reason string }

func (e *NotReadyError) Error() string { return e.Reason }

// checkLeaderAction says why the leader cannot change the record now.
func (h *hook) checkLeaderAction() error {
	switch {
	case h.cfgErr != nil:
		return h.cfgErr
	case !h.leader:
		return &NotLeaderError{Action: h.hc.Action}
	case h.volErr != nil:
		return h.volErr
	case h.peers == nil:
		return &NotReadyError{Reason: "the peer relation is not there yet: wait for the deploy hooks to finish"}
	case h.peers.RecordErr != nil:
		return h.peers.RecordErr
	}
	return nil
}

// leaderAction applies an operator's change to the record the hook will
// write. Asking for what is already so is success, not failure.
func (h *hook) leaderAction(change func(fsm.Record) (fsm.Record, error)) (map[string]string, error) {
	if err := h.checkLeaderAction(); err != nil {
		return nil, err
	}
	next, err := change(h.next)
	var already *fsm.AlreadyError
	switch {
	case errors.As(err, &already):
		return map[string]string{"message": already.Error(), "phase": h.next.Phase.String()}, nil
	case err != nil:
		return nil, err
	}
	h.next = next
	return map[string]string{
		"message":    fmt.Sprintf("recorded: %s (generation %d); the units act on it once Juju commits it", describePhase(next), next.Generation),
		"phase":      next.Phase.String(),
		"generation": strconv.FormatUint(next.Generation, 10),
	}, nil
}

// actionUpgrade is `juju run APP/leader upgrade version=V`. The target is
// downloaded and verified before anything is recorded: a release that
// cannot be had stops no worker.
func (h *hook) actionUpgrade(ctx context.Context, params map[string]any) (map[string]string, error) {
	raw, _ := params["version"].(string)
	target, err := version.Parse(raw)
	if err != nil {
		return nil, &ParamError{Param: "version", Value: raw, Err: err}
	}
	return h.leaderAction(func(rec fsm.Record) (fsm.Record, error) {
		req := h.initiateRequest(target)
		if _, err := fsm.Initiate(rec, req); err != nil {
			return rec, err // refused before downloading anything
		}
		if err := h.stageForAction(ctx, target); err != nil {
			return rec, err
		}
		next, err := fsm.Initiate(rec, req)
		if err == nil {
			h.nextApp.ConfigVersion = h.cfg.Version.String()
		}
		return next, err
	})
}

// ParamError refuses an action parameter.
type ParamError struct {
	Param string
	Value string
	Err   error
}

func (e *ParamError) Error() string { return fmt.Sprintf("%s=%q: %v", e.Param, e.Value, e.Err) }
func (e *ParamError) Unwrap() error { return e.Err }

// stageForAction gets v ready on the leader's volume for an action.
func (h *hook) stageForAction(ctx context.Context, v version.Version) error {
	if err := h.ensureStaged(ctx, v, h.next); err != nil {
		return &StageError{Version: v, Err: err}
	}
	return nil
}

// StageError says a release could not be made ready; nothing was recorded.
type StageError struct {
	Version version.Version
	Err     error
}

func (e *StageError) Error() string {
	return fmt.Sprintf("cannot get Concourse %s ready, so nothing was started: %v", e.Version, e.Err)
}
func (e *StageError) Unwrap() error { return e.Err }

// actionUpgradeStatus reports the committed record, the leader's decision
// and every unit's ack. Any unit may run it; every hook reconciles first,
// so it also moves a lone unit's upgrade on without waiting for
// update-status.
func (h *hook) actionUpgradeStatus() (map[string]string, error) {
	if h.peers == nil {
		return nil, &NotReadyError{Reason: "the peer relation is not there yet: wait for the deploy hooks to finish"}
	}
	if h.peers.RecordErr != nil {
		return nil, h.peers.RecordErr
	}
	rec := h.peers.Record
	r := map[string]string{
		"phase":           rec.Phase.String(),
		"generation":      strconv.FormatUint(rec.Generation, 10),
		"revision":        strconv.FormatUint(rec.Revision, 10),
		"version":         rec.Version.String(),
		"target":          rec.TargetVersion.String(),
		"previous":        rec.PreviousVersion.String(),
		"initiated-by":    rec.InitiatedBy,
		"prepare-timeout": rec.PrepareTimeout.String(),
		"members":         strings.Join(rec.Members, ","),
		"outcome":         string(rec.Outcome),
		"last-error":      rec.LastError,
		"message":         h.upgradeLine(rec, h.acks()),
	}
	if !rec.InitiatedAt.IsZero() {
		r["initiated-at"] = rec.InitiatedAt.Format("2006-01-02T15:04:05Z07:00")
	}
	if h.leader && rec.Phase == fsm.PhasePrepare {
		r["aborts-at"] = h.local.PhaseSeen.At.Add(rec.PrepareTimeout).Format("2006-01-02T15:04:05Z07:00") + " (leader's clock)"
	}
	if h.leader && (h.next.Revision != rec.Revision) {
		r["decided"] = describePhase(h.next) + " (written by this hook)"
	}
	acks := h.acks()
	for unit, a := range acks {
		n, err := unitname.Parse(unit)
		if err != nil {
			continue
		}
		key := "units." + n.Slug()
		r[key+".generation"] = strconv.FormatUint(a.Generation, 10)
		r[key+".seen-revision"] = strconv.FormatUint(a.Seen, 10)
		r[key+".worker-stopped"] = strconv.FormatBool(a.WorkerStopped)
		r[key+".staged"] = strconv.FormatBool(a.Staged)
		r[key+".running"] = a.Running.String()
		r[key+".error"] = a.Error
	}
	for k, v := range r {
		if v == "" {
			delete(r, k)
		}
	}
	return r, nil
}

// actionGetAdminPassword shows the initial admin's password to the
// operator. Only units with the web role know it.
func (h *hook) actionGetAdminPassword(ctx context.Context) (map[string]string, error) {
	if h.vol == nil {
		return nil, h.volErr
	}
	if !h.roles.Web {
		return nil, &NotReadyError{Reason: fmt.Sprintf("%s does not run web: run the action on a web unit (in mode auto, the leader: juju run %s/leader get-admin-password)", h.self, h.app)}
	}
	password, err := readAdminPassword(h.vol)
	if err != nil {
		return nil, err
	}
	return map[string]string{"username": h.cfg.InitialAdminUsername, "password": password}, nil
}

// adminPasswordFile holds the initial admin's password in the keys
// directory (0600).
const adminPasswordFile = "admin-password"

// readAdminPassword reads the initial admin's password from the keys
// directory; web writes it before it first starts.
func readAdminPassword(vol Volume) (string, error) {
	data, err := os.ReadFile(filepath.Join(vol.KeysDir(), adminPasswordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", &NotReadyError{Reason: "web has not started yet, so no admin password exists: wait for juju status to show web running"}
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}
