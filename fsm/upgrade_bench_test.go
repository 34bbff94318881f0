package fsm

import (
	"fmt"
	"testing"
)

// BenchmarkLeaderStep100Units is one leader hook's decision in a large
// cluster: every ack decoded from its bag, then the step.
func BenchmarkLeaderStep100Units(b *testing.B) {
	rec := recordIn(PhasePrepare)
	units := make([]string, 100)
	bags := map[string]map[string]string{}
	for i := range units {
		units[i] = fmt.Sprintf("concourse/%d", i)
		bag, err := EncodeAck(Ack{Generation: rec.Generation, ReadyForDownload: true})
		if err != nil {
			b.Fatal(err)
		}
		bags[units[i]] = bag
	}
	b.ResetTimer()
	for b.Loop() {
		acks := make(map[string]Ack, len(bags))
		for name, bag := range bags {
			ack, err := DecodeAck(bag)
			if err != nil {
				b.Fatal(err)
			}
			acks[name] = ack
		}
		next, _, err := LeaderStep(t0, rec, acks, units)
		if err != nil || next.Phase != PhaseDownloading {
			b.Fatalf("step: %v %s", err, next.Phase)
		}
	}
}

// BenchmarkRecordRoundTrip is encoding and decoding the leader's record.
func BenchmarkRecordRoundTrip(b *testing.B) {
	rec := recordIn(PhasePrepare)
	for b.Loop() {
		bag, err := EncodeRecord(rec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeRecord(bag); err != nil {
			b.Fatal(err)
		}
	}
}
