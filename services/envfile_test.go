package services

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/services/internal/testprog"
)

func TestRenderEnvironmentFile(t *testing.T) {
	t.Parallel()
	got, err := RenderEnvironmentFile(map[string]string{
		"CONCOURSE_POSTGRES_PASSWORD": `p@ss"w\rd$1` + "`x`",
		"CONCOURSE_BIND_PORT":         "8080",
		"EMPTY":                       "",
	})
	require.NoError(t, err)
	assert.Equal(t, "# Written by the concourse-ci-machine charm; changes are overwritten.\n"+
		"CONCOURSE_BIND_PORT=\"8080\"\n"+
		"CONCOURSE_POSTGRES_PASSWORD=\"p@ss\\\"w\\\\rd\\$1\\`x\\`\"\n"+
		"EMPTY=\"\"\n", string(got))
}

func TestEnvironmentFileRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       map[string]string
		wantField string
	}{
		{"newline in value", map[string]string{"CONCOURSE_POSTGRES_PASSWORD": "secret\nEVIL=1"}, "environment variable CONCOURSE_POSTGRES_PASSWORD"},
		{"NUL in value", map[string]string{"A": "x\x00"}, "environment variable A"},
		{"key with space", map[string]string{"A B": "x"}, `environment variable "A B"`},
		{"key starting with digit", map[string]string{"1A": "x"}, `environment variable "1A"`},
		{"key with newline", map[string]string{"A\nB": "x"}, `environment variable "A\nB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "web.env")
			require.NoError(t, os.WriteFile(path, []byte("OLD=\"kept\"\n"), 0o600))

			changed, err := WriteEnvironmentFile(path, tt.env)
			assert.False(t, changed)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.wantField, ve.Field)
			assert.NotContains(t, err.Error(), "secret", "a secret value never appears in an error")

			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "OLD=\"kept\"\n", string(data), "bad input loses nothing")
		})
	}
}

func TestWriteEnvironmentFileMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "conf", "web.env")
	env := map[string]string{"CONCOURSE_POSTGRES_PASSWORD": "s3cret"}

	changed, err := WriteEnvironmentFile(path, env)
	require.NoError(t, err)
	assert.True(t, changed)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	changed, err = WriteEnvironmentFile(path, env)
	require.NoError(t, err)
	assert.False(t, changed, "same content, same mode: untouched")

	// Someone loosened the mode: the next write restores it.
	require.NoError(t, os.Chmod(path, 0o644))
	changed, err = WriteEnvironmentFile(path, env)
	require.NoError(t, err)
	assert.True(t, changed)
	st, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temp file left behind")

	_, err = WriteEnvironmentFile("relative.env", env)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
}

// TestValuesReachTheProgramUnchanged runs the rendered unit under the real
// systemd: every argument and environment value must arrive exactly as
// given, whatever systemd would otherwise expand, split or unquote.
func TestValuesReachTheProgramUnchanged(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	u := uniqueUnit(t, m)
	name := WebUnitName(u)
	tricky := []string{"plain", "50%", "%n", "$HOME", "${HOME}", "a b", `quote"d`, `back\slash`, `trailing\`,
		"it's", ";", "", "--flag=x y", `$ "%`, "ünïcödé"}
	description := `services test 100% $HOME "quoted" back\slash 'it's' %n`
	env := map[string]string{
		"PLAIN":    "value",
		"SPECIALS": `$HOME ${HOME} "q" 'q' \ ` + "`x`" + ` # not a comment % %n`,
		"SPACES":   "  leading and trailing  ",
		"EMPTY":    "",
	}
	report := filepath.Join(scratchDir(t), "report.json")
	uf, err := WebUnit{
		Unit:            u,
		Description:     description,
		Command:         testCommand(t, "args", append([]string{report}, tricky...)...),
		EnvironmentFile: testEnvFile(t, env),
		WantedBy:        "default.target",
	}.Render()
	require.NoError(t, err)
	_, err = m.Install(ctx, uf)
	require.NoError(t, err)
	require.NoError(t, m.Start(ctx, name))
	waitForFile(t, report, "args")

	data, err := os.ReadFile(report)
	require.NoError(t, err)
	var got testprog.Report
	require.NoError(t, json.Unmarshal(data, &got))
	want := append(testCommand(t, "args", report), tricky...)
	assert.Equal(t, want, got.Args)
	for k, v := range env {
		assert.Equal(t, v, got.Env[k], "environment variable %s", k)
	}

	props, err := m.conn.GetUnitPropertiesContext(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, description, props["Description"])
}
