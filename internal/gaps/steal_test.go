package gaps

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// stealEpisodes holds back, in n episodes of length d placed inside the
// VF's turns, every completion that falls in them and delivers them all
// at the episode's end, 1 µs apart: the guest's vCPU taking the GPU
// interrupt was descheduled by the host while the GPU kept running.
func stealEpisodes(evs []event.Event, tr truth, n int, d time.Duration, seed uint64) [][2]int64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	var eps [][2]int64
	first, last := evs[0].Time, evs[len(evs)-1].Time
	for len(eps) < n {
		a := first + int64(rng.Float64()*float64(last-first-int64(d)))
		b := a + int64(d)
		clash := false
		for _, w := range tr.allOffs {
			if w[0] < b+int64(time.Millisecond) && a-int64(time.Millisecond) < w[1] {
				clash = true // steal inside a turn only, clear of the switches
			}
		}
		for _, e := range eps {
			if e[0] < b && a < e[1] {
				clash = true
			}
		}
		if !clash {
			eps = append(eps, [2]int64{a, b})
		}
	}
	for _, ep := range eps {
		k := int64(0)
		for i := range evs {
			if evs[i].Kind == event.KindDone && evs[i].Time >= ep[0] && evs[i].Time < ep[1] {
				evs[i].Time = ep[1] + k*int64(time.Microsecond)
				k++
			}
		}
	}
	sortEvents(evs)
	return eps
}

// Steal episodes on the interrupt CPU are windows of their own, never
// switch-outs; the schedule and the measured share do not move.
func TestStealIsNotSwitchedOut(t *testing.T) {
	for _, sc := range []scenario{
		{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 250 * time.Microsecond, JobDist: "exp", Depth: 2, Duration: 3 * time.Second, Seed: 21},
		{VFs: 4, Slice: 4 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 200 * time.Microsecond, JobDist: "const", Depth: 3, Duration: 3 * time.Second, Seed: 22, Gen617: true},
	} {
		evs, tr := sc.run(t)
		clean := New(Config{}).feedAll(evs).Snapshot()
		eps := stealEpisodes(evs, tr, 24, 1500*time.Microsecond, sc.Seed)
		s := New(Config{}).feedAll(evs).Snapshot()
		slice, period := tr.slice, tr.period
		ts := s.Timeslice
		if !ts.Detected || relErr(ts.Slice, slice) > 0.01 || relErr(ts.Period, period) > 0.01 {
			t.Errorf("%d VFs: schedule %+v, true slice %v period %v", sc.VFs, ts, slice, period)
		}
		var steal int
		for _, w := range s.Windows {
			for _, ep := range eps {
				if w.Start < ep[1] && ep[0] < w.End {
					switch w.Kind {
					case SwitchedOut, Stall:
						t.Errorf("%d VFs: steal episode %v reported as %s window %d..%d", sc.VFs, ep, w.Kind, w.Start, w.End)
					case Steal:
						steal++
					}
				}
			}
		}
		if steal < len(eps)*9/10 {
			t.Errorf("%d VFs: %d of %d steal episodes are steal windows", sc.VFs, steal, len(eps))
		}
		if d := math.Abs(s.Share.Ratio - clean.Share.Ratio); d > 0.002 || !s.Share.Resolved {
			t.Errorf("%d VFs: measured share %.4f with steal, %.4f without", sc.VFs, s.Share.Ratio, clean.Share.Ratio)
		}
		if s.StealTotal < time.Duration(len(eps))*1400*time.Microsecond*9/10 {
			t.Errorf("%d VFs: steal total %v for %d episodes of 1.5 ms", sc.VFs, s.StealTotal, len(eps))
		}
	}
}

// A trace complete only from some time on (a CPU's buffer began late):
// the measured share counts the busy time from then, as it counts the
// windows, so it is the same share as the complete part alone gives.
func TestShareFromCompleteTime(t *testing.T) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 250 * time.Microsecond, JobDist: "exp", Depth: 2, Duration: 3 * time.Second, Seed: 31}
	evs, _ := sc.run(t)
	from := evs[0].Time + int64(time.Second)
	e := New(Config{})
	e.Feed(event.Event{Time: evs[0].Time, CPU: -1, Kind: event.KindPartial, Count: uint64(from)})
	e.feedAll(evs)
	s := e.Snapshot()
	var tail []event.Event
	for _, ev := range evs {
		if ev.Time >= from {
			tail = append(tail, ev)
		}
	}
	want := New(Config{}).feedAll(tail).Snapshot().Share
	if !s.Share.Resolved || math.Abs(s.Share.Ratio-want.Ratio) > 0.005 {
		t.Errorf("share %.4f (busy %v) with the first second incomplete; %.4f (busy %v) on the complete part alone",
			s.Share.Ratio, s.Share.Busy, want.Ratio, want.Busy)
	}
}

// TestFirstDelay: the first completion after work arrives (the VF
// holding the GPU) is measured from the idle-started stretches; with too
// few of them the typical job spacing stands in.
func TestFirstDelay(t *testing.T) {
	e := New(Config{})
	sp := spacing{n: 100, mean: 250e3, sd: 50e3}
	if m, se := e.firstDelay(sp, classification{}, false); m != sp.mean || math.Abs(se-5e3) > 1e-9 {
		t.Errorf("no stretches: %v ± %v, want the spacing's 250 µs ± 5 µs", m, se)
	}
	// the hardware ran several jobs at once: the first of them finished
	// after 100–160 µs
	for i := range defaults.share.minFirst {
		d := int64(100e3 + 2e3*float64(i%31))
		e.short.push(span{start: int64(i) * 1e6, end: int64(i)*1e6 + d})
	}
	if m, se := e.firstDelay(sp, classification{}, false); math.Abs(m-129e3) > 2e3 || se <= 0 || se > 5e3 {
		t.Errorf("first delay %v ± %v, want about 129 µs", m, se)
	}
}
