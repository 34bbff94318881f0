package relation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// PeerRelation is the name of the charm's peer relation (metadata.yaml).
const PeerRelation = "peers"

// Keys the charm keeps in the peer relation besides the upgrade's own
// (fsm.KeyPrefix). Application bag (leader only):
const (
	// KeyAppVolumeToken is the leader's volume token: a unit that reads
	// the same token on its own volume shares the leader's volume.
	KeyAppVolumeToken = "volume-token"
	// KeyAppConfigVersion is the `version` config value the leader last
	// acted on, so an abort is not undone by the next config-changed.
	KeyAppConfigVersion = "config-version"
	// KeyAppWebAddress is where workers find the TSA (the web unit's
	// address) in mode auto.
	KeyAppWebAddress = "web-address"
)

// Unit bag keys (each unit's own facts):
const (
	KeyUnitVolumeToken = "volume-token"
	KeyUnitAddress     = "address"
	KeyUnitWorkerKey   = "worker-public-key"
	// KeyUnitTSAHost and KeyUnitTSAKey are where a unit running web
	// listens for workers (host:port) and its TSA host public key; the
	// leader gathers them into the TSA offer (KeyTSAHosts, KeyTSAPublicKeys).
	KeyUnitTSAHost = "tsa-host"
	KeyUnitTSAKey  = "tsa-public-key"
)

// Facts are what a unit tells its peers about itself.
type Facts struct {
	// VolumeToken is the token the unit reads on its own volume.
	VolumeToken string
	// Address is the unit's ingress address.
	Address string
	// WorkerKey is the unit's worker public key (authorized_keys form),
	// for web units that do not share the unit's volume.
	WorkerKey string
	// TSAHost and TSAKey are set while the unit runs web: where its TSA
	// listens (host:port) and the host key it presents.
	TSAHost string
	TSAKey  string
}

func (f Facts) bag() map[string]string {
	return map[string]string{KeyUnitVolumeToken: f.VolumeToken, KeyUnitAddress: f.Address, KeyUnitWorkerKey: f.WorkerKey,
		KeyUnitTSAHost: f.TSAHost, KeyUnitTSAKey: f.TSAKey}
}

func factsOf(bag map[string]string) Facts {
	return Facts{VolumeToken: bag[KeyUnitVolumeToken], Address: bag[KeyUnitAddress], WorkerKey: bag[KeyUnitWorkerKey],
		TSAHost: bag[KeyUnitTSAHost], TSAKey: bag[KeyUnitTSAKey]}
}

// AppData is the charm's part of the application bag, besides the record.
type AppData struct {
	VolumeToken   string
	ConfigVersion string
	WebAddress    string
	// TSA is where the application's web units take workers, for its
	// own workers (the same offer goes to workers-only applications over
	// the tsa relation).
	TSA TSAOffer
}

func (a AppData) bag() map[string]string {
	bag := map[string]string{KeyAppVolumeToken: a.VolumeToken, KeyAppConfigVersion: a.ConfigVersion, KeyAppWebAddress: a.WebAddress}
	maps.Copy(bag, a.TSA.bag())
	return bag
}

// BagError says whose relation data could not be read. It is reported,
// and the bag is never overwritten because of it.
type BagError struct {
	// Owner is the unit that wrote the bag, or the application for the
	// application bag.
	Owner string
	Err   error
}

func (e *BagError) Error() string { return fmt.Sprintf("peer data of %s: %v", e.Owner, e.Err) }
func (e *BagError) Unwrap() error { return e.Err }

// Member is one unit's committed data as a hook reads it.
type Member struct {
	Ack fsm.Ack
	// AckErr is a *BagError when the ack does not decode (a newer or broken
	// unit); Ack is then zero.
	AckErr error
	Facts  Facts
}

// Peers is the peer relation as one hook reads it at its start: the
// exported fields are what Juju has committed, nothing this hook wrote.
type Peers struct {
	ID   string
	Self unitname.Name
	// Others are the units relation-list names (never the unit itself).
	Others []string
	Record fsm.Record
	// RecordErr is a *BagError when the record does not decode; Record is
	// then zero and nobody acts on it.
	RecordErr error
	App       AppData
	// TSAErr is a *TSADataError when the application bag's TSA offer
	// does not parse; App.TSA is then zero.
	TSAErr  error
	Own     Member
	Members map[string]Member // keyed by unit, the others only

	// The bags as read, then as this hook's writes left them, so that
	// writes send only what differs.
	appBag, ownBag map[string]string
}

// ErrNoPeerRelation says the peer relation does not exist yet (hooks
// before relation-created).
var ErrNoPeerRelation = errors.New("the peer relation is not there yet")

// ReadPeers reads the peer relation once. A bag that does not decode is
// reported in the result, not as an error: the hook goes on with what it can
// read and reports the rest. In the unit's own peers-relation-broken, which
// Juju runs with the relation still listed, there is none (the charm
// itself sends that hook to its leaving path, which reads no peers).
func ReadPeers(ctx context.Context, j Juju, hc Context) (*Peers, error) {
	self := hc.Unit
	ids, err := LiveRelationIDs(ctx, j, hc, PeerRelation)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, ErrNoPeerRelation
	}
	p := &Peers{ID: ids[0], Self: self, Members: map[string]Member{}}
	if p.Others, err = j.RelationList(ctx, p.ID); err != nil {
		return nil, err
	}
	appBag, err := j.RelationGet(ctx, p.ID, self.App, true)
	if err != nil {
		return nil, err
	}
	p.appBag = appBag
	p.App = AppData{VolumeToken: appBag[KeyAppVolumeToken], ConfigVersion: appBag[KeyAppConfigVersion], WebAddress: appBag[KeyAppWebAddress]}
	p.App.TSA, p.TSAErr = ParseTSAOffer("application "+self.App, appBag)
	if p.Record, err = fsm.DecodeRecord(appBag); err != nil {
		p.RecordErr = &BagError{Owner: "application " + self.App, Err: err}
	}
	if p.ownBag, err = j.RelationGet(ctx, p.ID, self.String(), false); err != nil {
		return nil, err
	}
	p.Own = memberOf(self.String(), p.ownBag)
	for _, u := range p.Others {
		m, err := readMember(ctx, j, p.ID, u)
		if err != nil {
			return nil, err
		}
		p.Members[u] = m
	}
	return p, nil
}

func readMember(ctx context.Context, j Juju, id, unit string) (Member, error) {
	bag, err := j.RelationGet(ctx, id, unit, false)
	if err != nil {
		return Member{}, err
	}
	return memberOf(unit, bag), nil
}

func memberOf(unit string, bag map[string]string) Member {
	m := Member{Facts: factsOf(bag)}
	var err error
	if m.Ack, err = fsm.DecodeAck(bag); err != nil {
		m.AckErr = &BagError{Owner: unit, Err: err}
	}
	return m
}

// Acks are the decodable acks of the other units.
func (p *Peers) Acks() map[string]fsm.Ack {
	acks := map[string]fsm.Ack{}
	for u, m := range p.Members {
		if m.AckErr == nil {
			acks[u] = m.Ack
		}
	}
	return acks
}

// BagErrors lists every bag that did not decode, sorted by owner.
func (p *Peers) BagErrors() []error {
	var errs []error
	if p.RecordErr != nil {
		errs = append(errs, p.RecordErr)
	}
	if p.Own.AckErr != nil {
		errs = append(errs, p.Own.AckErr)
	}
	for _, u := range slices.Sorted(maps.Keys(p.Members)) {
		if err := p.Members[u].AckErr; err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// WriteOwn writes this unit's ack and facts, only the keys that differ from
// the bag as this hook left it (an unchanged bag wakes nobody).
func (p *Peers) WriteOwn(ctx context.Context, j Juju, ack fsm.Ack, facts Facts) error {
	bag, err := fsm.EncodeAck(ack)
	if err != nil {
		return err
	}
	maps.Copy(bag, facts.bag())
	p.ownBag, err = setChanged(ctx, j, p.ID, false, p.ownBag, bag)
	return err
}

// WriteApp writes the record and the charm's application data (leader
// only), only the keys that differ from what the hook read.
func (p *Peers) WriteApp(ctx context.Context, j Juju, rec fsm.Record, app AppData) error {
	bag, err := fsm.EncodeRecord(rec)
	if err != nil {
		return err
	}
	maps.Copy(bag, app.bag())
	p.appBag, err = setChanged(ctx, j, p.ID, true, p.appBag, bag)
	return err
}

// setChanged sends the keys of next whose value differs from bag (an
// empty value deletes a key) and returns bag as it is after the write, so
// that a second write in the same hook diffs against the first.
func setChanged(ctx context.Context, j Juju, id string, app bool, bag, next map[string]string) (map[string]string, error) {
	changed := map[string]string{}
	for k, v := range next {
		if bag[k] == v {
			continue
		}
		changed[k] = v
	}
	if len(changed) == 0 {
		return bag, nil
	}
	if err := j.RelationSet(ctx, id, app, changed); err != nil {
		return bag, err
	}
	after := maps.Clone(bag)
	if after == nil {
		after = map[string]string{}
	}
	for k, v := range changed {
		if v == "" {
			delete(after, k)
		} else {
			after[k] = v
		}
	}
	return after, nil
}
