package services

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// settings parses a rendered unit back into section.name -> values.
func settings(t *testing.T, uf UnitFile) map[string][]string {
	t.Helper()
	opts, err := unit.DeserializeOptions(bytes.NewReader(uf.Content))
	require.NoError(t, err)
	out := map[string][]string{}
	for _, o := range opts {
		out[o.Section+"."+o.Name] = append(out[o.Section+"."+o.Name], o.Value)
	}
	return out
}

func TestWebUnitRender(t *testing.T) {
	t.Parallel()
	uf, err := WebUnit{
		Command:         []string{"/srv/concourse/current/bin/concourse", "web"},
		User:            "concourse",
		Group:           "concourse",
		EnvironmentFile: "/etc/concourse/web.env",
		WorkDir:         "/var/lib/concourse",
	}.Render()
	require.NoError(t, err)
	assert.Equal(t, WebUnitName, uf.Name)
	s := settings(t, uf)

	want := map[string]string{
		"Service.Type":             "exec",
		"Service.ExecStart":        "/srv/concourse/current/bin/concourse web",
		"Service.User":             "concourse",
		"Service.Group":            "concourse",
		"Service.EnvironmentFile":  "/etc/concourse/web.env",
		"Service.WorkingDirectory": "/var/lib/concourse",
		"Service.Restart":          "on-failure",
		"Service.RestartSec":       "5s",
		"Service.NoNewPrivileges":  "yes",
		"Service.PrivateTmp":       "yes",
		"Service.ProtectSystem":    "full",
		"Install.WantedBy":         "multi-user.target",
	}
	for k, v := range want {
		assert.Equal(t, []string{v}, s[k], k)
	}
	assert.NotContains(t, s, "Service.StandardOutput", "no LogFile: output goes to the journal")
	assert.NotContains(t, s, "Service.Environment", "secrets only ever go in the EnvironmentFile")
}

func TestWorkerUnitRender(t *testing.T) {
	t.Parallel()
	uf, err := WorkerUnit{
		Command:      []string{"/srv/concourse/current/bin/concourse", "worker"},
		WorkDir:      "/srv/concourse/workers/concourse-1",
		LogFile:      "/var/log/concourse/worker.log",
		DrainTimeout: 90 * time.Second,
	}.Render()
	require.NoError(t, err)
	assert.Equal(t, WorkerUnitName, uf.Name)
	s := settings(t, uf)

	want := map[string]string{
		"Service.KillMode":        "mixed",
		"Service.KillSignal":      "SIGUSR1",
		"Service.TimeoutStopSec":  "90s",
		"Service.SendSIGKILL":     "yes",
		"Service.FinalKillSignal": "SIGKILL",
		"Service.Restart":         "on-failure",
		"Service.Delegate":        "yes",
		"Service.StandardOutput":  "append:/var/log/concourse/worker.log",
		"Service.StandardError":   "append:/var/log/concourse/worker.log",
	}
	for k, v := range want {
		assert.Equal(t, []string{v}, s[k], k)
	}
	for _, k := range []string{"Service.NoNewPrivileges", "Service.ProtectSystem", "Service.User", "Service.PrivateTmp"} {
		assert.NotContains(t, s, k, "the worker runs containers as root")
	}

	def, err := WorkerUnit{Command: []string{"/bin/concourse", "worker"}}.Render()
	require.NoError(t, err)
	assert.Equal(t, []string{"600s"}, settings(t, def)["Service.TimeoutStopSec"], "default drain timeout")
}

func TestRetireDropIn(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "[Service]\nKillSignal=SIGUSR2\n", string(retireDropIn()))
}

func TestExecArgEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"web", "web"},
		{"--bind-port=8080", "--bind-port=8080"},
		{"50%", "50%%"},
		{"%n", "%%n"},
		{"$HOME", "$$HOME"},
		{"${HOME}", "$${HOME}"},
		{"a b", `"a b"`},
		{"tab\there", "\"tab\there\""},
		{`quote"d`, `"quote\"d"`},
		{`back\slash`, `"back\\slash"`},
		{"it's", `"it's"`},
		{";", `";"`},
		{"", `""`},
		{`$ "%`, `"$$ \"%%"`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, execArg(tt.in), "execArg(%q)", tt.in)
	}
}

func TestSpecifiersEscapedOutsideExec(t *testing.T) {
	t.Parallel()
	uf, err := WebUnit{
		Command:     []string{"/bin/concourse", "web"},
		Description: "Concourse 100% $HOME",
		LogFile:     "/var/log/100%/web.log",
	}.Render()
	require.NoError(t, err)
	s := settings(t, uf)
	// "$" is only expanded in command lines, so it stays single here.
	assert.Equal(t, []string{"Concourse 100%% $HOME"}, s["Unit.Description"])
	assert.Equal(t, []string{"append:/var/log/100%%/web.log"}, s["Service.StandardOutput"])
}

func TestUnitValidation(t *testing.T) {
	t.Parallel()
	cmd := []string{"/bin/concourse", "web"}
	tests := []struct {
		name      string
		web       WebUnit
		worker    *WorkerUnit
		wantField string
	}{
		{"newline in description", WebUnit{Command: cmd, Description: "a\nExecStartPre=/bin/evil"}, nil, "WebUnit.Description"},
		{"newline in user", WebUnit{Command: cmd, User: "root\n"}, nil, "WebUnit.User"},
		{"NUL in argument", WebUnit{Command: []string{"/bin/concourse", "we\x00b"}}, nil, "WebUnit.Command[1]"},
		{"carriage return in argument", WebUnit{Command: []string{"/bin/concourse", "web\r"}}, nil, "WebUnit.Command[1]"},
		{"DEL in env file path", WebUnit{Command: cmd, EnvironmentFile: "/etc/x\x7f"}, nil, "WebUnit.EnvironmentFile"},
		{"tab in work dir", WebUnit{Command: cmd, WorkDir: "/srv/\tx"}, nil, "WebUnit.WorkDir"},
		{"invalid UTF-8", WebUnit{Command: cmd, Description: "\xff"}, nil, "WebUnit.Description"},
		{"relative program", WebUnit{Command: []string{"concourse", "web"}}, nil, "WebUnit.Command[0]"},
		{"no command", WebUnit{}, nil, "WebUnit.Command"},
		{"relative env file", WebUnit{Command: cmd, EnvironmentFile: "web.env"}, nil, "WebUnit.EnvironmentFile"},
		{"unclean path", WebUnit{Command: cmd, WorkDir: "/srv/../etc"}, nil, "WebUnit.WorkDir"},
		{"space in path", WebUnit{Command: cmd, LogFile: "/var/log/my web.log"}, nil, "WebUnit.LogFile"},
		{"bad user", WebUnit{Command: cmd, User: "1; rm"}, nil, "WebUnit.User"},
		{"bad target", WebUnit{Command: cmd, WantedBy: "multi-user"}, nil, "WebUnit.WantedBy"},
		{"bad name", WebUnit{Command: cmd, Name: "../x.service"}, nil, "WebUnit.Name"},
		{"negative restart delay", WebUnit{Command: cmd, RestartDelay: -time.Second}, nil, "WebUnit.RestartDelay"},
		{"negative drain timeout", WebUnit{}, &WorkerUnit{Command: cmd, DrainTimeout: -time.Second}, "WorkerUnit.DrainTimeout"},
		{"newline in worker log file", WebUnit{}, &WorkerUnit{Command: cmd, LogFile: "/var/log/w\n.log"}, "WorkerUnit.LogFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			var uf UnitFile
			if tt.worker != nil {
				uf, err = tt.worker.Render()
				_, optErr := tt.worker.Options()
				assert.ErrorIs(t, optErr, ErrInvalidValue)
			} else {
				uf, err = tt.web.Render()
				_, optErr := tt.web.Options()
				assert.ErrorIs(t, optErr, ErrInvalidValue)
			}
			require.ErrorIs(t, err, ErrInvalidValue)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.wantField, ve.Field)
			assert.Contains(t, err.Error(), tt.wantField)
			assert.Contains(t, err.Error(), "nothing was written")
			assert.Empty(t, uf.Content, "nothing is rendered from bad input")
		})
	}
}

func TestUnitValidationReportsEveryBadField(t *testing.T) {
	t.Parallel()
	_, err := WebUnit{Command: []string{"relative"}, User: "a\nb", WorkDir: "rel"}.Render()
	require.Error(t, err)
	var fields []string
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	for _, e := range joined.Unwrap() {
		var ve *ValidationError
		require.ErrorAs(t, e, &ve)
		fields = append(fields, ve.Field)
	}
	assert.ElementsMatch(t, []string{"WebUnit.Command[0]", "WebUnit.User", "WebUnit.WorkDir"}, fields)
}

func TestSystemdDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{3 * time.Second, "3s"},
		{10 * time.Minute, "600s"},
		{1500 * time.Millisecond, "1500ms"},
		{1500 * time.Microsecond, "1500us"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, systemdDuration(tt.in))
	}
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		data     string
		n        int
		cutFirst bool
		want     []string
	}{
		{"empty", "", 3, false, nil},
		{"fewer than n", "a\nb\n", 3, false, []string{"a", "b"}},
		{"more than n", "a\nb\nc\nd\n", 2, false, []string{"c", "d"}},
		{"no final newline", "a\nb", 5, false, []string{"a", "b"}},
		{"cut first line dropped", "tial\nb\nc\n", 5, true, []string{"b", "c"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, lastLines([]byte(tt.data), tt.n, tt.cutFirst), tt.name)
	}
	long := strings.Repeat("x", logTailBytes) + "\nlast\n"
	assert.Equal(t, []string{"last"}, lastLines([]byte(long[len(long)-logTailBytes:]), 5, true))
}
