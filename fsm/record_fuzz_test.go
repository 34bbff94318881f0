package fsm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// bagFromText turns "key=value" lines into a bag, so the fuzzer can mutate
// keys and values alike.
func bagFromText(text string) map[string]string {
	bag := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		key, value, _ := strings.Cut(line, "=")
		bag[key] = value
	}
	return bag
}

func bagToText(bag map[string]string) string {
	lines := make([]string, 0, len(bag))
	for k, v := range bag {
		lines = append(lines, k+"="+v)
	}
	return strings.Join(lines, "\n")
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(bagToText(validBag()))
	f.Add("")
	f.Add("upgrade-schema=2\nupgrade-phase=idle\nupgrade-generation=0\nupgrade-revision=0")
	f.Add("upgrade-schema=2\nupgrade-phase=failed\nupgrade-generation=2\nupgrade-revision=9\nupgrade-target-version=7.14.3\nupgrade-previous-version=7.13.2\nupgrade-last-error=boom")
	f.Add("upgrade-schema=3\nupgrade-phase=paused")
	f.Add("upgrade-schema=2\nupgrade-phase=prepare\nupgrade-generation=18446744073709551616")
	f.Add("upgrade-schema=2\nupgrade-phase=idle\nupgrade-generation=1\nupgrade-revision=3\nupgrade-version=7.14.3\nupgrade-members=a/0,a/1\nupgrade-outcome=aborted")
	f.Fuzz(func(t *testing.T, text string) {
		rec, err := DecodeRecord(bagFromText(text))
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrDecode) {
				t.Fatalf("decode error is not a *DecodeError: %T %v", err, err)
			}
			if !reflect.DeepEqual(rec, Record{}) {
				t.Fatalf("a failed decode returned a non-zero record: %+v", rec)
			}
			return
		}
		// Whatever decodes must encode and decode to the same record.
		bag, err := EncodeRecord(rec)
		if err != nil {
			t.Fatalf("decoded record %+v does not encode: %v", rec, err)
		}
		again, err := DecodeRecord(bag)
		if err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("round trip changed the record: %+v -> %+v (%v)", rec, again, err)
		}
	})
}

func FuzzDecodeAck(f *testing.F) {
	f.Add("upgrade-ack-schema=1\nupgrade-generation=4\nupgrade-seen-revision=7\nupgrade-worker-stopped=true")
	f.Add("upgrade-ack-schema=1\nupgrade-generation=4\nupgrade-seen-revision=7\nupgrade-running-version=7.14.3\nupgrade-error=drain timed out")
	f.Add("")
	f.Add("upgrade-ack-schema=1\nupgrade-generation=x")
	f.Add("upgrade-ack-schema=2\nupgrade-generation=1\nupgrade-staged=true")
	f.Fuzz(func(t *testing.T, text string) {
		ack, err := DecodeAck(bagFromText(text))
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("decode error is not a *DecodeError: %T %v", err, err)
			}
			if ack != (Ack{}) {
				t.Fatalf("a failed decode returned a non-zero ack: %+v", ack)
			}
			return
		}
		bag, err := EncodeAck(ack)
		if err != nil {
			t.Fatalf("decoded ack %+v does not encode: %v", ack, err)
		}
		again, err := DecodeAck(bag)
		if err != nil || again != ack {
			t.Fatalf("round trip changed the ack: %+v -> %+v (%v)", ack, again, err)
		}
	})
}
