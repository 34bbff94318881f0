package concourse

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMaskSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"CONCOURSE_POSTGRES_PASSWORD":      "pw",
		"CONCOURSE_ADD_LOCAL_USER":         "admin:pw",
		"CONCOURSE_GITHUB_CLIENT_SECRET":   "s",
		"CONCOURSE_LDAP_BIND_PW":           "s",
		"CONCOURSE_VAULT_CLIENT_TOKEN":     "s",
		"CONCOURSE_ENCRYPTION_KEY":         "s",
		"CONCOURSE_NEWRELIC_API_KEY":       "s",
		"CONCOURSE_TRACING_OTLP_HEADER":    "authorization: s",
		"CONCOURSE_TSA_HOST_KEY":           "/keys/tsa_host_key",
		"CONCOURSE_SESSION_SIGNING_KEY":    "/keys/session_signing_key",
		"CONCOURSE_POSTGRES_USER":          "u",
		"HTTP_PROXY":                       "http://u:pw@proxy:3128",
		"https_proxy":                      "http://proxy:3128",
		"no_proxy":                         "localhost",
		"CONCOURSE_MAIN_TEAM_LOCAL_USER":   "admin",
		"CONCOURSE_GITHUB_CLIENT_ID":       "id",
		"CONCOURSE_OLD_ENCRYPTION_KEY_HEX": "s",
	}
	got := MaskSecrets(env)
	assert.Equal(t, map[string]string{
		"CONCOURSE_POSTGRES_PASSWORD":      Masked,
		"CONCOURSE_ADD_LOCAL_USER":         Masked,
		"CONCOURSE_GITHUB_CLIENT_SECRET":   Masked,
		"CONCOURSE_LDAP_BIND_PW":           Masked,
		"CONCOURSE_VAULT_CLIENT_TOKEN":     Masked,
		"CONCOURSE_ENCRYPTION_KEY":         Masked,
		"CONCOURSE_NEWRELIC_API_KEY":       Masked,
		"CONCOURSE_TRACING_OTLP_HEADER":    Masked,
		"CONCOURSE_TSA_HOST_KEY":           "/keys/tsa_host_key",
		"CONCOURSE_SESSION_SIGNING_KEY":    "/keys/session_signing_key",
		"CONCOURSE_POSTGRES_USER":          "u",
		"HTTP_PROXY":                       "http://u:***@proxy:3128",
		"https_proxy":                      "http://proxy:3128",
		"no_proxy":                         "localhost",
		"CONCOURSE_MAIN_TEAM_LOCAL_USER":   "admin",
		"CONCOURSE_GITHUB_CLIENT_ID":       "id",
		"CONCOURSE_OLD_ENCRYPTION_KEY_HEX": Masked,
	}, got)
	assert.Equal(t, "pw", env["CONCOURSE_POSTGRES_PASSWORD"], "the input is not changed")
}
