package charmtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
)

// BenchmarkModelUpgrade upgrades 10 and 50 units of the real charm on the
// model (real volumes, no fsync) and reports the hooks it took, how much
// model time passed (update-status ticks: zero when acks alone carry the
// upgrade, which they must), and the wall time per hook.
func BenchmarkModelUpgrade(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("units=%d", n), func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				w := deployed(b, n, Options{})
				hooks, modelTime := w.Model.HooksRun(), w.Model.ModelTime()
				b.StartTimer()
				began := time.Now()
				leader := w.Model.Leader(w.App)
				w.Model.RunAction(leader, fsm.ActionUpgrade, map[string]any{"version": "7.14.4"})
				if err := w.Converge(ctx, 5); err != nil {
					b.Fatal(err)
				}
				took := time.Since(began)
				b.StopTimer()
				rec, _ := w.Record()
				if rec.Version.String() != "7.14.4" || len(w.Violations()) > 0 {
					b.Fatalf("upgrade did not finish cleanly: %s %v", rec.Version, w.Violations())
				}
				ran := w.Model.HooksRun() - hooks
				b.ReportMetric(float64(ran), "hooks")
				b.ReportMetric(float64(ran)/float64(n), "hooks/unit")
				b.ReportMetric(w.Model.ModelTime().Sub(modelTime).Minutes(), "model-minutes")
				b.ReportMetric(float64(took.Microseconds())/float64(ran)/1000, "ms/hook")
				b.StartTimer()
			}
		})
	}
}
