package concourse

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Postgres is the database web connects to, as a postgresql_client
// provider hands it over (the charm's relation code fills it): endpoints
// "host:port", comma-separated in the relation, primary first; the
// credentials; the database the charm asked for; and TLS ("tls" and
// "tls-ca" in the provider's application bag).
type Postgres struct {
	Endpoints []string
	User      string
	Password  string
	Database  string
	TLS       bool
	CACert    string // PEM; empty when the provider sends none
}

// DefaultPostgresPort is used for an endpoint given without a port.
const DefaultPostgresPort = 5432

// PostgresDataError: the provider's data cannot be used. Field is the
// relation key ("endpoints", "username", "password", "database",
// "tls-ca"); Reason never contains the password.
type PostgresDataError struct {
	Field  string
	Reason string
}

func (e *PostgresDataError) Error() string {
	return fmt.Sprintf("PostgreSQL %s: %s", e.Field, e.Reason)
}

// Validate checks the data is complete and well-formed: at least one
// endpoint with a host and a valid port, a user, a password, a database,
// and a CA certificate that parses when one is given.
func (p Postgres) Validate() error {
	if len(p.Endpoints) == 0 {
		return &PostgresDataError{Field: "endpoints", Reason: "no endpoint given"}
	}
	for _, e := range p.Endpoints {
		if _, _, err := splitEndpoint(e); err != nil {
			return err
		}
	}
	switch {
	case p.User == "":
		return &PostgresDataError{Field: "username", Reason: "empty"}
	case p.Password == "":
		return &PostgresDataError{Field: "password", Reason: "empty"}
	case p.Database == "":
		return &PostgresDataError{Field: "database", Reason: "empty"}
	}
	for field, v := range map[string]string{"username": p.User, "password": p.Password, "database": p.Database} {
		if strings.ContainsFunc(v, isControl) {
			return &PostgresDataError{Field: field, Reason: "contains a control character"}
		}
	}
	if p.CACert != "" {
		if err := checkCertificates(p.CACert); err != nil {
			return &PostgresDataError{Field: "tls-ca", Reason: err.Error()}
		}
	}
	return nil
}

// Primary is the first endpoint's host and port, the one web connects to
// (Concourse takes a single host).
func (p Postgres) Primary() (host string, port int, err error) {
	if len(p.Endpoints) == 0 {
		return "", 0, &PostgresDataError{Field: "endpoints", Reason: "no endpoint given"}
	}
	return splitEndpoint(p.Endpoints[0])
}

// SSLMode is Concourse's --postgres-sslmode for this connection: verify-ca
// when the provider sends its CA (the server's name is not checked:
// providers hand out addresses their certificates need not name), require
// for TLS without a CA, disable otherwise.
func (p Postgres) SSLMode() string {
	switch {
	case p.TLS && p.CACert != "":
		return "verify-ca"
	case p.TLS:
		return "require"
	default:
		return "disable"
	}
}

func splitEndpoint(e string) (string, int, error) {
	e = strings.TrimSpace(e)
	host, portText, err := net.SplitHostPort(e)
	if err != nil {
		// A bare host (or bracketed IPv6 address) means the default port.
		host, portText = strings.Trim(e, "[]"), strconv.Itoa(DefaultPostgresPort)
		if strings.ContainsAny(host, "[]/ ") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
			return "", 0, &PostgresDataError{Field: "endpoints", Reason: fmt.Sprintf("%q is not host:port", e)}
		}
	}
	port, err := strconv.Atoi(portText)
	switch {
	case host == "":
		return "", 0, &PostgresDataError{Field: "endpoints", Reason: fmt.Sprintf("%q has no host", e)}
	case strings.ContainsFunc(host, isControl):
		return "", 0, &PostgresDataError{Field: "endpoints", Reason: "a host contains a control character"}
	case err != nil || port < 1 || port > 65535:
		return "", 0, &PostgresDataError{Field: "endpoints", Reason: fmt.Sprintf("%q has no valid port", e)}
	}
	return host, port, nil
}

// checkCertificates accepts PEM text holding one or more certificates and
// nothing else.
func checkCertificates(text string) error {
	rest := []byte(text)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM block of type %q, not a certificate", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	switch {
	case n == 0:
		return fmt.Errorf("holds no PEM certificate")
	case strings.TrimSpace(string(rest)) != "":
		return fmt.Errorf("holds text after its last certificate")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
