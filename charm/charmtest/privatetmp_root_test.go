//go:build !unit

package charmtest

import (
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// privateTmpEnv names the test a child process runs in its private /tmp.
const privateTmpEnv = "CHARMTEST_PRIVATE_TMP"

// inPrivateTmp runs the calling test again in a child process with a mount
// namespace of its own and a fresh tmpfs as its temp dir: the searches
// clone whole worlds thousands of times, which a busy disk makes slow, and
// everything they write then lives in memory and vanishes with the child,
// also when the test binary is killed (the child gets SIGKILL when it
// does). It returns true in the child (run the test's body there) and false
// in the parent, whose result is the child's.
func inPrivateTmp(t *testing.T) bool {
	t.Helper()
	if os.Getenv(privateTmpEnv) == t.Name() {
		return true
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"--mount", "--propagation", "private", "--", "sh", "-c",
		`mount -t tmpfs -o size=2g tmpfs "$1" && shift && export TMPDIR="$0" && exec "$@"`, dir, dir,
		self, "-test.run", "^" + t.Name() + "$", "-test.v", "-test.count=1", "-test.timeout=" + flag.Lookup("test.timeout").Value.String()}
	flag.Visit(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "test.") {
			args = append(args, "-"+f.Name+"="+f.Value.String())
		}
	})
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		// PR_SET_PDEATHSIG fires when the starting thread exits: keep it.
		runtime.LockOSThread()
		cmd := exec.Command("unshare", args...)
		cmd.Env = append(os.Environ(), privateTmpEnv+"="+t.Name())
		cmd.Stdout, cmd.Stderr = &out, &out
		if testing.Verbose() {
			// A long search (make soak) shows its progress as it goes.
			cmd.Stdout = io.MultiWriter(&out, os.Stdout)
			cmd.Stderr = cmd.Stdout
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		done <- cmd.Run()
	}()
	err = <-done
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if strings.Contains(line, ".go:") || strings.HasPrefix(strings.TrimSpace(line), "schedule:") || strings.Contains(line, "---") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if err != nil {
		t.Fatalf("the test in its private temp dir failed: %v\n%s", err, tail(out.String(), 4000))
	}
	return false
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
