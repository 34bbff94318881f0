package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/childtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// Child roles.
const (
	roleInstall = "install" // double-checked install under the lock
	roleHang    = "hang"    // take the lock, leave a mess, block until killed
	roleHammer  = "hammer"  // take and release the lock until stdin closes
	roleUmask   = "umask"   // under umask 077, write everything the charm writes
)

// TestHelperProcess is not a test: it is the body of the child processes
// that the multi-process tests and benchmarks start. Run normally it returns
// at once.
func TestHelperProcess(t *testing.T) {
	role, args := childtest.Role()
	if role == "" {
		return
	}
	if err := runHelperRole(role, args); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runHelperRole(role string, args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("want ROOT UNIT, got %q", args)
	}
	root, unit := args[0], args[1]
	if role == roleUmask { // before the volume is opened: that writes too
		syscall.Umask(0o077)
	}
	v, err := OpenVolume(root, WithLockPoll(time.Millisecond, 20*time.Millisecond))
	if err != nil {
		return err
	}
	switch role {
	case roleInstall:
		return helperInstall(v, unit)
	case roleHang:
		return helperHang(v, unit)
	case roleHammer:
		return helperHammer(v, unit)
	case roleUmask:
		return helperUmask(root, unit, args[2:])
	}
	return fmt.Errorf("unknown role %q", role)
}

// helperInstall waits for the start signal (a byte on stdin) so that all
// children race at once, then does the double-checked install and prints
// "worked" or "saw <unit that installed>".
func helperInstall(v *Volume, unit string) error {
	if _, err := os.Stdin.Read(make([]byte, 1)); err != nil {
		return fmt.Errorf("wait for the start signal: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // deadlock guard
	defer cancel()
	l, err := v.Lock(ctx, Holder{Unit: unit})
	if err != nil {
		return err
	}
	defer l.Release()
	iv, err := v.ReadInstalledVersion()
	if err != nil {
		return err
	}
	if iv != nil {
		fmt.Println("saw", iv.Unit)
		return nil
	}
	if err := l.WriteProgress(version.MustParse("1.0.0")); err != nil {
		return err
	}
	f, err := os.OpenFile(v.Path("work.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, unit)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Mkdir(v.ReleaseDir(version.MustParse("1.0.0")), 0o755); err != nil {
		return err
	}
	if err := l.writeInstalledVersion(version.MustParse("1.0.0"), testSum("1.0.0")); err != nil {
		return err
	}
	if err := l.ClearProgress(); err != nil {
		return err
	}
	fmt.Println("worked")
	return l.Release()
}

// helperHang takes the lock, writes a progress marker, a partial release
// and a stray temporary file, says "ready" and blocks until killed (or until
// its parent goes away and stdin closes).
func helperHang(v *Volume, unit string) error {
	l, err := v.TryLock(Holder{Unit: unit})
	if err != nil {
		return err
	}
	if err := l.WriteProgress(version.MustParse("2.0.0")); err != nil {
		return err
	}
	partial := v.Path(ReleasesDir, "2.0.0"+PartialInfix+"dead")
	if err := os.MkdirAll(filepath.Join(partial, "concourse", "bin"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(partial, "concourse", "bin", "concourse"), []byte("half a binary"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(v.Path(InstalledVersionFile+TempInfix+"dead"), []byte("{\"vers"), 0o644); err != nil {
		return err
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return errors.New("stdin closed before the kill")
}

// helperHammer takes and releases the lock as fast as it can until stdin
// closes, then prints how many times it got it.
func helperHammer(v *Volume, unit string) error {
	var stop atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	fmt.Println("started")
	n := 0
	for !stop.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		l, err := v.Lock(ctx, Holder{Unit: unit})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			return err
		}
		n++
		if err := l.Release(); err != nil {
			return err
		}
	}
	fmt.Println("acquired", n)
	return nil
}

// helperUmask writes, under the umask 077 the role set, everything a unit
// writes on the volume: the layout, a release from the tarball at args[0]
// (pinned to args[1]), `current` with its fence and marker, the token, its
// worker directory and registry entry, and a progress marker and holder
// record left as by a holder that died.
func helperUmask(root, unit string, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want TARBALL SHA256, got %q", args)
	}
	v, err := OpenVolume(root)
	if err != nil {
		return err
	}
	l, err := v.TryLock(Holder{Unit: unit})
	if err != nil {
		return err
	}
	release := version.MustParse("7.14.3")
	p, err := l.FetchRelease(context.Background(), release, FetchSpec{Source: FileSource(args[0]), SHA256: args[1]})
	if err != nil {
		return err
	}
	if err := p.Verify(context.Background(), 0); err != nil {
		return err
	}
	if _, err := p.Commit(); err != nil {
		return err
	}
	if err := l.SwitchCurrent(release, 1); err != nil {
		return err
	}
	if _, err := l.EnsureVolumeID(); err != nil {
		return err
	}
	if err := l.SetUnitRelease(unit, release); err != nil {
		return err
	}
	return l.WriteProgress(release) // and exit holding the lock
}

// startHelper re-executes the test binary in role with ROOT UNIT and the
// role's own arguments.
func startHelper(t testing.TB, role, root, unit string, args ...string) *childtest.Child {
	t.Helper()
	return childtest.Start(t, "TestHelperProcess", role, append([]string{root, unit}, args...)...)
}
