package services

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
)

// logTailBytes bounds how much of a log file is read for its last lines.
const logTailBytes = 64 << 10

// LogTail returns the last lines the unit logged, best effort (nil when
// nothing can be read). Where the unit writes to a file (StandardOutput or
// StandardError = append:/file:/truncate:, as units rendered with LogFile
// do), that file is read; this works with any systemd, including a private
// test instance without journald. Otherwise journalctl is asked, which
// works for system units on a machine where journald runs.
func (m *Manager) LogTail(ctx context.Context, name string) []string {
	n := m.cfg.LogTailLines
	if path := m.logFileOf(ctx, name); path != "" {
		return tailFile(m.rooted(path), n)
	}
	return m.journalTail(ctx, name, n)
}

// logFileOf finds the file the unit's output goes to by reading the unit
// file systemd loaded (FragmentPath) and its drop-ins: systemd does not
// publish an output file's path on D-Bus.
func (m *Manager) logFileOf(ctx context.Context, name string) string {
	props, err := m.conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return ""
	}
	files := []string{prop[string](props, "FragmentPath")}
	files = append(files, prop[[]string](props, "DropInPaths")...)
	found := ""
	for _, f := range files {
		if f == "" {
			continue
		}
		if p := outputFileIn(m.rooted(f)); p != "" {
			found = p // later files override earlier ones, as in systemd
		}
	}
	return found
}

// outputFileIn returns the file named by the last StandardError= or
// StandardOutput= setting in a unit file, or "".
func outputFileIn(unitPath string) string {
	f, err := os.Open(unitPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	opts, err := unit.DeserializeOptions(f)
	if err != nil {
		return ""
	}
	var stdout, stderr string
	for _, o := range opts {
		if o.Section != "Service" {
			continue
		}
		for _, prefix := range []string{"append:", "file:", "truncate:"} {
			if v, ok := strings.CutPrefix(o.Value, prefix); ok {
				switch o.Name {
				case "StandardOutput":
					stdout = v
				case "StandardError":
					stderr = v
				}
			}
		}
	}
	// Errors are what explains a failure; fall back to stdout.
	return strings.ReplaceAll(orDefault(stderr, stdout), "%%", "%")
}

// tailFile returns the last n lines of the file, nil if it cannot be read.
func tailFile(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(st.Size()-logTailBytes, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return nil
	}
	return lastLines(data, n, off > 0)
}

// lastLines splits data into lines and keeps the last n; a first line cut
// by the read window is dropped.
func lastLines(data []byte, n int, cutFirst bool) []string {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if cutFirst && len(lines) > 0 {
		lines = lines[1:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// journalTail asks journalctl (Config.JournalCommand) for the unit's last
// lines; nil when there is no journal (no journald running).
func (m *Manager) journalTail(ctx context.Context, name string, n int) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	argv := append(append([]string(nil), m.cfg.JournalCommand...), "--unit="+name, "--lines="+strconv.Itoa(n),
		"--output=cat", "--no-pager", "--quiet")
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return nil
	}
	out = bytes.TrimSpace(out)
	if len(out) == 0 || bytes.HasPrefix(out, []byte("-- No entries --")) {
		return nil
	}
	return lastLines(out, n, false)
}
