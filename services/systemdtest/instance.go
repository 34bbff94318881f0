package systemdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Instance is one private `systemd --user` and the dbus-daemon it talks on.
type Instance struct {
	// RuntimeDir is the instance's XDG_RUNTIME_DIR (mode 0700).
	RuntimeDir string
	// ConfigDir is the instance's XDG_CONFIG_HOME.
	ConfigDir string
	// BusAddress is the dbus-daemon's address (a bus daemon: needs Hello).
	BusAddress string
	// PrivateSocket is systemd's own socket (no bus daemon, no Hello).
	PrivateSocket string
	// UnitDir is a directory on the manager's unit search path where tests
	// install unit files ($XDG_CONFIG_HOME/systemd/user).
	UnitDir string
	// ScratchDir is for files units must see: programs, environment and
	// log files. It is outside /tmp and /var/tmp, which a unit with
	// PrivateTmp=yes (the web unit) sees replaced by its own empty ones.
	ScratchDir string

	dbus      *exec.Cmd
	systemd   *exec.Cmd
	logs      *bytes.Buffer // both children's stdout and stderr, for error messages
	users     runDirUsers
	cgroup    instanceCgroup
	stopOnce  sync.Once
	stopErr   error
	mu        sync.Mutex // guards logs and exitedErr
	exitedErr map[*exec.Cmd]error
	exited    map[*exec.Cmd]chan struct{}
}

// Start launches dbus-daemon and `systemd --user` with fresh directories and
// waits until systemd answers on its bus. It must run as root on Linux with
// the systemd and dbus packages installed. Call Stop when done; Stop is also
// safe after a failed Start (Start cleans up after itself then).
func Start(ctx context.Context) (*Instance, error) {
	for _, bin := range []string{"systemd", "dbus-daemon", "systemctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("systemdtest: %s not found on PATH (apt-get install systemd dbus): %w", bin, err)
		}
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("systemdtest: must run as root (systemd --user needs %s to exist)", SystemdRunDir)
	}
	inst := &Instance{
		logs:      &bytes.Buffer{},
		users:     defaultRunDirUsers(),
		exitedErr: map[*exec.Cmd]error{},
		exited:    map[*exec.Cmd]chan struct{}{},
	}
	if err := inst.start(ctx); err != nil {
		stopErr := inst.Stop()
		return nil, errors.Join(err, stopErr)
	}
	return inst, nil
}

func (i *Instance) start(ctx context.Context) error {
	var err error
	if i.RuntimeDir, err = os.MkdirTemp("", "systemdtest-run-"); err != nil {
		return fmt.Errorf("systemdtest: runtime dir: %w", err)
	}
	if i.ConfigDir, err = os.MkdirTemp("", "systemdtest-config-"); err != nil {
		return fmt.Errorf("systemdtest: config dir: %w", err)
	}
	if err := os.MkdirAll(registryDir, 0o755); err != nil {
		return fmt.Errorf("systemdtest: %w", err)
	}
	if i.ScratchDir, err = os.MkdirTemp(registryDir, "scratch-"); err != nil {
		return fmt.Errorf("systemdtest: scratch dir: %w", err)
	}
	i.UnitDir = filepath.Join(i.ConfigDir, "systemd", "user")
	if err := os.MkdirAll(i.UnitDir, 0o755); err != nil {
		return fmt.Errorf("systemdtest: unit dir: %w", err)
	}
	i.BusAddress = "unix:path=" + filepath.Join(i.RuntimeDir, "bus")
	i.PrivateSocket = filepath.Join(i.RuntimeDir, "systemd", "private")

	if err := i.users.acquire(os.Getpid(), filepath.Base(i.RuntimeDir)); err != nil {
		return err
	}

	i.dbus = i.command("dbus-daemon", "--session", "--address="+i.BusAddress, "--nofork", "--nopidfile")
	if err := i.launch(i.dbus); err != nil {
		return err
	}
	if err := i.waitFor(ctx, i.dbus, func() bool { return socketExists(filepath.Join(i.RuntimeDir, "bus")) }); err != nil {
		return fmt.Errorf("systemdtest: dbus-daemon did not come up: %w", err)
	}

	// The shell moves itself into the instance's own cgroup, then becomes
	// systemd: systemd reads its cgroup at startup, so it must already be
	// there (see cgroup.go for why each instance needs its own).
	if i.cgroup, err = newInstanceCgroup("systemdtest-" + filepath.Base(i.RuntimeDir)); err != nil {
		return err
	}
	enter := `for f in "$@"; do echo $$ > "$f" || exit 1; done; exec systemd --user`
	i.systemd = i.command("/bin/sh", append([]string{"-c", enter, "sh"}, i.cgroup.procsFiles()...)...)
	if err := i.launch(i.systemd); err != nil {
		return err
	}
	if err := i.waitFor(ctx, i.systemd, i.answers); err != nil {
		return fmt.Errorf("systemdtest: systemd --user did not come up: %w", err)
	}
	return nil
}

// Env is the environment (on top of the process's own) that makes
// `systemctl --user` and friends talk to this instance.
func (i *Instance) Env() []string {
	return []string{
		"XDG_RUNTIME_DIR=" + i.RuntimeDir,
		"XDG_CONFIG_HOME=" + i.ConfigDir,
		"DBUS_SESSION_BUS_ADDRESS=" + i.BusAddress,
	}
}

// Systemctl runs `systemctl --user args...` against this instance.
func (i *Instance) Systemctl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "systemctl", append([]string{"--user"}, args...)...)
	cmd.Env = append(os.Environ(), i.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("systemctl --user %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// TempDir makes a fresh directory under ScratchDir, removed when the test
// ends.
func (i *Instance) TempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp(i.ScratchDir, "test-")
	if err != nil {
		tb.Fatalf("systemdtest: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// CopyExecutable copies the program at src into ScratchDir (mode 0755) and
// returns the copy's path: a test binary under /tmp is invisible to units
// with PrivateTmp=yes.
func (i *Instance) CopyExecutable(src string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("systemdtest: read %s: %w", src, err)
	}
	dir, err := os.MkdirTemp(i.ScratchDir, "bin-")
	if err != nil {
		return "", fmt.Errorf("systemdtest: %w", err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return "", fmt.Errorf("systemdtest: write %s: %w", dst, err)
	}
	return dst, nil
}

// command builds a child with this instance's environment, in its own
// process group so Stop can kill it and everything it spawned.
func (i *Instance) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(withoutKeys(os.Environ(), "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DBUS_SESSION_BUS_ADDRESS", "NOTIFY_SOCKET"), i.Env()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = &lockedWriter{buf: i.logs, mu: &i.mu}
	cmd.Stderr = cmd.Stdout
	cmd.Dir = i.RuntimeDir
	return cmd
}

func (i *Instance) launch(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("systemdtest: start %s: %w", cmd.Path, err)
	}
	done := make(chan struct{})
	i.mu.Lock()
	i.exited[cmd] = done
	i.mu.Unlock()
	go func() {
		err := cmd.Wait()
		i.mu.Lock()
		i.exitedErr[cmd] = err
		i.mu.Unlock()
		close(done)
	}()
	return nil
}

// waitFor polls ready until it holds, the child dies, or ctx ends.
func (i *Instance) waitFor(ctx context.Context, cmd *exec.Cmd, ready func() bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		select {
		case <-i.exited[cmd]:
			return fmt.Errorf("%s exited: %v; output: %s", cmd.Path, i.exitErr(cmd), i.Output())
		case <-ctx.Done():
			return fmt.Errorf("%w; output: %s", ctx.Err(), i.Output())
		case <-tick.C:
		}
	}
}

// answers reports whether systemd replies on the bus and finished starting.
func (i *Instance) answers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := i.Systemctl(ctx, "is-system-running")
	state := strings.TrimSpace(string(out))
	// "degraded" still answers; "starting"/"initializing" means not yet.
	return socketExists(i.PrivateSocket) && (err == nil || state == "degraded")
}

func (i *Instance) exitErr(cmd *exec.Cmd) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.exitedErr[cmd]
}

// Output is what the two children printed so far (for failure messages).
func (i *Instance) Output() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.logs.String()
}

// Stop kills both children's process groups (systemd first, so its units go
// down with it), waits for them, removes the temp dirs and releases
// /run/systemd/system. Calling it twice is harmless.
func (i *Instance) Stop() error {
	i.stopOnce.Do(func() { i.stopErr = i.stop() })
	return i.stopErr
}

func (i *Instance) stop() error {
	var errs []error
	for _, cmd := range []*exec.Cmd{i.systemd, i.dbus} {
		if err := i.killGroup(cmd); err != nil {
			errs = append(errs, err)
		}
	}
	// Units run in their own sessions, out of systemd's process group; a
	// systemd that had to be SIGKILLed leaves them behind in its cgroup.
	errs = append(errs, i.cgroup.killAll())
	for _, dir := range []string{i.RuntimeDir, i.ConfigDir, i.ScratchDir} {
		if dir != "" {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("systemdtest: remove %s: %w", dir, err))
			}
		}
	}
	if i.RuntimeDir != "" {
		if _, err := i.users.release(os.Getpid(), filepath.Base(i.RuntimeDir)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killGroup sends SIGTERM to the child's process group, then SIGKILL if it
// has not exited after a grace period, and waits for it.
func (i *Instance) killGroup(cmd *exec.Cmd) error {
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	done := i.exited[cmd]
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("systemdtest: %s (pid %d) did not exit after SIGKILL", cmd.Path, pgid)
		}
	}
	// Anything left in the group (e.g. a dbus-daemon activation helper).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return nil
}

func socketExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&os.ModeSocket != 0
}

func withoutKeys(env []string, keys ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, k := range keys {
			if strings.HasPrefix(kv, k+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// lockedWriter lets both children write into one buffer.
type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
