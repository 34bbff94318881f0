package charm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// Ghost workers. A worker whose unit went away without the ATC hearing it
// leave (its retire cut short, web unreachable while it drained) stays
// registered for good, stalled. A unit running web prunes such a worker
// through Concourse's API, as `fly prune-worker` does, once the ATC shows
// it stalled, or landed: a landed worker of a unit that left never comes
// back, and Concourse prunes any worker that is not running. The workers
// still to prune are kept in the unit's local state and retried on later
// hooks (update-status at least) until pruned, gone, or given up.

const (
	// pruneBudget bounds what one hook spends on Concourse's API: pruning
	// is best effort and never holds a hook up for long.
	pruneBudget = 5 * time.Second
	// apiRequestTimeout bounds one request of the default client.
	apiRequestTimeout = 3 * time.Second
	// pruneGrace is how long, beyond the drain timeout, a worker that has
	// not stalled is waited for: its unit drains it for up to the drain
	// timeout, and the ATC marks it stalled about a minute after its
	// last heartbeat. One that still runs after that is not a ghost of
	// this unit's making (its machine still runs it).
	pruneGrace = time.Hour
)

// pendingPrune is a worker this unit means to prune.
type pendingPrune struct {
	Worker string `json:"worker"`
	Unit   string `json:"unit"` // whose worker it is
	// State is what the ATC last said of it ("" before it answered).
	State string `json:"state,omitempty"`
	// At is when it was queued, on this unit's clock.
	At time.Time `json:"at"`
}

// queuePrune remembers that unit's worker is to be pruned once stalled.
func (h *hook) queuePrune(unit unitname.Name) {
	name := concourse.WorkerName(h.hc.Model, unit)
	if slices.ContainsFunc(h.local.Prune, func(p pendingPrune) bool { return p.Worker == name }) {
		return
	}
	h.local.Prune = append(h.local.Prune, pendingPrune{Worker: name, Unit: unit.String(), At: h.d.Clock().UTC()})
}

// forgetPrune drops unit's worker from the workers to prune: it runs
// again (its registration is live).
func (h *hook) forgetPrune(unit unitname.Name) {
	name := concourse.WorkerName(h.hc.Model, unit)
	h.local.Prune = slices.DeleteFunc(h.local.Prune, func(p pendingPrune) bool { return p.Worker == name })
}

// noteDeparture queues the worker of a unit that leaves: a peer (its
// worker registered with this application's web) or a unit of a
// workers-only application related over tsa. Every unit notes it, so
// that whichever runs web when the ghost shows prunes it. A tsa unit of
// another model has another worker name: the ATC does not know the one
// queued here, which ends it.
func (h *hook) noteDeparture() {
	hc := h.hc
	if hc.Kind != relation.KindHook || hc.DepartingUnit == "" || hc.DepartingUnit == h.self {
		return
	}
	if hc.Hook != relation.PeerRelation+"-relation-departed" && hc.Hook != relation.TSAEndpoint+"-relation-departed" {
		return
	}
	if u, err := unitname.Parse(hc.DepartingUnit); err == nil {
		h.queuePrune(u)
	}
}

// pruneWorkers gives up on the workers waited for too long, and, on a unit
// whose web runs, prunes what it can of the others within pruneBudget. It
// never fails the hook: the status says what is pending.
func (h *hook) pruneWorkers(ctx context.Context) {
	if len(h.local.Prune) == 0 {
		return
	}
	web := h.webRuns(ctx)
	now := h.d.Clock()
	h.local.Prune = slices.DeleteFunc(h.local.Prune, func(p pendingPrune) bool {
		waited := now.Sub(p.At)
		if waited < h.cfg.DrainTimeout+pruneGrace {
			return false
		}
		if !web {
			// Some unit that runs web noted the same departure.
			_ = h.d.Juju.Log(ctx, relation.LogDebug, fmt.Sprintf("forgetting worker %s of %s: this unit runs no web to prune it", p.Worker, p.Unit))
			return true
		}
		gaveUp := &PruneGaveUpError{Worker: p.Worker, Unit: p.Unit, State: p.State, After: waited.Round(time.Minute)}
		_ = h.d.Juju.Log(ctx, relation.LogWarning, gaveUp.Error())
		h.notes = append(h.notes, h.adviceLine(gaveUp))
		return true
	})
	if !web || len(h.local.Prune) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, pruneBudget)
	defer cancel()
	if err := h.prune(ctx); err != nil {
		h.notes = append(h.notes, h.adviceLine(err))
	}
	for _, p := range h.local.Prune {
		if p.State != "" && !prunable(p.State) {
			h.notes = append(h.notes, fmt.Sprintf("pruning worker %s once it stalls (%s now)", p.Worker, p.State))
		}
	}
}

// webRuns says this unit's web is up, so its API may answer.
func (h *hook) webRuns(ctx context.Context) bool {
	if !h.roles.Web || h.vol == nil || h.cfgErr != nil || h.wire.portsErr != nil {
		return false
	}
	st, err := h.d.Services.State(ctx, unitName(RoleWeb, h.hc.Unit))
	return err == nil && st.Active
}

// prunable says the ATC prunes a worker in this state and the worker is
// not coming back by itself.
func prunable(state string) bool {
	return state == concourse.WorkerStalled || state == concourse.WorkerLanded
}

// prune lists the ATC's workers and prunes each pending one that shows
// stalled or landed; one no longer registered is done. It returns a *PruneError
// for what is still pending because the API failed.
func (h *hook) prune(ctx context.Context) error {
	pending := func() []string {
		names := make([]string, len(h.local.Prune))
		for i, p := range h.local.Prune {
			names[i] = p.Worker
		}
		return names
	}
	client, err := h.concourseClient()
	if err != nil {
		return &PruneError{Workers: pending(), Err: err}
	}
	workers, err := client.Workers(ctx)
	if err != nil {
		return &PruneError{Workers: pending(), Err: err}
	}
	states := map[string]string{}
	for _, w := range workers {
		states[w.Name] = w.State
	}
	var failed *PruneError
	h.local.Prune = slices.DeleteFunc(h.local.Prune, func(p pendingPrune) bool {
		state, registered := states[p.Worker]
		if !registered {
			_ = h.d.Juju.Log(ctx, relation.LogInfo, fmt.Sprintf("worker %s of %s is not registered (any more): nothing to prune", p.Worker, p.Unit))
			return true
		}
		if !prunable(state) || failed != nil {
			return false
		}
		var (
			gone       *concourse.WorkerNotFoundError
			notStalled *concourse.WorkerNotStalledError
		)
		switch err := client.PruneWorker(ctx, p.Worker); {
		case err == nil:
			_ = h.d.Juju.Log(ctx, relation.LogInfo, fmt.Sprintf("pruned %s worker %s of %s", state, p.Worker, p.Unit))
			h.notes = append(h.notes, "pruned "+state+" worker "+p.Worker)
			return true
		case errors.As(err, &gone):
			return true
		case errors.As(err, &notStalled):
			// It came back between the list and the prune.
		default:
			failed = &PruneError{Workers: []string{p.Worker}, Err: err}
		}
		return false
	})
	for i := range h.local.Prune {
		if s, ok := states[h.local.Prune[i].Worker]; ok {
			h.local.Prune[i].State = s
		}
	}
	if failed != nil {
		return failed
	}
	return nil
}

// concourseClient logs in to this unit's own web as the initial admin.
func (h *hook) concourseClient() (*concourse.Client, error) {
	password, err := readAdminPassword(h.vol)
	if err != nil {
		return nil, err
	}
	api := h.d.ConcourseAPI
	if api == nil {
		api = defaultConcourseAPI
	}
	base, client := api(h.wire.ports.Web)
	return concourse.NewClient(base, h.cfg.InitialAdminUsername, password, client)
}

// defaultConcourseAPI reaches web on the loopback address (Concourse binds
// every address by default), never through a proxy.
func defaultConcourseAPI(webPort int) (string, *http.Client) {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(webPort)),
		&http.Client{Timeout: apiRequestTimeout, Transport: &http.Transport{Proxy: nil}}
}

// PruneError says workers could not be pruned now: the API failed (Err:
// concourse's typed errors) or the admin password is not there yet. They
// stay pending. It does not unwrap: whatever its cause, it is a note on
// the status, never the unit's problem, and advice.go reads Err itself.
type PruneError struct {
	Workers []string
	Err     error
}

func (e *PruneError) Error() string {
	return fmt.Sprintf("prune worker %v: %v", e.Workers, e.Err)
}

// PruneGaveUpError says a worker was waited for too long to stall: this
// unit no longer tries to prune it.
type PruneGaveUpError struct {
	Worker string
	Unit   string
	State  string // what the ATC last said ("" if it never answered)
	After  time.Duration
}

func (e *PruneGaveUpError) Error() string {
	return fmt.Sprintf("gave up pruning worker %s of %s after %s (last: %s)", e.Worker, e.Unit, e.After, e.lastState())
}

func (e *PruneGaveUpError) lastState() string {
	if e.State == "" {
		return "no answer from web"
	}
	return e.State
}
