package main

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/tools/charmpack/charmfiles"
)

// DispatchPackage is the charm's binary, packed as dispatch.
const DispatchPackage = "./cmd/concourse-ci-machine"

// Names inside the packed charm.
const (
	DispatchName   = "dispatch"
	LXDProfileName = "lxd-profile.yaml"
)

// zipTime is every entry's modification time, so packing the same tree
// twice gives the same bytes.
var zipTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Options say what to pack.
type Options struct {
	Root   string // the repository root (holding charmcraft.yaml and go.mod)
	Output string // the .charm to write
	// Dispatch is a prebuilt static binary; empty builds DispatchPackage
	// with CGO_ENABLED=0 for the charm's architecture.
	Dispatch string
	Go       string // the go command; "go" when empty
}

// Pack builds the charm: charmcraft.yaml's derived files, lxd-profile.yaml
// and dispatch, zipped into opts.Output (written atomically). It returns
// the entries written.
func Pack(ctx context.Context, opts Options) ([]string, error) {
	cc, err := charmfiles.Load(filepath.Join(opts.Root, charmfiles.FileName))
	if err != nil {
		return nil, err
	}
	files, err := cc.JujuFiles()
	if err != nil {
		return nil, err
	}
	profile, err := os.ReadFile(filepath.Join(opts.Root, LXDProfileName))
	if err != nil {
		return nil, err
	}
	files[LXDProfileName] = profile

	dispatch := opts.Dispatch
	if dispatch == "" {
		archs := cc.Architectures()
		if len(archs) != 1 {
			return nil, fmt.Errorf("charmpack: one .charm holds one dispatch binary, but the platforms name architectures %v", archs)
		}
		tmp, err := os.MkdirTemp("", "charmpack-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dispatch = filepath.Join(tmp, DispatchName)
		if err := buildDispatch(ctx, opts, archs[0], dispatch); err != nil {
			return nil, err
		}
	}
	bin, err := os.ReadFile(dispatch)
	if err != nil {
		return nil, err
	}
	files[DispatchName] = bin

	data, err := zipFiles(files)
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(opts.Output, data, 0o644); err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(files)), nil
}

// buildDispatch builds the static binary: CGO off, so it needs no libc on
// the machine Juju runs it on.
func buildDispatch(ctx context.Context, opts Options, arch, out string) error {
	goCmd := opts.Go
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, DispatchPackage)
	cmd.Dir = opts.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("charmpack: go build %s: %w: %s", DispatchPackage, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// zipFiles zips files in name order: dispatch 0755, the rest 0644, no
// directories (Juju 3 runs dispatch; the charm has no hooks/).
func zipFiles(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		mode := fs.FileMode(0o644)
		if name == DispatchName {
			mode = 0o755
		}
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errUsage marks a command-line mistake.
var errUsage = errors.New("usage")
