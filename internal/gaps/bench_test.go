package gaps

import (
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// BenchmarkEngineFeed reports the cost of one event (ns/op is ns/event) on
// a saturating 2-VF trace with gfx jobs named by context:seqno and run events.
func BenchmarkEngineFeed(b *testing.B) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 100 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 1, Gen617: true}
	evs, _ := sc.run(b)
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

// BenchmarkSnapshotLive is the TUI's cycle on a live engine (10 s
// horizon, full): feed 100 ms of trace time at ~150k events/s, then take one
// snapshot. It reports the snapshot's cost (ns/snapshot), the feed's
// (ns/event) and the snapshot's part of the whole cycle (snapshot-%), the
// ratio that matters: how much of the engine's CPU the views take.
func BenchmarkSnapshotLive(b *testing.B) {
	for _, every := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond} {
		b.Run(every.String(), func(b *testing.B) { benchSnapshotCycle(b, every) })
	}
}

func benchSnapshotCycle(b *testing.B, every time.Duration) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 6 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 1, Gen617: true}
	evs, tr := sc.run(b)
	span := replaySpan(tr, evs)
	rate := float64(len(evs)) / (float64(span) / 1e9)
	e := New(Config{Horizon: 10 * time.Second})
	i := 0
	next := func() event.Event {
		ev := evs[i%len(evs)]
		ev.Time += int64(i/len(evs)) * span
		i++
		return ev
	}
	// warm up: 12 s of trace time, the horizon full
	for j := 0; j < 6*len(evs); j++ {
		e.Feed(next())
	}
	_ = e.Snapshot()
	var feedNS, snapNS, nev int64
	b.ReportAllocs()
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		t0 := time.Now()
		lim := e.end + int64(every)
		for {
			ev := next()
			e.Feed(ev)
			nev++
			if ev.Time >= lim {
				break
			}
		}
		t1 := time.Now()
		_ = e.Snapshot()
		t2 := time.Now()
		feedNS += t1.Sub(t0).Nanoseconds()
		snapNS += t2.Sub(t1).Nanoseconds()
	}
	b.ReportMetric(float64(snapNS)/float64(b.N), "ns/snapshot")
	b.ReportMetric(float64(feedNS)/float64(nev), "ns/event")
	b.ReportMetric(100*float64(snapNS)/float64(snapNS+feedNS), "snapshot-%")
	b.ReportMetric(rate, "trace-events/s")
}

// replaySpan is the shift that replays evs back to back with the host's
// turns continuing on one period (a whole number of periods).
func replaySpan(tr truth, evs []event.Event) int64 {
	d := evs[len(evs)-1].Time - evs[0].Time + int64(time.Millisecond)
	p := int64(tr.period)
	return (d + p - 1) / p * p
}
