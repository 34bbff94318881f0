package relation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/certtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// secretsJuju answers secret-get from a map and nothing else.
type secretsJuju struct {
	relation.Juju
	secrets map[string]map[string]string
}

func (s secretsJuju) SecretGet(ctx context.Context, uri string, refresh bool) (map[string]string, error) {
	if !refresh {
		return nil, errors.New("read without --refresh: a rotated secret would never be seen")
	}
	if c, ok := s.secrets[uri]; ok {
		return c, nil
	}
	return nil, errors.New("secret not found")
}

func TestDecodePostgres(t *testing.T) {
	t.Parallel()
	ca := certtest.CA(t)
	plain := map[string]string{"endpoints": "10.0.0.5:5432,10.0.0.6:5432", "username": "relation-7", "password": "pw-s3cret", "version": "16.4"}
	with := func(changes map[string]string) map[string]string {
		bag := map[string]string{}
		for k, v := range plain {
			bag[k] = v
		}
		for k, v := range changes {
			if v == "" {
				delete(bag, k)
			} else {
				bag[k] = v
			}
		}
		return bag
	}
	j := secretsJuju{secrets: map[string]map[string]string{
		"secret:user": {"username": "relation-9", "password": "pw-from-secret"},
		"secret:tls":  {"tls": "True", "tls-ca": ca},
	}}
	tests := []struct {
		name    string
		bag     map[string]string
		want    relation.PostgresData
		pending []string // missing keys, for a *PostgresPendingError
		field   string   // the key a *concourse.PostgresDataError or *SecretReadError names
	}{
		{name: "plain", bag: plain, want: relation.PostgresData{Endpoints: []string{"10.0.0.5:5432", "10.0.0.6:5432"}, Username: "relation-7", Password: "pw-s3cret", Database: "concourse", Version: "16.4"}},
		{name: "tls with CA", bag: with(map[string]string{"tls": "True", "tls-ca": ca, "database": "ci"}),
			want: relation.PostgresData{Endpoints: []string{"10.0.0.5:5432", "10.0.0.6:5432"}, Username: "relation-7", Password: "pw-s3cret", Database: "ci", Version: "16.4", TLS: true, TLSCA: ca[:len(ca)-1]}},
		{name: "tls False", bag: with(map[string]string{"tls": "False"}), want: relation.PostgresData{Endpoints: []string{"10.0.0.5:5432", "10.0.0.6:5432"}, Username: "relation-7", Password: "pw-s3cret", Database: "concourse", Version: "16.4"}},
		{name: "secrets win over stale plain fields", bag: with(map[string]string{"secret-user": "secret:user", "secret-tls": "secret:tls"}),
			want: relation.PostgresData{Endpoints: []string{"10.0.0.5:5432", "10.0.0.6:5432"}, Username: "relation-9", Password: "pw-from-secret", Database: "concourse", Version: "16.4", TLS: true, TLSCA: ca[:len(ca)-1]}},
		{name: "secret form only", bag: map[string]string{"endpoints": "db:5432", "secret-user": "secret:user"},
			want: relation.PostgresData{Endpoints: []string{"db:5432"}, Username: "relation-9", Password: "pw-from-secret", Database: "concourse"}},
		{name: "nothing yet", bag: map[string]string{}, pending: []string{"endpoints", "username", "password"}},
		{name: "only the request echoed", bag: map[string]string{"database": "concourse"}, pending: []string{"endpoints", "username", "password"}},
		{name: "no endpoints yet", bag: with(map[string]string{"endpoints": ""}), pending: []string{"endpoints"}},
		{name: "no password", bag: with(map[string]string{"password": ""}), pending: []string{"password"}},
		{name: "secret unreadable", bag: with(map[string]string{"secret-user": "secret:gone"}), field: "secret-user"},
		{name: "endpoint without a port number", bag: with(map[string]string{"endpoints": "10.0.0.5:postgres"}), field: "endpoints"},
		{name: "empty endpoint", bag: with(map[string]string{"endpoints": "10.0.0.5:5432,,"}), field: "endpoints"},
		{name: "tls garbage", bag: with(map[string]string{"tls": "maybe"}), field: "tls"},
		{name: "ca garbage", bag: with(map[string]string{"tls": "True", "tls-ca": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"}), field: "tls-ca"},
		{name: "password with a newline", bag: with(map[string]string{"password": "pw\nx"}), field: "password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := relation.DecodePostgres(context.Background(), j, "pg", tc.bag, "concourse")
			switch {
			case tc.pending != nil:
				var pending *relation.PostgresPendingError
				require.ErrorAs(t, err, &pending)
				assert.Equal(t, tc.pending, pending.Missing)
				assert.Equal(t, "pg", pending.Remote)
			case tc.field != "":
				var unusable *relation.PostgresUnusableError
				require.ErrorAs(t, err, &unusable)
				assert.Equal(t, "pg", unusable.Remote)
				var data *concourse.PostgresDataError
				var secret *relation.SecretReadError
				switch {
				case errors.As(err, &data):
					assert.Equal(t, tc.field, data.Field)
				case errors.As(err, &secret):
					assert.Equal(t, tc.field, secret.Key)
				default:
					t.Fatalf("%T does not name the key: %v", unusable.Err, err)
				}
				assert.NotContains(t, err.Error(), "pw-s3cret", "never the password")
			default:
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
			}
		})
	}
}

// settle runs hooks until none is queued, each with the given charm.
func settle(t *testing.T, m *jujutest.Model, d jujutest.Dispatcher) {
	t.Helper()
	require.NoError(t, m.Settle(context.Background(), d, 1000))
}

// A requirer's round trip: the leader asks, the provider answers late,
// answers garbage, answers well, and goes away; every unit reads the same.
func TestPostgresRoundTrip(t *testing.T) {
	t.Parallel()
	m := jujutest.NewModel("test", t0)
	m.Deploy("app", "/charm", nil)
	m.AddUnit("app", t.TempDir())
	m.AddUnit("app", t.TempDir())
	seen := map[string]*relation.Postgres{}
	charm := func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		pg, err := relation.ReadPostgres(ctx, j, hc, "concourse")
		if err != nil {
			return err
		}
		seen[hc.Unit.String()] = pg
		if leader, _ := j.IsLeader(ctx); leader && pg != nil {
			return relation.RequestPostgres(ctx, j, hc, pg.ID, relation.PostgresRequest{Database: "concourse", RequestedSecrets: relation.PostgresSecretFields()})
		}
		return nil
	}
	settle(t, m, charm)
	assert.Nil(t, seen["app/0"], "no relation, nothing to read")

	id := m.RelateRemote("app", "postgresql", "pg", "database")
	settle(t, m, charm)
	assert.Equal(t, map[string]string{"database": "concourse", "requested-secrets": `["username","password","tls","tls-ca","uris"]`}, m.RemoteAppBag(id, "app"),
		"the leader asks for its database and for secrets, and writes nothing secret")
	for _, u := range []string{"app/0", "app/1"} {
		var pending *relation.PostgresPendingError
		require.ErrorAs(t, seen[u].Err, &pending, u)
		assert.Equal(t, "pg", seen[u].Remote)
	}

	m.SetRemoteData(id, map[string]string{"endpoints": "10.0.0.5", "username": "relation-7", "password": "pw", "tls": "yes please"})
	settle(t, m, charm)
	for _, u := range []string{"app/0", "app/1"} {
		var data *concourse.PostgresDataError
		require.ErrorAs(t, seen[u].Err, &data, u)
		assert.Equal(t, "tls", data.Field)
	}

	m.AddSecret("secret:user", map[string]string{"username": "relation-7", "password": "pw"})
	m.SetRemoteData(id, map[string]string{"endpoints": "10.0.0.5", "secret-user": "secret:user", "version": "16.4"})
	settle(t, m, charm)
	for _, u := range []string{"app/0", "app/1"} {
		require.NoError(t, seen[u].Err, u)
		assert.Equal(t, relation.PostgresData{Endpoints: []string{"10.0.0.5"}, Username: "relation-7", Password: "pw", Database: "concourse", Version: "16.4"}, seen[u].Data)
	}

	m.Unrelate(id)
	settle(t, m, charm)
	for _, u := range []string{"app/0", "app/1"} {
		assert.Nil(t, seen[u], "%s: a broken relation is gone", u)
	}
}

// brokenJuju still lists the relation whose relation-broken hook runs, as
// Juju does.
type brokenJuju struct {
	relation.Juju
	ids []string
}

func (b brokenJuju) RelationIDs(ctx context.Context, name string) ([]string, error) {
	return b.ids, nil
}

func TestLiveRelationIDsLeavesOutTheBreakingOne(t *testing.T) {
	t.Parallel()
	j := brokenJuju{ids: []string{"postgresql:3", "postgresql:5"}}
	hc := relation.HookContext(unitname.MustParse("app/0"), "postgresql-relation-broken")
	hc.RelationName, hc.RelationID = "postgresql", "postgresql:3"
	ids, err := relation.LiveRelationIDs(context.Background(), j, hc, "postgresql")
	require.NoError(t, err)
	assert.Equal(t, []string{"postgresql:5"}, ids)
	ids, err = relation.LiveRelationIDs(context.Background(), j, hc, "tsa")
	require.NoError(t, err)
	assert.Equal(t, []string{"postgresql:3", "postgresql:5"}, ids, "another endpoint's hook leaves the list alone")
}
