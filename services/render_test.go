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

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
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

// testUnit is a charm unit for rendering tests.
var testUnit = unitname.MustParse("concourse-ci/3")

func TestWebUnitRender(t *testing.T) {
	t.Parallel()
	uf, err := WebUnit{
		Unit:            testUnit,
		Command:         []string{"/srv/concourse/current/bin/concourse", "web"},
		User:            "concourse",
		Group:           "concourse",
		EnvironmentFile: "/etc/concourse/web.env",
		WorkDir:         "/var/lib/concourse",
	}.Render()
	require.NoError(t, err)
	assert.Equal(t, "concourse-web-concourse-ci-3.service", uf.Name)
	s := settings(t, uf)

	want := map[string]string{
		"Unit.Description":         "Concourse CI web (ATC and TSA) of concourse-ci/3",
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
	assert.NotContains(t, s, "Service.ExecStop", "web stops on SIGTERM")
}

func TestWorkerUnitRender(t *testing.T) {
	t.Parallel()
	uf, err := WorkerUnit{
		Unit:         testUnit,
		Command:      []string{"/srv/concourse/current/bin/concourse", "worker"},
		DrainHelper:  []string{"/var/lib/juju/agents/unit-concourse-ci-3/charm/concourse-ci-machine", "drain-worker"},
		WorkDir:      "/srv/concourse/workers/concourse-ci-3",
		MountsUnder:  "/srv/concourse/workers/concourse-ci-3/work",
		LogFile:      "/var/log/concourse/worker.log",
		DrainTimeout: 90 * time.Second,
		StopGrace:    20 * time.Second,
	}.Render()
	require.NoError(t, err)
	assert.Equal(t, "concourse-worker-concourse-ci-3.service", uf.Name)
	s := settings(t, uf)

	helper := "/var/lib/juju/agents/unit-concourse-ci-3/charm/concourse-ci-machine drain-worker"
	want := map[string]string{
		"Unit.Description":        "Concourse CI worker of concourse-ci/3",
		"Service.ExecStop":        helper + " --timeout=90s --grace=20s --state-dir=/run/concourse-ci-machine/drain/concourse-worker-concourse-ci-3.service",
		"Service.ExecStopPost":    helper + " --unmount-under=/srv/concourse/workers/concourse-ci-3/work",
		"Service.KillMode":        "mixed",
		"Service.KillSignal":      "SIGTERM",
		"Service.TimeoutStopSec":  "125s",
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

	def, err := WorkerUnit{Unit: testUnit, Command: []string{"/bin/concourse", "worker"}, DrainHelper: []string{"/bin/ccm", "drain-worker"}}.Render()
	require.NoError(t, err)
	ds := settings(t, def)
	assert.Equal(t, []string{"/bin/ccm drain-worker --timeout=600s --grace=30s --state-dir=/run/concourse-ci-machine/drain/concourse-worker-concourse-ci-3.service"}, ds["Service.ExecStop"], "default drain timeout and grace")
	assert.Equal(t, []string{"645s"}, ds["Service.TimeoutStopSec"], "drain + grace + the helper's margin")
	assert.NotContains(t, ds, "Service.ExecStopPost")
}

func TestUnitNames(t *testing.T) {
	t.Parallel()
	u := unitname.MustParse("concourse-ci/12")
	assert.Equal(t, "concourse-web-concourse-ci-12.service", WebUnitName(u))
	assert.Equal(t, "concourse-worker-concourse-ci-12.service", WorkerUnitName(u))

	longest := unitname.Name{App: "a" + strings.Repeat("b", unitname.MaxAppLen-1), Number: 999_999_999}
	require.NoError(t, unitname.CheckApp(longest.App))
	assert.NoError(t, checkUnitName("name", WorkerUnitName(longest)), "the longest charm unit name fits systemd's limit")

	tests := []struct {
		name string
		ok   bool
	}{
		{"concourse-worker-a-0.service", true},
		{"with:colon_and.dot.service", true},
		{strings.Repeat("a", 247) + ".service", true},
		{strings.Repeat("a", 248) + ".service", false}, // 256 characters
		{"../x.service", false},
		{"a b.service", false},
		{"template@x.service", false},
		{"x.target", false},
		{".service", false},
	}
	for _, tt := range tests {
		err := checkUnitName("name", tt.name)
		if tt.ok {
			assert.NoError(t, err, tt.name)
		} else {
			var ve *ValidationError
			assert.ErrorAs(t, err, &ve, tt.name)
		}
	}
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
		Unit:        testUnit,
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
	helper := []string{"/bin/ccm", "drain-worker"}
	u := testUnit
	tests := []struct {
		name      string
		web       WebUnit
		worker    *WorkerUnit
		wantField string
	}{
		{"newline in description", WebUnit{Unit: u, Command: cmd, Description: "a\nExecStartPre=/bin/evil"}, nil, "WebUnit.Description"},
		{"description ending in a backslash", WebUnit{Unit: u, Command: cmd, Description: `trailing\`}, nil, "WebUnit.Description"},
		{"description with leading space", WebUnit{Unit: u, Command: cmd, Description: " lead"}, nil, "WebUnit.Description"},
		{"newline in user", WebUnit{Unit: u, Command: cmd, User: "root\n"}, nil, "WebUnit.User"},
		{"NUL in argument", WebUnit{Unit: u, Command: []string{"/bin/concourse", "we\x00b"}}, nil, "WebUnit.Command[1]"},
		{"carriage return in argument", WebUnit{Unit: u, Command: []string{"/bin/concourse", "web\r"}}, nil, "WebUnit.Command[1]"},
		{"DEL in env file path", WebUnit{Unit: u, Command: cmd, EnvironmentFile: "/etc/x\x7f"}, nil, "WebUnit.EnvironmentFile"},
		{"tab in work dir", WebUnit{Unit: u, Command: cmd, WorkDir: "/srv/\tx"}, nil, "WebUnit.WorkDir"},
		{"invalid UTF-8", WebUnit{Unit: u, Command: cmd, Description: "\xff"}, nil, "WebUnit.Description"},
		{"relative program", WebUnit{Unit: u, Command: []string{"concourse", "web"}}, nil, "WebUnit.Command[0]"},
		{"no command", WebUnit{Unit: u}, nil, "WebUnit.Command"},
		{"no unit", WebUnit{Command: cmd}, nil, "WebUnit.Unit"},
		{"relative env file", WebUnit{Unit: u, Command: cmd, EnvironmentFile: "web.env"}, nil, "WebUnit.EnvironmentFile"},
		{"unclean path", WebUnit{Unit: u, Command: cmd, WorkDir: "/srv/../etc"}, nil, "WebUnit.WorkDir"},
		{"space in path", WebUnit{Unit: u, Command: cmd, LogFile: "/var/log/my web.log"}, nil, "WebUnit.LogFile"},
		{"bad user", WebUnit{Unit: u, Command: cmd, User: "1; rm"}, nil, "WebUnit.User"},
		{"bad target", WebUnit{Unit: u, Command: cmd, WantedBy: "multi-user"}, nil, "WebUnit.WantedBy"},
		{"negative restart delay", WebUnit{Unit: u, Command: cmd, RestartDelay: -time.Second}, nil, "WebUnit.RestartDelay"},
		{"negative drain timeout", WebUnit{}, &WorkerUnit{Unit: u, Command: cmd, DrainHelper: helper, DrainTimeout: -time.Second}, "WorkerUnit.DrainTimeout"},
		{"negative grace", WebUnit{}, &WorkerUnit{Unit: u, Command: cmd, DrainHelper: helper, StopGrace: -time.Second}, "WorkerUnit.StopGrace"},
		{"no drain helper", WebUnit{}, &WorkerUnit{Unit: u, Command: cmd}, "WorkerUnit.DrainHelper"},
		{"relative drain helper", WebUnit{}, &WorkerUnit{Unit: u, Command: cmd, DrainHelper: []string{"ccm"}}, "WorkerUnit.DrainHelper[0]"},
		{"relative mounts dir", WebUnit{}, &WorkerUnit{Unit: u, Command: cmd, DrainHelper: helper, MountsUnder: "work"}, "WorkerUnit.MountsUnder"},
		{"newline in worker log file", WebUnit{}, &WorkerUnit{Unit: u, Command: cmd, DrainHelper: helper, LogFile: "/var/log/w\n.log"}, "WorkerUnit.LogFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			var uf UnitFile
			if tt.worker != nil {
				uf, err = tt.worker.Render()
			} else {
				uf, err = tt.web.Render()
			}
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.wantField, ve.Field)
			assert.Contains(t, err.Error(), tt.wantField)
			assert.Empty(t, uf.Content, "nothing is rendered from bad input")
		})
	}
}

func TestUnitValidationReportsEveryBadField(t *testing.T) {
	t.Parallel()
	_, err := WebUnit{Unit: testUnit, Command: []string{"relative"}, User: "a\nb", WorkDir: "rel"}.Render()
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
