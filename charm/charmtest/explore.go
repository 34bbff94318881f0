package charmtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// Kind is what happens next in a schedule.
type Kind string

// What can happen: a hook runs whole, or one of the faults.
const (
	// Step runs the unit's next hook: begin, run, commit.
	Step Kind = "step"
	// CutOff runs the unit's hook and kills it before Juju commits.
	CutOff Kind = "cut-off"
	// Preempt runs the unit's hook, then Other's whole hook, then commits
	// the first: the first's effects came from a view that is now stale.
	Preempt Kind = "preempt"
	// Stale takes the unit's view, runs Other's whole hook, then runs and
	// commits the first on its old view.
	Stale Kind = "stale"
	// MoveLeader runs the leader's hook, moves leadership to Other while
	// it runs, then commits it.
	MoveLeader Kind = "move-leader"
	// Reboot reboots the unit's machine.
	Reboot Kind = "reboot"
	// Down stops the unit's agent until faults stop: it never answers.
	Down Kind = "down"
	// FailDownload makes the unit's next download fail.
	FailDownload Kind = "fail-download"
	// Wipe empties the application bag.
	Wipe Kind = "wipe"
	// Tick advances the clock by five minutes and queues update-status.
	Tick Kind = "tick"
	// Operate queues an operator's action on the leader (Other names it:
	// upgrade-abort, upgrade-retry, upgrade-rollback, or "upgrade" to the
	// next release); it runs when the scheduler picks the leader's hook.
	Operate Kind = "operate"
)

// Choice is one thing that happens next.
type Choice struct {
	Kind  Kind
	Unit  string
	Other string
}

func (c Choice) String() string {
	s := string(c.Kind)
	if c.Unit != "" {
		s += " " + c.Unit
	}
	if c.Other != "" {
		s += " " + c.Other
	}
	return s
}

// Budget bounds what a schedule may still do.
type Budget struct {
	Faults int
	Ticks  int
	// Actions is how many operator actions may still be queued.
	Actions int
	// Switches is how many more times the search may leave a unit that
	// still has a hook ready for another unit's hook (Explorer.MaxSwitches).
	Switches int
}

// spend is what is left of b once c happened; fault says c was a fault
// (what Apply reports).
func (b Budget) spend(c Choice, fault bool) Budget {
	if fault {
		b.Faults--
	}
	switch c.Kind {
	case Tick:
		b.Ticks--
	case Operate:
		b.Actions--
	}
	return b
}

// Choices lists what may happen next within budget: every ready unit's
// hook, and, while faults remain, each fault on each unit.
func (w *World) Choices(b Budget, faults []Kind) []Choice {
	ready := w.Ready()
	var out []Choice
	for _, u := range ready {
		out = append(out, Choice{Kind: Step, Unit: u})
	}
	if len(ready) == 0 && b.Ticks > 0 {
		out = append(out, Choice{Kind: Tick})
	}
	leader := w.Model.Leader(w.App)
	if b.Actions > 0 && leader != "" {
		for _, a := range w.usefulActions() {
			out = append(out, Choice{Kind: Operate, Unit: leader, Other: a})
		}
	}
	if b.Faults <= 0 {
		return out
	}
	units := w.Model.Units(w.App)
	for _, k := range faults {
		switch k {
		case CutOff:
			for _, u := range ready {
				out = append(out, Choice{Kind: k, Unit: u})
			}
		case Preempt, Stale:
			for _, u := range ready {
				for _, o := range ready {
					if o != u {
						out = append(out, Choice{Kind: k, Unit: u, Other: o})
					}
				}
			}
		case MoveLeader:
			if slices.Contains(ready, leader) {
				for _, o := range units {
					if o != leader {
						out = append(out, Choice{Kind: k, Unit: leader, Other: o})
					}
				}
			}
		case Reboot, Down:
			for _, u := range units {
				if !w.isDown(u) {
					out = append(out, Choice{Kind: k, Unit: u})
				}
			}
		case FailDownload:
			out = append(out, Choice{Kind: k})
		case Wipe:
			if rec, err := w.Record(); err == nil && rec.Revision > 0 {
				out = append(out, Choice{Kind: k})
			}
		}
	}
	return out
}

// usefulActions lists the operator actions worth trying in the committed
// phase (the others are refused, which the named tests cover).
func (w *World) usefulActions() []string {
	rec, err := w.Record()
	if err != nil {
		return nil
	}
	switch rec.Phase {
	case fsm.PhasePrepare, fsm.PhaseDownloading:
		return []string{fsm.ActionUpgradeAbort}
	case fsm.PhaseFailed:
		return []string{fsm.ActionUpgradeRetry, fsm.ActionUpgradeRollback}
	}
	if next := w.nextRelease(rec); next != "" {
		return []string{fsm.ActionUpgrade}
	}
	return nil
}

// nextRelease is a published release newer than the record's, "" if none.
func (w *World) nextRelease(rec fsm.Record) string {
	cur := rec.Version
	if rec.Phase == fsm.PhaseComplete {
		cur = rec.TargetVersion
	}
	for _, v := range w.opts.Releases {
		if parsed, err := version.Parse(v); err == nil && cur.Less(parsed) {
			return v
		}
	}
	return ""
}

// Apply makes c happen. It reports whether c was a fault.
func (w *World) Apply(ctx context.Context, c Choice) bool {
	switch c.Kind {
	case Step:
		_ = w.Step(ctx, c.Unit)
		return false
	case Tick:
		w.Model.Tick(5 * time.Minute)
		return false
	case Operate:
		params := map[string]any{}
		if c.Other == fsm.ActionUpgrade {
			rec, _ := w.Record()
			params["version"] = w.nextRelease(rec)
		}
		w.Model.RunAction(c.Unit, c.Other, params)
		return false
	case CutOff:
		h := w.Begin(c.Unit)
		w.Run(ctx, h)
		w.CutOff(h)
	case Preempt:
		h := w.Begin(c.Unit)
		w.Run(ctx, h)
		_ = w.Step(ctx, c.Other)
		_ = w.Commit(h)
	case Stale:
		h := w.Begin(c.Unit)
		_ = w.Step(ctx, c.Other)
		w.Run(ctx, h)
		_ = w.Commit(h)
	case MoveLeader:
		h := w.Begin(c.Unit)
		w.Run(ctx, h)
		w.Model.SetLeader(c.Other)
		_ = w.Commit(h)
	case Reboot:
		w.Reboot(c.Unit)
	case Down:
		w.SetDown(c.Unit, true)
	case FailDownload:
		for _, v := range w.opts.Releases {
			w.FailDownloads(v, 1)
		}
	case Wipe:
		w.Model.WipeAppBag(w.App)
	}
	return true
}

// Liveness checks that once faults stop (every agent up, no download
// failing) the cluster comes to rest: idle with every unit on one release,
// or failed with a status that names the command; every volume in use
// naming as `current` what the record puts there; and nothing broken.
func (w *World) Liveness(ctx context.Context) error {
	for _, app := range w.Apps() {
		for _, u := range w.Model.Units(app) {
			w.SetDown(u, false)
		}
	}
	w.mu.Lock()
	w.failNext = map[string]int{}
	w.mu.Unlock()
	if err := w.Converge(ctx, 8); err != nil {
		return fmt.Errorf("liveness: %w", err)
	}
	if err := w.checkCurrent(); err != nil {
		return fmt.Errorf("liveness: %w", err)
	}
	if v := w.Violations(); len(v) > 0 {
		return fmt.Errorf("invariants: %s", strings.Join(v, "; "))
	}
	return nil
}

// checkCurrent checks that each volume an application's units use names
// as `current` where the committed record puts it, by the world's own rule
// (allowedCurrent), not the charm's.
func (w *World) checkCurrent() error {
	var errs []error
	for _, app := range w.Apps() {
		rec, err := w.RecordOf(app)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want := allowedCurrent(rec)
		for _, dir := range w.volumesInUse(app) {
			cur, err := currentOf(filepath.Join(w.Dir, dir))
			switch {
			case err != nil:
				errs = append(errs, err)
			case cur != want:
				errs = append(errs, fmt.Errorf("at rest, %s names %s as current, the record of %s (revision %d, %s) %s", dir, cur, app, rec.Revision, rec.Phase, want))
			}
		}
	}
	return errors.Join(errs...)
}

// Explorer searches schedules depth-first: every order of hooks and every
// fault (within a budget), pruning states whose key it has seen with at
// least the same budget left.
type Explorer struct {
	Faults []Kind
	Budget Budget
	// MaxDepth bounds a schedule's length.
	MaxDepth int
	// MaxSwitches, above zero, bounds how often a schedule leaves a unit
	// whose next hook is ready for another unit's hook (a preemption
	// bound, as in CHESS): orders that need more switches are not
	// searched, which makes 3 units tractable. Zero: every order.
	MaxSwitches int
	// Scratch is where clones live (each removed once explored).
	Scratch string

	// Progress, when set, is told of each ProgressEvery-th state, so a
	// long search (make soak) says how far it got.
	Progress      func(e *Explorer)
	ProgressEvery int

	States  int // distinct states explored
	Leaves  int // schedules that came to rest and passed liveness
	Pruned  int
	visited map[string]Budget
}

// Failure is a schedule that broke an invariant, with its steps.
type Failure struct {
	Path  []Choice
	Err   error
	Trace []string
}

func (f *Failure) Error() string {
	steps := make([]string, len(f.Path))
	for i, c := range f.Path {
		steps[i] = c.String()
	}
	return fmt.Sprintf("%v\nschedule: %s", f.Err, strings.Join(steps, ", "))
}

// Explore searches every schedule from w; w itself is not changed.
func (e *Explorer) Explore(ctx context.Context, w *World) error {
	e.visited = map[string]Budget{}
	b := e.Budget
	b.Switches = e.MaxSwitches
	return e.explore(ctx, w, nil, b, "")
}

// explore searches from w, which path reached; last is the unit whose hook
// ran last (what a switch leaves).
func (e *Explorer) explore(ctx context.Context, w *World, path []Choice, b Budget, last string) error {
	key := w.Key()
	if e.MaxSwitches > 0 {
		key += "\x00last " + last // what a switch costs depends on it
	}
	if seen, ok := e.visited[key]; ok && seen.Faults >= b.Faults && seen.Ticks >= b.Ticks && seen.Actions >= b.Actions && seen.Switches >= b.Switches {
		e.Pruned++
		return nil
	}
	e.visited[key] = b
	e.States++
	if e.Progress != nil && e.ProgressEvery > 0 && e.States%e.ProgressEvery == 0 {
		e.Progress(e)
	}
	choices := w.Choices(b, e.Faults)
	if len(choices) == 0 || len(path) >= e.MaxDepth {
		return e.leaf(ctx, w, path)
	}
	lastReady := last != "" && slices.Contains(w.Ready(), last)
	for _, c := range choices {
		sb, nextLast := b, last
		if c.Kind == Step {
			nextLast = c.Unit
			if e.MaxSwitches > 0 && lastReady && c.Unit != last {
				if b.Switches == 0 {
					continue
				}
				sb.Switches--
			}
		}
		dir, err := os.MkdirTemp(e.Scratch, "w-")
		if err != nil {
			return err
		}
		next, err := w.Clone(dir)
		if err != nil {
			return err
		}
		nb := sb.spend(c, next.Apply(ctx, c))
		p := append(slices.Clone(path), c)
		if v := next.Violations(); len(v) > 0 {
			return &Failure{Path: p, Err: fmt.Errorf("invariants: %s", strings.Join(v, "; ")), Trace: next.Model.Trace()}
		}
		if err := e.explore(ctx, next, p, nb, nextLast); err != nil {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// leaf checks liveness from a schedule's end, on a clone.
func (e *Explorer) leaf(ctx context.Context, w *World, path []Choice) error {
	dir, err := os.MkdirTemp(e.Scratch, "leaf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	end, err := w.Clone(dir)
	if err != nil {
		return err
	}
	if err := end.Liveness(ctx); err != nil {
		return &Failure{Path: path, Err: err, Trace: end.Model.Trace()}
	}
	e.Leaves++
	return nil
}

// RandomSchedule runs one schedule chosen by seed: at each step a ready
// unit's hook, or, with probability faultRate (within the budget), a fault;
// then faults stop and liveness is checked. It returns the schedule run.
func RandomSchedule(ctx context.Context, w *World, seed uint64, faultRate float64, b Budget, faults []Kind, maxSteps int) ([]Choice, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var path []Choice
	for i := 0; i < maxSteps; i++ {
		choices := w.Choices(b, faults)
		if len(choices) == 0 {
			break
		}
		var steps, faultChoices, actions []Choice
		for _, c := range choices {
			switch c.Kind {
			case Step, Tick:
				steps = append(steps, c)
			case Operate:
				actions = append(actions, c)
			default:
				faultChoices = append(faultChoices, c)
			}
		}
		pick := choices[rng.IntN(len(choices))]
		switch r := rng.Float64(); {
		case len(faultChoices) > 0 && r < faultRate:
			pick = faultChoices[rng.IntN(len(faultChoices))]
		case len(actions) > 0 && r < faultRate+0.03:
			pick = actions[rng.IntN(len(actions))]
		case len(steps) > 0:
			pick = steps[rng.IntN(len(steps))]
		}
		path = append(path, pick)
		b = b.spend(pick, w.Apply(ctx, pick))
		if v := w.Violations(); len(v) > 0 {
			return path, &Failure{Path: path, Err: fmt.Errorf("invariants: %s", strings.Join(v, "; ")), Trace: w.Model.Trace()}
		}
	}
	if err := w.Liveness(ctx); err != nil {
		return path, &Failure{Path: path, Err: err, Trace: w.Model.Trace()}
	}
	return path, nil
}
