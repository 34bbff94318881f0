package charm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// postgresDatabase is the database the charm asks PostgreSQL for.
const postgresDatabase = "concourse"

// Files a unit keeps in its state directory (Deps.StateDir), next to its
// environment files: derived from relation data, so per unit.
const (
	authorizedWorkerKeysFile = "authorized_worker_keys"
	tsaHostKeysFile          = "tsa_host_keys"
	postgresCACertFile       = "postgres-ca.pem"
)

// wiring is what a hook read of the Concourse wiring: the cluster's keys,
// this unit's address and ports, PostgreSQL and the TSA relations.
type wiring struct {
	keys     clusterKeys
	keysErr  error
	address  string // the unit's ingress address ("" when unknown)
	ports    concourse.PortSet
	portsErr error
	pg       *relation.Postgres // nil: not related
	webTSA   *relation.WebTSA   // nil: not related (workers-only applications)
	// tsaRelations counts the workers-only applications related over tsa;
	// remoteKeys are their units' worker keys.
	tsaRelations int
	remoteKeys   []relation.RemoteWorkerKey
}

// readWiring reads what the services' settings derive from. Keys are
// ensured here, before anything else needs them: in the first hooks every
// unit races for them and one generates them. It fails only when a hook
// tool does (Juju retries the hook); the rest is judged by roleHeld.
func (h *hook) readWiring(ctx context.Context) error {
	h.wire.keys, h.wire.keysErr = h.ensureKeys(ctx)
	h.wire.ports, h.wire.portsErr = concourse.PortsFor(h.hc.Unit.Number, h.cfg.WebPort)
	n, err := h.d.Juju.NetworkGet(ctx, relation.PeerRelation)
	if err != nil {
		return err
	}
	h.wire.address = n.IngressAddress()
	if h.wire.pg, err = relation.ReadPostgres(ctx, h.d.Juju, h.hc, postgresDatabase); err != nil {
		return err
	}
	if h.wire.webTSA, err = relation.ReadWebTSA(ctx, h.d.Juju, h.hc); err != nil {
		return err
	}
	h.wire.remoteKeys, h.wire.tsaRelations, err = relation.ReadWorkerKeys(ctx, h.d.Juju, h.hc)
	return err
}

// publishWiring writes what others need of this unit: the leader's
// PostgreSQL request and TSA offer, a worker's key to a related web
// application, and the ports web serves (see syncPorts).
func (h *hook) publishWiring(ctx context.Context) error {
	j := h.d.Juju
	if h.leader && h.wire.pg != nil {
		req := relation.PostgresRequest{Database: postgresDatabase, RequestedSecrets: relation.PostgresSecretFields()}
		if err := relation.RequestPostgres(ctx, j, h.hc, h.wire.pg.ID, req); err != nil {
			return err
		}
	}
	if h.leader && h.wire.tsaRelations > 0 {
		if err := relation.PublishTSAOffer(ctx, j, h.hc, h.tsaOffer()); err != nil {
			return err
		}
	}
	if h.wire.webTSA != nil && h.wire.keysErr == nil {
		key := ""
		if h.roles.Worker {
			key = h.wire.keys.workerPublic
		}
		if err := relation.PublishWorkerKey(ctx, j, h.hc, h.wire.webTSA.ID, key); err != nil {
			return err
		}
	}
	return h.syncPorts(ctx)
}

// wiringFacts adds to the unit's peer facts what the wiring publishes: the
// worker key of a unit running a worker, the TSA of a unit running web.
func (h *hook) wiringFacts(f *relation.Facts) {
	if h.wire.keysErr != nil {
		return
	}
	if h.roles.Worker {
		f.WorkerKey = h.wire.keys.workerPublic
	}
	if h.roles.Web && h.wire.address != "" && h.wire.portsErr == nil {
		f.TSAHost = net.JoinHostPort(h.wire.address, strconv.Itoa(h.wire.ports.TSA))
		f.TSAKey = h.wire.keys.tsaPublic
	}
}

// tsaOffer is the leader's offer of its application's TSA: every unit
// that runs web, from their facts (this one's from this hook). In mode
// auto only the leader runs web, so a former leader's facts, not yet
// cleared, do not count.
func (h *hook) tsaOffer() relation.TSAOffer {
	var own relation.Facts
	h.wiringFacts(&own)
	facts := []relation.Facts{own}
	if h.cfg.Mode != ModeAuto {
		for _, u := range h.activePeers() {
			facts = append(facts, h.peers.Members[u].Facts)
		}
	}
	var o relation.TSAOffer
	for _, f := range facts {
		if f.TSAHost == "" {
			continue
		}
		key, err := concourse.NormalizePublicKey(f.TSAKey)
		if err != nil {
			continue // a unit whose key is not one cannot take workers
		}
		o.Hosts = append(o.Hosts, f.TSAHost)
		if k := strings.TrimSpace(key); !slices.Contains(o.PublicKeys, k) {
			o.PublicKeys = append(o.PublicKeys, k)
		}
	}
	slices.Sort(o.Hosts)
	slices.Sort(o.PublicKeys)
	return o
}

// workerTSA is where this unit's worker registers: its application's web
// units (the leader's offer in the peer relation; the leader uses the one
// it writes in this hook) and a related web application's.
func (h *hook) workerTSA() (relation.TSAOffer, error) {
	var o relation.TSAOffer
	switch {
	case h.leader:
		o = h.tsaOffer()
	case h.peers != nil && h.peers.TSAErr != nil:
		return o, h.peers.TSAErr
	case h.peers != nil:
		o = h.peers.App.TSA
	}
	if w := h.wire.webTSA; w != nil {
		if w.Err != nil {
			return o, w.Err
		}
		o.Hosts = append(o.Hosts, w.Offer.Hosts...)
		o.PublicKeys = append(o.PublicKeys, w.Offer.PublicKeys...)
	}
	if o.IsZero() {
		web := ""
		if w := h.wire.webTSA; w != nil {
			web = w.Remote
		}
		return o, &NoTSAError{App: h.app, Mode: h.cfg.Mode, Web: web}
	}
	return o, nil
}

// NoTSAError says no web unit's TSA is known: in modes auto and all the
// leader has not offered its web units' yet; a workers-only application
// has no web application related (Web is "") or it has offered none.
type NoTSAError struct {
	App  string
	Mode Mode
	Web  string
}

func (e *NoTSAError) Error() string {
	switch {
	case e.Mode == ModeWorker && e.Web == "":
		return "no web application is related over web-tsa"
	case e.Mode == ModeWorker:
		return "web application " + e.Web + " offers no TSA yet"
	}
	return "no web unit of " + e.App + " has offered its TSA yet"
}

// PostgresMissingError says web cannot run: the application is not
// related to PostgreSQL.
type PostgresMissingError struct{ App string }

func (e *PostgresMissingError) Error() string {
	return "web needs PostgreSQL and " + e.App + " is not related to one"
}

// NetworkWorkDirError says the worker's directory is on a network
// filesystem, where baggageclaim's driver (other than naive) fails.
type NetworkWorkDirError struct {
	Filesystem string
	Driver     string
}

func (e *NetworkWorkDirError) Error() string {
	return fmt.Sprintf("the worker directory is on %s, where baggageclaim driver %s does not work", e.Filesystem, e.Driver)
}

// roleHeld says why role cannot run now (nil: it can). stop says a running
// service must stop because what it needs is gone (web without its
// database); otherwise a running service keeps what it runs and nothing
// new starts.
func (h *hook) roleHeld(role Role) (stop bool, err error) {
	switch {
	case h.wire.keysErr != nil:
		return false, fmt.Errorf("the cluster's keys: %w", h.wire.keysErr)
	case h.wire.portsErr != nil:
		return false, h.wire.portsErr
	}
	if role == RoleWeb {
		switch pg := h.wire.pg; {
		case pg == nil:
			return true, &PostgresMissingError{App: h.app}
		case pg.Err != nil:
			return true, pg.Err
		}
		return false, nil
	}
	if h.cfg.BaggageclaimDriver != string(concourse.DriverNaive) {
		fs, err := h.vol.WorkerFilesystem(h.self)
		if err != nil {
			return false, fmt.Errorf("look at the worker directory's filesystem: %w", err)
		}
		if fs.Network {
			return false, &NetworkWorkDirError{Filesystem: fs.Type, Driver: h.cfg.BaggageclaimDriver}
		}
	}
	if err := h.workerPreconditions(); err != nil {
		// A second containerd worker would take over the first one's
		// socket: it must not run.
		var shared *SharedContainerdError
		return errors.As(err, &shared), err
	}
	if _, err := h.workerTSA(); err != nil {
		return false, err
	}
	return false, nil
}

// hold reports a role held back: a wait that resolves by itself, or what
// the operator must do.
func (h *hook) hold(err error) {
	if !h.waitFor(err) {
		h.held = append(h.held, err)
	}
}

// proxy is the model's proxy settings.
func (h *hook) proxy() concourse.Proxy {
	if h.d.Environ == nil {
		return concourse.Proxy{}
	}
	return concourse.ProxyFromJuju(h.d.Environ)
}

// statePath is a file in the unit's state directory.
func (h *hook) statePath(name string) string { return filepath.Join(h.d.StateDir, name) }
