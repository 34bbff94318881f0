package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// DefaultVerifyTimeout bounds `concourse --version`.
const DefaultVerifyTimeout = 30 * time.Second

// VerifyBinary checks that dir/concourse/bin/concourse is an executable file
// whose `--version` prints want, within timeout.
func VerifyBinary(ctx context.Context, dir string, want version.Version, timeout time.Duration) error {
	bin := filepath.Join(dir, ReleaseBinary)
	fi, err := os.Lstat(bin)
	if err != nil {
		return &BadReleaseError{Binary: bin, Version: want, Problem: "missing from the archive"}
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return &BadReleaseError{Binary: bin, Version: want, Problem: fmt.Sprintf("not an executable file (mode %s)", fi.Mode())}
	}
	if timeout <= 0 {
		timeout = DefaultVerifyTimeout
	}
	out, err := runVersion(ctx, bin, want, timeout)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != want.String() {
		e := &BadReleaseError{Binary: bin, Version: want, Problem: fmt.Sprintf("--version printed %q", got)}
		e.Other, _ = version.Parse(got)
		return e
	}
	return nil
}

// runVersion runs bin --version. A just-written executable can be briefly
// "busy" while another goroutine's fork still holds its write descriptor
// (fork before exec's close-on-exec), so ETXTBSY is retried.
func runVersion(parent context.Context, bin string, version version.Version, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, "--version")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		if errors.Is(err, syscall.ETXTBSY) && attempt < 20 {
			if serr := sleepContext(ctx, 10*time.Millisecond); serr == nil {
				continue
			}
		}
		switch {
		case err == nil:
			return stdout.String(), nil
		case parent.Err() != nil:
			return "", parent.Err()
		case ctx.Err() != nil:
			return "", &BadReleaseError{Binary: bin, Version: version, Problem: fmt.Sprintf("--version did not finish within %s", timeout)}
		default:
			return "", &BadReleaseError{Binary: bin, Version: version, Problem: fmt.Sprintf("--version failed: %v: %s", err, strings.TrimSpace(stderr.String()))}
		}
	}
}
