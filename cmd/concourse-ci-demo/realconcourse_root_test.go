//go:build !unit

package main

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Against a real Concourse: CONCOURSE_BIN names a concourse 7.x binary and
// PG_URL a PostgreSQL the units may use (postgres://user:password@host:port/db).
// The demo deploys web and 2 workers of the real charm with that binary
// and checks web's /api/v1/info and that both workers registered. The Go
// module proxy here serves no Concourse, so CI runs without them: the test
// says so and skips (the one skip the project allows, issue 14).
func TestDemoAgainstARealConcourse(t *testing.T) {
	bin, pg := os.Getenv("CONCOURSE_BIN"), os.Getenv("PG_URL")
	if bin == "" || pg == "" {
		t.Skip("CONCOURSE_BIN and PG_URL are not both set: the end-to-end test against a real Concourse (web + 2 workers, /api/v1/info, both workers registered) did not run")
	}
	s := runDemo(t, "--units", "3", "--concourse", bin, "--postgres", pg, "--timeout", "10m")
	require.NotNil(t, s.API, "web's API was asked")
	assert.NotEmpty(t, s.API.Version)
	assert.Len(t, s.API.Workers, 2, "%v", s.API.Workers)
	for name, state := range s.API.Workers {
		assert.Equal(t, "running", state, name)
	}
}

// The real-Concourse flags are refused, with what to give, before anything
// starts.
func TestDemoRealConcourseFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--concourse", "/bin/true"}, "--concourse and --postgres go together"},
		{[]string{"--postgres", "postgres://u:p@h:5432/db"}, "--concourse and --postgres go together"},
		{[]string{"--concourse", "/bin/true", "--postgres", "mysql://u@h:1/db"}, "is not postgres://user:password@host:port/database"},
		{[]string{"--concourse", "/bin/true", "--postgres", "postgres://u:p@h/db"}, "is not postgres://"},
		{[]string{"--concourse", "/bin/true", "--postgres", "postgres://u:p@h:5432/db", "--mode", "web"}, "--concourse runs mode auto or all"},
	} {
		var stderr bytes.Buffer
		cmd := exec.Command(binaries.demo, tc.args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%v", tc.args)
		assert.Equal(t, 2, exit.ExitCode(), "%v", tc.args)
		assert.Contains(t, stderr.String(), tc.says, "%v", tc.args)
	}
}

func TestPostgresData(t *testing.T) {
	t.Parallel()
	got, err := postgresData("postgres://concourse:s3cret@db.example:5433/ci")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"endpoints": "db.example:5433", "username": "concourse", "password": "s3cret", "database": "ci"}, got)
	_, err = postgresData("postgres://concourse@db.example:5433/")
	assert.Error(t, err, "no database")
}
