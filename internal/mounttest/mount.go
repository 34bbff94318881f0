//go:build !unit

package mounttest

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size (e.g. "1m") at dir and unmounts it
// when the test ends. Without root the test fails: a skipped test would
// pass without testing anything.
func Tmpfs(t testing.TB, dir, size string) {
	t.Helper()
	mustMount(t, "a small tmpfs", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir)
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
}

// ReadOnly makes dst a read-only bind mount of src (chmod 555 does not stop
// root) and unmounts it when the test ends.
func ReadOnly(t testing.TB, src, dst string) {
	t.Helper()
	mustMount(t, "a read-only bind mount", "--bind", src, dst)
	t.Cleanup(func() { _ = exec.Command("umount", dst).Run() })
	mustMount(t, "a read-only bind mount", "-o", "remount,ro,bind", dst)
}

func mustMount(t testing.TB, what string, args ...string) {
	t.Helper()
	if err := mount(args...); err != nil {
		t.Fatalf("cannot set up %s (the tests outside `make unit` run as root, as .ci/run does): %v", what, err)
	}
}

func mount(args ...string) error {
	out, err := exec.Command("mount", args...).CombinedOutput()
	if err != nil {
		return errors.New("mount " + strings.Join(args, " ") + ": " + err.Error() + ": " + strings.TrimSpace(string(out)))
	}
	return nil
}
