package gaps

import (
	"testing"
	"time"
)

// BenchmarkEngineFeed reports the cost of one event (ns/op is ns/event) on
// a saturating 2-VF trace with gfx jobs named by context:seqno and run events.
func BenchmarkEngineFeed(b *testing.B) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 100 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 1, Gen617: true}
	evs, _ := sc.generate()
	span := evs[len(evs)-1].Time - evs[0].Time + int64(time.Millisecond)
	e := New(Config{Horizon: 10 * time.Second})
	feedAll(e, evs) // warm up: steady state
	n := len(evs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := evs[i%n]
		ev.Time += int64(i/n+1) * span
		e.Feed(ev)
	}
}

// BenchmarkSnapshotLive is one snapshot of a live engine (10 s horizon)
// after a busy minute: the TUI takes one every 100 ms.
func BenchmarkSnapshotLive(b *testing.B) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 100 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 60 * time.Second, Seed: 1, Gen617: true}
	evs, _ := sc.generate()
	e := New(Config{Horizon: 10 * time.Second})
	feedAll(e, evs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Advance(evs[len(evs)-1].Time + int64(i))
		_ = e.Snapshot()
	}
}
