package relation

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
)

// PostgresEndpoint is the charm's postgresql_client endpoint (requires,
// limit 1).
const PostgresEndpoint = "postgresql"

// Keys of the postgresql_client interface, as the data-platform libraries
// (data_interfaces) write them.
const (
	// The requirer's application bag.
	KeyPostgresDatabase         = "database"
	KeyPostgresRequestedSecrets = "requested-secrets"
	// The provider's application bag.
	KeyPostgresEndpoints  = "endpoints" // host:port, comma-separated, primary first
	KeyPostgresUsername   = "username"
	KeyPostgresPassword   = "password"
	KeyPostgresVersion    = "version"
	KeyPostgresTLS        = "tls" // "True" or "False"
	KeyPostgresTLSCA      = "tls-ca"
	KeyPostgresSecretUser = "secret-user" // a secret URI holding username and password
	KeyPostgresSecretTLS  = "secret-tls"  // a secret URI holding tls and tls-ca
)

// PostgresSecretFields are the fields the charm asks a provider to hand
// over as Juju secrets (requested-secrets); providers that predate secrets
// ignore the request and answer in plain fields.
func PostgresSecretFields() []string {
	return []string{"username", "password", "tls", "tls-ca", "uris"}
}

// PostgresRequest is what the charm's leader writes in its application bag:
// nothing secret.
type PostgresRequest struct {
	Database         string
	RequestedSecrets []string
}

func (r PostgresRequest) bag() (map[string]string, error) {
	bag := map[string]string{KeyPostgresDatabase: r.Database, KeyPostgresRequestedSecrets: ""}
	if len(r.RequestedSecrets) > 0 {
		secrets, err := json.Marshal(r.RequestedSecrets)
		if err != nil {
			return nil, err
		}
		bag[KeyPostgresRequestedSecrets] = string(secrets)
	}
	return bag, nil
}

// PostgresData is the provider's answer, decoded and checked.
type PostgresData struct {
	Endpoints []string
	Username  string
	Password  string
	// Database is the provider's database field, or the one the charm
	// asked for when the provider does not repeat it.
	Database string
	Version  string
	TLS      bool
	TLSCA    string // PEM, "" when the provider sends none
}

// Concourse is the data as concourse web takes it.
func (d PostgresData) Concourse() concourse.Postgres {
	return concourse.Postgres{Endpoints: d.Endpoints, User: d.Username, Password: d.Password, Database: d.Database, TLS: d.TLS, CACert: d.TLSCA}
}

// Postgres is the postgresql relation as one hook reads it.
type Postgres struct {
	ID string
	// Remote is the provider's application.
	Remote string
	// Data is the provider's answer; usable only when Err is nil.
	Data PostgresData
	// Err says why Data cannot be used: a *PostgresPendingError while the
	// provider has not answered, a *PostgresUnusableError when its answer
	// cannot be used.
	Err error
}

// PostgresPendingError: the provider has not (completely) answered yet.
// It resolves by itself when the provider writes its data.
type PostgresPendingError struct {
	Remote  string
	Missing []string // the keys it has not sent
}

func (e *PostgresPendingError) Error() string {
	return fmt.Sprintf("PostgreSQL (%s) has not sent %s yet", e.Remote, strings.Join(e.Missing, ", "))
}

// PostgresUnusableError: the provider's answer cannot be used. Err is a
// *concourse.PostgresDataError (naming the relation key) or a
// *SecretReadError; neither carries a password.
type PostgresUnusableError struct {
	Remote string
	Err    error
}

func (e *PostgresUnusableError) Error() string {
	return fmt.Sprintf("PostgreSQL (%s) sent unusable data: %v", e.Remote, e.Err)
}

func (e *PostgresUnusableError) Unwrap() error { return e.Err }

// SecretReadError: a secret a provider named in its data cannot be read.
type SecretReadError struct {
	Key string // the relation key that names the secret ("secret-user")
	URI string
	Err error
}

func (e *SecretReadError) Error() string {
	return fmt.Sprintf("%s: cannot read secret %s: %v", e.Key, e.URI, e.Err)
}

func (e *SecretReadError) Unwrap() error { return e.Err }

// ReadPostgres reads the postgresql relation: nil when there is none (or
// it breaks in this hook). database is what the charm asked for. An error
// is a hook tool failing; what the provider sent is judged in Postgres.Err.
func ReadPostgres(ctx context.Context, j Juju, hc Context, database string) (*Postgres, error) {
	id, remote, bag, ok, err := remoteAppBag(ctx, j, hc, PostgresEndpoint)
	if err != nil || !ok {
		return nil, err
	}
	p := &Postgres{ID: id, Remote: remote}
	p.Data, p.Err = DecodePostgres(ctx, j, p.Remote, bag, database)
	return p, nil
}

// RequestPostgres writes the leader's request in its application bag of
// relation id, only what changed.
func RequestPostgres(ctx context.Context, j Juju, hc Context, id string, req PostgresRequest) error {
	bag, err := req.bag()
	if err != nil {
		return err
	}
	return writeChanged(ctx, j, id, hc.Unit.App, true, bag)
}

// DecodePostgres reads a provider's application bag; credentials (and TLS)
// handed over as secrets are read with secret-get. requested is the
// database the charm asked for.
func DecodePostgres(ctx context.Context, j Juju, remote string, bag map[string]string, requested string) (PostgresData, error) {
	unusable := func(err error) (PostgresData, error) {
		return PostgresData{}, &PostgresUnusableError{Remote: remote, Err: err}
	}
	fields := map[string]string{}
	for _, k := range []string{KeyPostgresUsername, KeyPostgresPassword, KeyPostgresTLS, KeyPostgresTLSCA} {
		fields[k] = bag[k]
	}
	// A secret's fields win over plain ones: a provider that moved to
	// secrets may leave stale plain fields behind.
	for _, s := range []struct {
		key    string
		fields []string
	}{
		{KeyPostgresSecretUser, []string{KeyPostgresUsername, KeyPostgresPassword}},
		{KeyPostgresSecretTLS, []string{KeyPostgresTLS, KeyPostgresTLSCA}},
	} {
		uri := strings.TrimSpace(bag[s.key])
		if uri == "" {
			continue
		}
		// --refresh: without it Juju keeps answering the revision this
		// unit read first, so a password the provider rotates would never
		// reach web. Every hook reads the latest, and secret-changed (which
		// Juju sends while a unit tracks an old revision) is one more hook.
		content, err := j.SecretGet(ctx, uri, true)
		if err != nil {
			return unusable(&SecretReadError{Key: s.key, URI: uri, Err: err})
		}
		for _, f := range s.fields {
			fields[f] = content[f]
		}
	}

	var missing []string
	for _, k := range []string{KeyPostgresEndpoints, KeyPostgresUsername, KeyPostgresPassword} {
		v := bag[k]
		if k != KeyPostgresEndpoints {
			v = fields[k]
		}
		if strings.TrimSpace(v) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return PostgresData{}, &PostgresPendingError{Remote: remote, Missing: missing}
	}

	d := PostgresData{
		Username: fields[KeyPostgresUsername],
		Password: fields[KeyPostgresPassword],
		Database: requested,
		Version:  bag[KeyPostgresVersion],
		TLSCA:    strings.TrimSpace(fields[KeyPostgresTLSCA]),
	}
	if db := bag[KeyPostgresDatabase]; db != "" {
		d.Database = db
	}
	for _, e := range strings.Split(bag[KeyPostgresEndpoints], ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			return unusable(&concourse.PostgresDataError{Field: KeyPostgresEndpoints, Reason: "has an empty entry"})
		}
		d.Endpoints = append(d.Endpoints, e)
	}
	if t := strings.TrimSpace(fields[KeyPostgresTLS]); t != "" {
		tls, err := strconv.ParseBool(t)
		if err != nil {
			// Not repeated: it may come from a secret.
			return unusable(&concourse.PostgresDataError{Field: KeyPostgresTLS, Reason: "is neither True nor False"})
		}
		d.TLS = tls
	}
	if err := d.Concourse().Validate(); err != nil {
		return unusable(err)
	}
	return d, nil
}
