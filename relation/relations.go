package relation

import (
	"context"
	"slices"
)

// LiveRelationIDs lists the ids of the relations on endpoint, without the
// one that breaks in this very hook: Juju still lists a relation in its
// relation-broken hook, where the charm must act as if it were gone.
func LiveRelationIDs(ctx context.Context, j Juju, hc Context, endpoint string) ([]string, error) {
	ids, err := j.RelationIDs(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	if hc.Hook == endpoint+"-relation-broken" {
		ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == hc.RelationID })
	}
	return ids, nil
}

// remoteAppBag reads the application bag of the other side of the one
// live relation on endpoint (limit 1): ok is false when there is none.
func remoteAppBag(ctx context.Context, j Juju, hc Context, endpoint string) (id, remote string, bag map[string]string, ok bool, err error) {
	ids, err := LiveRelationIDs(ctx, j, hc, endpoint)
	if err != nil || len(ids) == 0 {
		return "", "", nil, false, err
	}
	id = ids[0]
	if remote, err = j.RelationRemoteApp(ctx, id); err != nil {
		return "", "", nil, false, err
	}
	if bag, err = j.RelationGet(ctx, id, remote, true); err != nil {
		return "", "", nil, false, err
	}
	return id, remote, bag, true, nil
}

// writeChanged writes data to this unit's bag (or, with app, its
// application's) in relation id, only the keys that differ from the bag as
// it reads now, so an unchanged bag wakes nobody.
func writeChanged(ctx context.Context, j Juju, id, self string, app bool, data map[string]string) error {
	read, err := j.RelationGet(ctx, id, self, app)
	if err != nil {
		return err
	}
	_, err = setChanged(ctx, j, id, app, read, data)
	return err
}
