package storage

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/childtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/stretchr/testify/require"
)

// Uncontended TryLock+Release: what every install and upgrade step pays.
func BenchmarkTryLockRelease(b *testing.B) {
	v := testVolume(b)
	who := Holder{Unit: "bench/0"}
	b.ReportAllocs()
	for b.Loop() {
		l, err := v.TryLock(who)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

// Lock+Release while 4 other OS processes hammer the same lock. ns/op is
// the time to get the lock under contention; child-acq/op says how often the
// children got it meanwhile.
func BenchmarkLockContended4Procs(b *testing.B) {
	for _, poll := range []struct {
		name         string
		initial, max time.Duration
	}{
		{"poll=default", DefaultLockPollInitial, DefaultLockPollMax},
		{"poll=1ms-20ms", time.Millisecond, 20 * time.Millisecond},
	} {
		b.Run(poll.name, func(b *testing.B) {
			root := testVolume(b).Root()
			v, err := OpenVolume(root, WithLockPoll(poll.initial, poll.max))
			require.NoError(b, err)
			children := make([]*childtest.Child, 4)
			for i := range children {
				children[i] = startHelper(b, roleHammer, root, fmt.Sprintf("hammer/%d", i))
				require.Equal(b, "started", children[i].Next(b))
			}
			who := Holder{Unit: "bench/0"}
			b.ResetTimer()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // deadlock guard
				l, err := v.Lock(ctx, who)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Release(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			acquired := 0
			for _, c := range children {
				require.NoError(b, c.Stdin.Close())
				line := c.Next(b)
				n, err := strconv.Atoi(strings.TrimPrefix(line, "acquired "))
				require.NoError(b, err, "child said %q", line)
				acquired += n
				require.NoError(b, c.Wait())
			}
			b.ReportMetric(float64(acquired)/float64(b.N), "child-acq/op")
		})
	}
}

// BenchmarkVerifyChecksum compares the hashing a download gets with the
// coreutils tools on the same 100 MB file.
func BenchmarkVerifyChecksum(b *testing.B) {
	const size = 100 << 20
	path := filepath.Join(b.TempDir(), "release.tgz")
	f, err := os.Create(path)
	require.NoError(b, err)
	_, err = io.Copy(f, releasetest.Incompressible(size, 7))
	require.NoError(b, err)
	require.NoError(b, f.Close())
	for _, algo := range []string{"sha1", "sha256"} {
		b.Run(algo+"/ours", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				f, err := os.Open(path)
				require.NoError(b, err)
				_, err = sumReader(f, algo == "sha1", algo == "sha256")
				f.Close()
				require.NoError(b, err)
			}
		})
		b.Run(algo+"/"+algo+"sum", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if out, err := exec.Command(algo+"sum", path).CombinedOutput(); err != nil {
					b.Fatalf("%s: %v: %s", algo+"sum", err, out)
				}
			}
		})
	}
}
