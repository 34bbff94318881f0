package relation

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
)

// The concourse_tsa interface pairs a web application (provides: tsa) with
// workers-only applications (requires: web-tsa). The web application's
// leader offers its TSA in its application bag; each worker unit publishes
// its worker public key in its own bag, which every web unit authorizes.
const (
	TSAEndpoint    = "tsa"
	WebTSAEndpoint = "web-tsa"
)

// Keys of the TSA offer, in the web application's bag of a concourse_tsa
// relation and of the peer relation (where workers of the same application
// find it).
const (
	KeyTSAHosts      = "tsa-hosts"       // host:port, comma-separated
	KeyTSAPublicKeys = "tsa-public-keys" // authorized_keys lines
)

// TSAOffer is where a web application's TSA listens and the host keys it
// presents.
type TSAOffer struct {
	Hosts []string
	// PublicKeys are authorized_keys lines without their newline.
	PublicKeys []string
}

// IsZero says the offer names no TSA.
func (o TSAOffer) IsZero() bool { return len(o.Hosts) == 0 }

func (o TSAOffer) bag() map[string]string {
	return map[string]string{KeyTSAHosts: strings.Join(o.Hosts, ","), KeyTSAPublicKeys: strings.Join(o.PublicKeys, "\n")}
}

// TSADataError: a TSA offer or a worker key in relation data that cannot
// be used. From is the application or unit that wrote it; Key the relation
// key.
type TSADataError struct {
	From   string
	Key    string
	Reason string
}

func (e *TSADataError) Error() string {
	return fmt.Sprintf("%s from %s %s", e.Key, e.From, e.Reason)
}

// ParseTSAOffer reads an offer from a bag written by from. An empty bag is
// the zero offer.
func ParseTSAOffer(from string, bag map[string]string) (TSAOffer, error) {
	var o TSAOffer
	for _, h := range strings.Split(bag[KeyTSAHosts], ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if !isHostPort(h) {
			return TSAOffer{}, &TSADataError{From: from, Key: KeyTSAHosts, Reason: fmt.Sprintf("has %q, which is not host:port", h)}
		}
		o.Hosts = append(o.Hosts, h)
	}
	for i, line := range strings.Split(bag[KeyTSAPublicKeys], "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, err := concourse.NormalizePublicKey(line)
		if err != nil {
			return TSAOffer{}, &TSADataError{From: from, Key: KeyTSAPublicKeys, Reason: fmt.Sprintf("line %d %v", i+1, err)}
		}
		o.PublicKeys = append(o.PublicKeys, strings.TrimSpace(key))
	}
	if len(o.Hosts) > 0 && len(o.PublicKeys) == 0 {
		return TSAOffer{}, &TSADataError{From: from, Key: KeyTSAPublicKeys, Reason: "is empty although " + KeyTSAHosts + " is not"}
	}
	return o, nil
}

func isHostPort(h string) bool {
	host, port, err := net.SplitHostPort(h)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// WebTSA is a workers-only application's web-tsa relation as one hook
// reads it.
type WebTSA struct {
	ID     string
	Remote string // the web application
	Offer  TSAOffer
	// Err is a *TSADataError when the offer cannot be used.
	Err error
}

// ReadWebTSA reads the web-tsa relation: nil when there is none (or it
// breaks in this hook).
func ReadWebTSA(ctx context.Context, j Juju, hc Context) (*WebTSA, error) {
	id, remote, bag, ok, err := remoteAppBag(ctx, j, hc, WebTSAEndpoint)
	if err != nil || !ok {
		return nil, err
	}
	w := &WebTSA{ID: id, Remote: remote}
	w.Offer, w.Err = ParseTSAOffer("application "+w.Remote, bag)
	return w, nil
}

// PublishWorkerKey writes the unit's worker public key in its bag of the
// web-tsa relation id ("" removes it).
func PublishWorkerKey(ctx context.Context, j Juju, hc Context, id, key string) error {
	return writeChanged(ctx, j, id, hc.Unit.String(), false, map[string]string{KeyUnitWorkerKey: strings.TrimSpace(key)})
}

// PublishTSAOffer writes the leader's offer in its application bag of every
// tsa relation, only what changed.
func PublishTSAOffer(ctx context.Context, j Juju, hc Context, offer TSAOffer) error {
	ids, err := LiveRelationIDs(ctx, j, hc, TSAEndpoint)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := writeChanged(ctx, j, id, hc.Unit.App, true, offer.bag()); err != nil {
			return err
		}
	}
	return nil
}

// RemoteWorkerKey is a worker public key as a unit of a related workers
// application published it, not yet checked.
type RemoteWorkerKey struct {
	Unit string
	Key  string
}

// ReadWorkerKeys reads the worker keys of every unit of every application
// related over tsa, sorted by unit; a unit that has not published one is
// left out.
func ReadWorkerKeys(ctx context.Context, j Juju, hc Context) (keys []RemoteWorkerKey, relations int, err error) {
	ids, err := LiveRelationIDs(ctx, j, hc, TSAEndpoint)
	if err != nil {
		return nil, 0, err
	}
	for _, id := range ids {
		units, err := j.RelationList(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		for _, u := range units {
			if u == hc.DepartingUnit {
				continue
			}
			bag, err := j.RelationGet(ctx, id, u, false)
			if err != nil {
				return nil, 0, err
			}
			if k := strings.TrimSpace(bag[KeyUnitWorkerKey]); k != "" {
				keys = append(keys, RemoteWorkerKey{Unit: u, Key: k})
			}
		}
	}
	slices.SortFunc(keys, func(a, b RemoteWorkerKey) int { return strings.Compare(a.Unit, b.Unit) })
	return keys, len(ids), nil
}
