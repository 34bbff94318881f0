package concourse

import (
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/certtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPostgresPrimary(t *testing.T) {
	t.Parallel()
	cases := []struct {
		endpoint string
		host     string
		port     int
	}{
		{"10.0.0.5:5432", "10.0.0.5", 5432},
		{"db.example:6432", "db.example", 6432},
		{"db.example", "db.example", DefaultPostgresPort},
		{"[fd00::5]:5433", "fd00::5", 5433},
		{"fd00::5", "fd00::5", DefaultPostgresPort},
		{" 10.0.0.5:5432 ", "10.0.0.5", 5432},
	}
	for _, c := range cases {
		host, port, err := Postgres{Endpoints: []string{c.endpoint, "10.9.9.9:1"}}.Primary()
		require.NoError(t, err, c.endpoint)
		assert.Equal(t, c.host, host, c.endpoint)
		assert.Equal(t, c.port, port, c.endpoint)
	}
}

func TestPostgresValidate(t *testing.T) {
	t.Parallel()
	good := Postgres{Endpoints: []string{"10.0.0.5:5432"}, User: "u", Password: "p4ss", Database: "concourse", TLS: true, CACert: certtest.CA(t)}
	require.NoError(t, good.Validate())
	twoCAs := good
	twoCAs.CACert = good.CACert + certtest.CA(t)
	require.NoError(t, twoCAs.Validate())

	cases := []struct {
		name   string
		change func(*Postgres)
		field  string
	}{
		{"no endpoints", func(p *Postgres) { p.Endpoints = nil }, "endpoints"},
		{"port not a number", func(p *Postgres) { p.Endpoints = []string{"db:pg"} }, "endpoints"},
		{"port out of range", func(p *Postgres) { p.Endpoints = []string{"db:70000"} }, "endpoints"},
		{"no host", func(p *Postgres) { p.Endpoints = []string{":5432"} }, "endpoints"},
		{"garbage endpoint", func(p *Postgres) { p.Endpoints = []string{"a:b:c"} }, "endpoints"},
		{"a later endpoint is garbage", func(p *Postgres) { p.Endpoints = []string{"db:5432", "db/2"} }, "endpoints"},
		{"no user", func(p *Postgres) { p.User = "" }, "username"},
		{"no password", func(p *Postgres) { p.Password = "" }, "password"},
		{"newline in password", func(p *Postgres) { p.Password = "p4ss\nx" }, "password"},
		{"no database", func(p *Postgres) { p.Database = "" }, "database"},
		{"CA is not PEM", func(p *Postgres) { p.CACert = "not a certificate" }, "tls-ca"},
		{"CA is a key", func(p *Postgres) { p.CACert = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }, "tls-ca"},
		{"CA with trailing text", func(p *Postgres) { p.CACert += "junk" }, "tls-ca"},
		{"CA that does not parse", func(p *Postgres) {
			p.CACert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, "tls-ca"},
	}
	for _, c := range cases {
		p := good
		p.Endpoints = append([]string(nil), good.Endpoints...)
		c.change(&p)
		err := p.Validate()
		var bad *PostgresDataError
		require.ErrorAs(t, err, &bad, c.name)
		assert.Equal(t, c.field, bad.Field, c.name)
		assert.NotContains(t, err.Error(), "p4ss", c.name)
	}
}
