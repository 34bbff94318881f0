package relation_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// publicKey is a fresh authorized_keys line without its newline.
func publicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

func TestParseTSAOffer(t *testing.T) {
	t.Parallel()
	k1, k2 := publicKey(t), publicKey(t)
	tests := []struct {
		name string
		bag  map[string]string
		want relation.TSAOffer
		key  string // the relation key a *TSADataError names
	}{
		{name: "empty", bag: map[string]string{}},
		{name: "two web units", bag: map[string]string{"tsa-hosts": "10.0.0.1:2222, 10.0.0.2:2235", "tsa-public-keys": k1 + "\n" + k2 + " comment\n"},
			want: relation.TSAOffer{Hosts: []string{"10.0.0.1:2222", "10.0.0.2:2235"}, PublicKeys: []string{k1, k2}}},
		{name: "ipv6", bag: map[string]string{"tsa-hosts": "[fd00::1]:2222", "tsa-public-keys": k1}, want: relation.TSAOffer{Hosts: []string{"[fd00::1]:2222"}, PublicKeys: []string{k1}}},
		{name: "no port", bag: map[string]string{"tsa-hosts": "10.0.0.1", "tsa-public-keys": k1}, key: "tsa-hosts"},
		{name: "port out of range", bag: map[string]string{"tsa-hosts": "10.0.0.1:70000", "tsa-public-keys": k1}, key: "tsa-hosts"},
		{name: "key garbage", bag: map[string]string{"tsa-hosts": "10.0.0.1:2222", "tsa-public-keys": "ssh-rsa AAAAnotakey"}, key: "tsa-public-keys"},
		{name: "hosts without keys", bag: map[string]string{"tsa-hosts": "10.0.0.1:2222"}, key: "tsa-public-keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := relation.ParseTSAOffer("application web", tc.bag)
			if tc.key != "" {
				var bad *relation.TSADataError
				require.ErrorAs(t, err, &bad)
				assert.Equal(t, tc.key, bad.Key)
				assert.Equal(t, "application web", bad.From)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// A web application and a workers-only one pair up over concourse_tsa:
// the web leader's offer reaches every worker unit, every worker's key
// reaches every web unit, and both sides forget the other when the
// relation goes (already in its relation-broken hook).
func TestTSARoundTrip(t *testing.T) {
	t.Parallel()
	m := jujutest.NewModel("test", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	m.Deploy("web", "/charm", nil)
	m.Deploy("worker", "/charm", nil)
	for _, app := range []string{"web", "web", "worker", "worker"} {
		m.AddUnit(app, t.TempDir())
	}
	tsaKey := publicKey(t)
	workerKeys := map[string]string{"worker/0": publicKey(t), "worker/1": publicKey(t)}
	offer := relation.TSAOffer{Hosts: []string{"10.0.0.1:2222", "10.0.0.2:2235"}, PublicKeys: []string{tsaKey}}
	offers := map[string]*relation.WebTSA{}
	keys := map[string][]relation.RemoteWorkerKey{}
	charm := func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		if hc.Unit.App == "web" {
			got, _, err := relation.ReadWorkerKeys(ctx, j, hc)
			if err != nil {
				return err
			}
			keys[hc.Unit.String()] = got
			if leader, _ := j.IsLeader(ctx); leader {
				return relation.PublishTSAOffer(ctx, j, hc, offer)
			}
			return nil
		}
		w, err := relation.ReadWebTSA(ctx, j, hc)
		if err != nil {
			return err
		}
		offers[hc.Unit.String()] = w
		if w != nil {
			return relation.PublishWorkerKey(ctx, j, hc, w.ID, workerKeys[hc.Unit.String()]+"\n")
		}
		return nil
	}
	settle(t, m, charm)
	id := m.Relate("web", "tsa", "worker", "web-tsa")
	settle(t, m, charm)
	for _, u := range []string{"worker/0", "worker/1"} {
		require.NotNil(t, offers[u], u)
		require.NoError(t, offers[u].Err)
		assert.Equal(t, "web", offers[u].Remote)
		assert.Equal(t, offer, offers[u].Offer, u)
	}
	for _, u := range []string{"web/0", "web/1"} {
		assert.Equal(t, []relation.RemoteWorkerKey{{Unit: "worker/0", Key: workerKeys["worker/0"]}, {Unit: "worker/1", Key: workerKeys["worker/1"]}}, keys[u], u)
	}
	hooks := m.HooksRun()
	m.Tick(time.Minute)
	settle(t, m, charm)
	assert.Equal(t, hooks+4, m.HooksRun(), "update-status writes nothing new, so it wakes nobody")

	m.Unrelate(id)
	settle(t, m, charm)
	for _, u := range []string{"worker/0", "worker/1"} {
		assert.Nil(t, offers[u], u)
	}
	for _, u := range []string{"web/0", "web/1"} {
		assert.Empty(t, keys[u], u)
	}
}
