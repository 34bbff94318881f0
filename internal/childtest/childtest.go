// Package childtest re-executes the test binary as a child process that
// plays one role, for tests where units are separate OS processes (the
// standard helper-process pattern, in one place). A child dies with the
// test binary, also when that is SIGKILLed (Pdeathsig), and is killed when
// its test ends if it still runs.
//
// The test binary's helper test calls Role first: in a child it gets the
// role and its arguments, runs it and exits; in the test binary itself it
// gets "" and returns at once.
package childtest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// roleEnv carries the role to the child.
const roleEnv = "CHILDTEST_ROLE"

// Guard bounds every wait for a child; it is a deadlock guard, never what
// a test measures.
const Guard = 2 * time.Minute

// Role is the role this process was started in and the arguments it was
// given; "" in the test binary itself.
func Role() (role string, args []string) {
	role = os.Getenv(roleEnv)
	if role == "" {
		return "", nil
	}
	for i, a := range os.Args {
		if a == "--" {
			return role, os.Args[i+1:]
		}
	}
	return role, nil
}

// Child is a started child and its pipes.
type Child struct {
	Cmd *exec.Cmd
	// Stdin is the child's standard input; closing it is a signal that
	// reaches the child also when the test binary dies.
	Stdin io.WriteCloser
	lines chan string
}

// Start re-executes the test binary running only the test named helper,
// which plays role with args.
func Start(t testing.TB, helper, role string, args ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^" + helper + "$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), roleEnv+"="+role)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{Cmd: cmd, Stdin: stdin, lines: make(chan string, 64)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return c
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Lines delivers the child's output a line at a time, and is closed when
// the child closes its output.
func (c *Child) Lines() <-chan string { return c.lines }

// Next is the child's next output line. It fails the test when the child
// ends without one, or says nothing for Guard.
func (c *Child) Next(t testing.TB) string {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			t.Fatalf("child pid %d ended without another line", c.Pid())
		}
		return line
	case <-time.After(Guard):
		t.Fatalf("child pid %d said nothing for %s", c.Pid(), Guard)
		return ""
	}
}

// Wait discards what the child still says and waits for it to end; the
// error is how it ended (nil: status 0).
func (c *Child) Wait() error {
	for range c.lines {
	}
	return c.Cmd.Wait()
}
