package systemdtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BaseDir holds every instance's root. It is not under /tmp or /var/tmp, so
// units with PrivateTmp=yes see the files tests put there.
const BaseDir = "/var/lib/concourse-ci-machine-systemdtest"

// Paths inside the namespace, as its systemd sees them.
const (
	privateSocketInside = "/run/systemd/private"
	unitDirInside       = "/etc/systemd/system"
)

// Instance is one private system-mode systemd.
type Instance struct {
	// Root is the instance's own directory; the reaper removes it.
	Root string
	// PID is the namespace's PID 1 (systemd) as this process sees it.
	PID int
	// ManagerRoot is the namespace's root directory as this process sees it
	// (/proc/PID/root): a path systemd reports (a unit's FragmentPath, a
	// MainPID-relative file) is read from here under ManagerRoot.
	ManagerRoot string
	// PrivateSocket speaks systemd's private D-Bus protocol (no bus daemon,
	// no Hello), as /run/systemd/private does in production: a proxy inside
	// the namespace relays it there, because systemd drops D-Bus peers
	// outside its PID namespace. It is in Root.
	PrivateSocket string
	// UnitDir is /etc/systemd/system of the namespace (a tmpfs there).
	UnitDir string
	// ScratchDir is for files units must see: programs, environment and log
	// files, state. Units see it at the same path.
	ScratchDir string
	// Cgroups are the instance's cgroup directories, one per hierarchy.
	Cgroups []string

	reaper   *exec.Cmd
	reaperIn *os.File // the write end of the reaper's pipe: closing it tears down
	errOut   *lockedBuffer
	exited   chan struct{} // closed when the reaper has exited
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// Start launches a private systemd and waits until it answers on its
// socket. It must run as root on Linux with the systemd package. Call Stop
// when done; the reaper takes the instance down by itself if this process
// ends first.
func Start(ctx context.Context) (*Instance, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("systemdtest: must run as root (namespaces, cgroups and mounts)")
	}
	for _, bin := range []string{"/lib/systemd/systemd", "systemctl", "unshare", "nsenter", "setpriv"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("systemdtest: %s not found (apt-get install systemd util-linux): %w", bin, err)
		}
	}
	if err := pruneLeftovers(); err != nil {
		return nil, err
	}
	i := &Instance{errOut: &lockedBuffer{}, exited: make(chan struct{})}
	if err := i.start(ctx); err != nil {
		return nil, errors.Join(err, i.Stop())
	}
	return i, nil
}

func (i *Instance) start(ctx context.Context) error {
	if err := i.makeRoot(); err != nil {
		return err
	}
	units, empty := filepath.Join(i.Root, "units"), filepath.Join(i.Root, "empty")
	i.ScratchDir = filepath.Join(i.Root, "scratch")
	for _, d := range []string{units, empty, i.ScratchDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("systemdtest: %w", err)
		}
	}
	i.PrivateSocket = filepath.Join(i.Root, "private")
	if err := writeStandIns(units, i.PrivateSocket); err != nil {
		return fmt.Errorf("systemdtest: stand-in targets: %w", err)
	}
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	init := filepath.Join(i.Root, "init.sh")
	if err := os.WriteFile(init, []byte(initScript(hs, units, empty)), 0o644); err != nil {
		return fmt.Errorf("systemdtest: %w", err)
	}
	i.Cgroups, err = createCgroups(hs, "systemdtest-"+filepath.Base(i.Root))
	if err != nil {
		for _, d := range i.Cgroups {
			_ = syscall.Rmdir(d)
		}
		return err
	}
	nsParent, err := i.startReaper(init)
	if err != nil {
		return err
	}
	if err := i.recordForPrune(); err != nil {
		return err
	}
	if i.PID, err = i.waitForChild(ctx, nsParent); err != nil {
		return err
	}
	i.ManagerRoot = filepath.Join("/proc", strconv.Itoa(i.PID), "root")
	i.UnitDir = filepath.Join(i.ManagerRoot, unitDirInside)
	return i.waitReady(ctx)
}

// makeRoot creates Root in BaseDir. A reaper may remove an empty BaseDir
// between the two steps, hence the retry.
func (i *Instance) makeRoot() error {
	var err error
	for range 10 {
		if err = os.MkdirAll(BaseDir, 0o755); err != nil {
			continue
		}
		if i.Root, err = os.MkdirTemp(BaseDir, strconv.Itoa(os.Getpid())+"-"); err == nil {
			return os.Chmod(i.Root, 0o755)
		}
	}
	return fmt.Errorf("systemdtest: create a directory in %s: %w", BaseDir, err)
}

// startReaper starts the reaper, which starts the namespace and prints the
// PID of the namespace's parent (unshare).
func (i *Instance) startReaper(init string) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("systemdtest: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", reaperScript, "reaper", i.Root, init}, i.Cgroups...)...)
	cmd.Stdin = r
	cmd.Stderr = i.errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		w.Close()
		return 0, fmt.Errorf("systemdtest: %w", err)
	}
	// A session of its own: a Ctrl-C to the test's process group must not
	// kill the reaper before it has cleaned up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("systemdtest: start the reaper: %w", err)
	}
	i.reaper, i.reaperIn = cmd, w
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() {
		_, _ = io.Copy(io.Discard, out)
		i.waitErr = cmd.Wait()
		close(i.exited)
	}()
	if err != nil {
		return 0, fmt.Errorf("systemdtest: the reaper said nothing: %w; %s", err, i.errOut)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("systemdtest: the reaper printed %q, not a PID", line)
	}
	return pid, nil
}

// waitForChild waits for unshare's child, the namespace's PID 1.
func (i *Instance) waitForChild(ctx context.Context, parent int) (int, error) {
	children := fmt.Sprintf("/proc/%d/task/%d/children", parent, parent)
	var pid int
	err := i.poll(ctx, "the namespace's PID 1 to appear", func() bool {
		data, err := os.ReadFile(children)
		if err != nil {
			return false
		}
		fields := strings.Fields(string(data))
		if len(fields) == 0 {
			return false
		}
		pid, err = strconv.Atoi(fields[0])
		return err == nil
	})
	return pid, err
}

// waitReady waits until systemd answers and has finished starting up.
func (i *Instance) waitReady(ctx context.Context) error {
	return i.poll(ctx, "systemd to answer", func() bool {
		for _, s := range []string{filepath.Join(i.ManagerRoot, privateSocketInside), i.PrivateSocket} {
			if st, err := os.Stat(s); err != nil || st.Mode()&fs.ModeSocket == 0 {
				return false
			}
		}
		out, _ := i.Systemctl(ctx, "is-system-running")
		state := strings.TrimSpace(string(out))
		return state == "running" || state == "degraded"
	})
}

// poll checks ready until it holds, the reaper exits, or ctx ends.
func (i *Instance) poll(ctx context.Context, what string, ready func() bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		select {
		case <-i.exited:
			return fmt.Errorf("systemdtest: waiting for %s: the reaper exited (%v): %s; systemd's output: %s", what, i.waitErr, i.errOut, i.Log())
		case <-ctx.Done():
			return fmt.Errorf("systemdtest: waiting for %s: %w; systemd's output: %s", what, ctx.Err(), i.Log())
		case <-tick.C:
		}
	}
}

// Log returns what the namespace's processes printed (systemd logs to its
// console), for error messages.
func (i *Instance) Log() string {
	data, _ := os.ReadFile(filepath.Join(i.Root, "systemd.log"))
	return string(bytes.TrimSpace(data))
}

// Command returns a command that runs argv inside the namespace (its
// mounts and PIDs), in dir (nsenter resets the working directory).
func (i *Instance) Command(ctx context.Context, dir string, argv ...string) *exec.Cmd {
	args := append([]string{"-t", strconv.Itoa(i.PID), "-m", "-p", "--", "env", "-C", orRoot(dir)}, argv...)
	return exec.CommandContext(ctx, "nsenter", args...)
}

func orRoot(dir string) string {
	if dir == "" {
		return "/"
	}
	return dir
}

// Systemctl runs `systemctl args...` against this instance.
func (i *Instance) Systemctl(ctx context.Context, args ...string) ([]byte, error) {
	out, err := i.Command(ctx, "", append([]string{"systemctl"}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// HostPID maps a PID as the namespace sees it (a unit's MainPID) to this
// process's view; 0 when no such process exists.
func (i *Instance) HostPID(nsPID uint32) int {
	ns, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(i.PID), "ns", "pid"))
	if err != nil {
		return 0
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if other, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "pid")); err != nil || other != ns {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(strings.TrimPrefix(line, "NSpid:")); strings.HasPrefix(line, "NSpid:") && len(f) > 0 && f[len(f)-1] == strconv.Itoa(int(nsPID)) {
				return pid
			}
		}
	}
	return 0
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
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("systemdtest: %w", err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return "", fmt.Errorf("systemdtest: write %s: %w", dst, err)
	}
	return dst, nil
}

// ReaperPID is the reaper's PID (for tests that check it exits).
func (i *Instance) ReaperPID() int {
	if i.reaper == nil || i.reaper.Process == nil {
		return 0
	}
	return i.reaper.Process.Pid
}

// stopTimeout bounds how long Stop waits for the reaper; a deadlock guard.
const stopTimeout = 2 * time.Minute

// Stop tears the instance down (the reaper does it: the same path as when
// this process dies) and reports anything the reaper could not remove. It
// is safe to call twice and after a failed Start.
func (i *Instance) Stop() error {
	i.stopOnce.Do(func() { i.stopErr = i.stop() })
	return i.stopErr
}

func (i *Instance) stop() error {
	if i.reaper == nil {
		if i.Root != "" {
			return os.RemoveAll(i.Root)
		}
		return nil
	}
	i.reaperIn.Close()
	select {
	case <-i.exited:
	case <-time.After(stopTimeout):
		return fmt.Errorf("systemdtest: the reaper (pid %d) did not finish within %v: %s", i.reaper.Process.Pid, stopTimeout, i.errOut)
	}
	if i.waitErr != nil {
		return fmt.Errorf("systemdtest: the reaper failed (%v): %s", i.waitErr, i.errOut)
	}
	return nil
}

// lockedBuffer collects the reaper's error output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
