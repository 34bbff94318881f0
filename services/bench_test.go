package services

import (
	"io"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/require"
)

// BenchmarkStartStop is one start+stop round trip of a trivial unit, over
// D-Bus with this package and through `systemctl --user start/stop` (an
// exec each) against the same private systemd.
func BenchmarkStartStop(b *testing.B) {
	ctx := testContext(b)
	// No settle window: measure the job round trip, like systemctl does.
	m, inst := newManager(b, Config{StartSettle: -1})
	name := WorkerUnitName(uniqueUnit(b, m))
	content, err := io.ReadAll(unit.Serialize([]*unit.UnitOption{
		unit.NewUnitOption("Service", "ExecStart", "/bin/sleep infinity"),
	}))
	require.NoError(b, err)
	_, err = m.Install(ctx, UnitFile{Name: name, Content: content})
	require.NoError(b, err)

	b.Run("dbus", func(b *testing.B) {
		for b.Loop() {
			if err := m.Start(ctx, name); err != nil {
				b.Fatal(err)
			}
			if _, err := m.Stop(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("systemctl", func(b *testing.B) {
		for b.Loop() {
			if _, err := inst.Systemctl(ctx, "start", name); err != nil {
				b.Fatal(err)
			}
			if _, err := inst.Systemctl(ctx, "stop", name); err != nil {
				b.Fatal(err)
			}
		}
	})
}
