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

// writeChanged writes data to this unit's bag (or, with app, its
// application's) in relation id, only the keys that differ from the bag as
// it reads now, so an unchanged bag wakes nobody.
func writeChanged(ctx context.Context, j Juju, id, self string, app bool, data map[string]string) error {
	read, err := j.RelationGet(ctx, id, self, app)
	if err != nil {
		return err
	}
	return setChanged(ctx, j, id, app, read, data)
}
