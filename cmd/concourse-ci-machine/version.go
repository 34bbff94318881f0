package main

import (
	"context"
	"flag"
	"io"
	"runtime/debug"
)

func versionCommand() command {
	return command{
		name:    "version",
		summary: "print the version and the commit this binary was built from",
		about: `Print the version and the commit this binary was built from. make build
sets them (git describe, git rev-parse HEAD); a binary built otherwise says
what the go command stamped into it (runtime/debug.ReadBuildInfo), which is
nothing in a git worktree or with -buildvcs=false: its commit is unknown.`,
		flags: func(*flag.FlagSet) action {
			return func(_ context.Context, args []string, stdout, _ io.Writer) error {
				if len(args) > 0 {
					return usagef("version takes no arguments")
				}
				info, ok := debug.ReadBuildInfo()
				_, err := io.WriteString(stdout, stampOf(info, ok, stampedVersion, stampedCommit).String())
				return err
			}
		},
	}
}

// What make build sets with -ldflags -X (the linker writes them, nothing
// else does): git describe --tags --always --dirty, and git rev-parse HEAD.
// The go command's own stamp is no help there: it records no VCS
// information in a git worktree, or under -buildvcs=false.
var stampedVersion, stampedCommit string

// buildStamp is what is known about a build.
type buildStamp struct {
	Version  string // the main module's: a tag, a pseudo-version or "(devel)"
	Commit   string // vcs.revision; "" when the build recorded none
	Time     string // vcs.time, the commit's time
	Modified bool   // vcs.modified: the tree had uncommitted changes
	Go       string
}

// stampOf is the build's stamp: what make build set (version, commit) where
// it did, else what the go command recorded (info).
func stampOf(info *debug.BuildInfo, ok bool, version, commit string) buildStamp {
	var s buildStamp
	if ok && info != nil {
		s = stampOfBuildInfo(info)
	}
	if version != "" {
		s.Version = version
	}
	if commit != "" {
		s.Commit, s.Time, s.Modified = commit, "", false
	}
	if s.Version == "" {
		s.Version = "(devel)"
	}
	return s
}

func stampOfBuildInfo(info *debug.BuildInfo) buildStamp {
	s := buildStamp{Version: info.Main.Version, Go: info.GoVersion}
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			s.Commit = kv.Value
		case "vcs.time":
			s.Time = kv.Value
		case "vcs.modified":
			s.Modified = kv.Value == "true"
		}
	}
	return s
}

// String is the output of `concourse-ci-machine version`: two lines, the
// version (and the Go release that built it), then the commit.
func (s buildStamp) String() string {
	out := "concourse-ci-machine " + s.Version
	if s.Go != "" {
		out += " (" + s.Go + ")"
	}
	if s.Commit == "" {
		return out + "\ncommit unknown (built without VCS information)\n"
	}
	out += "\ncommit " + s.Commit
	if s.Time != "" {
		out += " of " + s.Time
	}
	if s.Modified {
		out += ", with uncommitted changes"
	}
	return out + "\n"
}
