package fsm

import (
	"errors"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hasEdge says the table has some transition from -> to.
func hasEdge(t Table, from, to string) bool {
	for _, tr := range t.Transitions {
		if tr.To != to {
			continue
		}
		for _, f := range tr.From {
			if f == from {
				return true
			}
		}
	}
	return false
}

// TestRandomEventSequencesStayInTheTable drives the leader's entry points
// with seeded random inputs: the phase only moves along the table's edges,
// generation never goes backwards, a refused call changes nothing, and
// every record the engine produces survives the codec.
func TestRandomEventSequencesStayInTheTable(t *testing.T) {
	t.Parallel()
	table := UpgradeTable()
	units := []string{"c/0", "c/1", "c/2"}
	targets := []string{"7.13.2", "7.14.3", "8.0.0", "bad"}
	visited := map[Phase]bool{}
	for seed := int64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewSource(seed))
		now := t0
		rec := Record{}
		for step := 0; step < 300; step++ {
			now = now.Add(time.Duration(rng.Intn(90)) * time.Second)
			before := rec
			var next Record
			var err error
			switch rng.Intn(7) {
			case 0:
				next, err = Initiate(now, rec, InitiateRequest{
					Target: targets[rng.Intn(len(targets))], Installed: "7.13.2", Staged: rng.Intn(2) == 0,
				})
			case 1, 2:
				next, _, err = LeaderStep(now, rec, randomAcks(rng, rec, units), units)
			case 3:
				var switchErr error
				if rng.Intn(3) == 0 {
					switchErr = errors.New("sha1 mismatch")
				}
				gen := rec.Generation - uint64(rng.Intn(2))
				next, _, err = ConfirmSwitch(rec, gen, switchErr)
			case 4:
				next, _, err = Abort(rec, "c/1", "random")
			case 5:
				next, err = Retry(now, rec, RetryRequest{Staged: rng.Intn(2) == 0})
			case 6:
				next, _, err = Rollback(rec, "c/2")
			}
			if err != nil {
				require.Equal(t, before, next, "seed %d step %d: a refused call changed the record: %v", seed, step, err)
				continue
			}
			_, known := table.State(next.Phase.String())
			require.True(t, known, "seed %d step %d: phase %s is not in the table", seed, step, next.Phase)
			if next.Phase != before.Phase {
				require.True(t, hasEdge(table, before.Phase.String(), next.Phase.String()),
					"seed %d step %d: %s -> %s is not a table edge", seed, step, before.Phase, next.Phase)
			}
			require.GreaterOrEqual(t, next.Generation, before.Generation, "seed %d step %d: generation went backwards", seed, step)
			bag, err := EncodeRecord(next)
			require.NoError(t, err, "seed %d step %d: engine produced an unencodable record %+v", seed, step, next)
			decoded, err := DecodeRecord(bag)
			require.NoError(t, err)
			require.Equal(t, next, decoded)
			rec = next
			visited[rec.Phase] = true
		}
		assert.Positive(t, rec.Generation, "seed %d never initiated: the sequence is too tame to prove anything", seed)
	}
	for _, p := range allPhases() {
		assert.True(t, visited[p], "no sequence reached %s: the sequences are too tame to prove anything", p)
	}
}

// randomAcks makes acks of the current, previous or next generation in
// every shape a unit can write; half the time every unit has answered the
// current phase, so sequences get past PREPARE and COMPLETE.
func randomAcks(rng *rand.Rand, rec Record, units []string) map[string]Ack {
	acks := map[string]Ack{}
	if rng.Intn(2) == 0 {
		for _, u := range units {
			if rec.Phase == PhasePrepare {
				acks[u] = Ack{Generation: rec.Generation, ReadyForDownload: true}
			} else {
				acks[u] = Ack{Generation: rec.Generation, RunningVersion: rec.TargetVersion}
			}
		}
		return acks
	}
	for _, u := range units {
		gen := rec.Generation
		switch rng.Intn(6) {
		case 0:
			gen--
		case 1:
			gen++
		}
		switch rng.Intn(4) {
		case 0:
			acks[u] = Ack{Generation: gen, ReadyForDownload: true}
		case 1:
			acks[u] = Ack{Generation: gen, RunningVersion: rec.TargetVersion}
		case 2:
			acks[u] = Ack{Generation: gen, Error: "drain timed out"}
		}
	}
	return acks
}
