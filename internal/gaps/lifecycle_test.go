package gaps

import (
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

const ms = int64(time.Millisecond)
const us = int64(time.Microsecond)

// builder makes hand-written event sequences.
type builder struct{ evs []event.Event }

func (b *builder) q(t int64, ring string, fence uint64) *builder {
	b.evs = append(b.evs, event.Event{Time: t, Kind: event.KindQueue, Name: "gpu_scheduler:drm_sched_job", Ring: ring, Job: event.JobKey{Fence: fence}, Comm: "app", PID: 7, Entity: 1})
	return b
}

func (b *builder) run(t int64, ring string, fence uint64) *builder {
	b.evs = append(b.evs, event.Event{Time: t, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: ring, Job: event.JobKey{Fence: fence}, Comm: "app", PID: 7, Entity: 1})
	return b
}

func (b *builder) done(t int64, fence uint64) *builder {
	b.evs = append(b.evs, event.Event{Time: t, Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: event.JobKey{Fence: fence}})
	return b
}

func (b *builder) lost(t int64, n uint64) *builder {
	b.evs = append(b.evs, event.Event{Time: t, Kind: event.KindLost, Count: n})
	return b
}

func (b *builder) engine(cfg Config) *Engine {
	e := New(cfg)
	feedAll(e, b.evs)
	return e
}

func TestCompletionFindsRingThroughFence(t *testing.T) {
	var b builder
	// an earlier job tells the engine that gfx reports runs
	b.q(0, "gfx", 0x9).run(0, "gfx", 0x9).done(0, 0x9)
	b.q(0, "gfx", 0xa).run(1*ms, "gfx", 0xa).q(1*ms, "sdma0", 0xb).run(1*ms, "sdma0", 0xb)
	b.done(3*ms, 0xa).done(5*ms, 0xb)
	s := b.engine(Config{}).Snapshot()
	if len(s.Rings) != 2 || s.Rings[0].Name != "gfx" || s.Rings[1].Name != "sdma0" {
		t.Fatalf("rings %+v", s.Rings)
	}
	g, d := s.Rings[0], s.Rings[1]
	if g.Jobs != 2 || d.Jobs != 1 {
		t.Errorf("jobs gfx=%d sdma0=%d", g.Jobs, d.Jobs)
	}
	// latency from run (queue only where there is no run)
	if g.LatencyP99 < 1900*time.Microsecond || g.LatencyP99 > 2100*time.Microsecond {
		t.Errorf("gfx latency p99 %v, want ~2ms", g.LatencyP99)
	}
	if g.Busy != 2*time.Millisecond || d.Busy != 4*time.Millisecond {
		t.Errorf("busy gfx=%v sdma0=%v, want 2ms 4ms (from run to done)", g.Busy, d.Busy)
	}
	if g.InFlight != 0 || d.InFlight != 0 {
		t.Errorf("in flight %d %d", g.InFlight, d.InFlight)
	}
	if len(g.Processes) != 1 || g.Processes[0].Comm != "app" || g.Processes[0].Jobs != 2 || g.Processes[0].Busy != 2*time.Millisecond {
		t.Errorf("processes %+v", g.Processes)
	}
	if s.Input.Events != 9 || s.Input.ByName["gpu_scheduler:drm_sched_process_job"] != 3 {
		t.Errorf("input %+v", s.Input)
	}
}

func TestContextSeqnoKeys(t *testing.T) {
	e := New(Config{})
	k := event.JobKey{Context: 5, Seqno: 9}
	e.Feed(event.Event{Time: 0, Kind: event.KindQueue, Ring: "gfx", Job: k})
	e.Feed(event.Event{Time: ms, Kind: event.KindRun, Ring: "gfx", Job: k})
	e.Feed(event.Event{Time: 2 * ms, Kind: event.KindDone, Job: k})
	s := e.Snapshot()
	if s.Rings[0].Jobs != 1 || s.Input.Unmatched != 0 || s.Rings[0].InFlight != 0 {
		t.Fatalf("%+v %+v", s.Rings, s.Input)
	}
}

// steady builds a busy ring with completions every 100 µs on gfx, from..to.
func steady(b *builder, from, to int64, fence *uint64) {
	for t := from; t < to; t += 100 * us {
		*fence++
		b.q(t, "gfx", *fence).run(t, "gfx", *fence).done(t+100*us, *fence)
	}
}

func TestUnknownCompletionIsProgress(t *testing.T) {
	// Completions of jobs queued before the trace began end a gap like any other.
	var b builder
	var f uint64 = 100
	steady(&b, 0, 20*ms, &f)
	b.q(20*ms, "gfx", 1)  // outstanding from 20 ms
	b.done(21*ms, 0xdead) // unknown job: progress
	steady(&b, 21*ms, 40*ms, &f)
	b.done(41*ms, 1)
	s := b.engine(Config{}).Snapshot()
	if s.Input.Unmatched != 1 {
		t.Errorf("unmatched %d", s.Input.Unmatched)
	}
	for _, w := range s.Windows {
		if w.Kind != GuestIdle {
			t.Errorf("unexpected window %+v", w)
		}
	}
}

func TestOtherRingProgressIsNotASwitchOut(t *testing.T) {
	// gfx holds one long job while sdma completes steadily: a gap on one
	// ring while another completes is not a switch-out, nor any window.
	var b builder
	b.q(0, "gfx", 1).run(0, "gfx", 1)
	var f uint64 = 100
	for t := int64(0); t < 50*ms; t += 100 * us {
		f++
		b.q(t, "sdma0", f).run(t, "sdma0", f).done(t+100*us, f)
	}
	b.done(50*ms, 1)
	s := b.engine(Config{}).Snapshot()
	if len(s.Windows) != 0 || s.WindowsTotal != 0 {
		t.Errorf("windows %+v", s.Windows)
	}
	if s.Rings[0].Name != "gfx" || s.Rings[0].Busy != 50*time.Millisecond || s.Rings[0].Stalled != 0 {
		t.Errorf("gfx %+v", s.Rings[0])
	}
}

// switched builds a fixed 2-VF schedule with a saturating pipeline:
// completions every 100 µs during 6 ms turns, none during 6.4 ms off-times.
func switched(b *builder, from int64, turns int, fence *uint64) int64 {
	t := from
	for k := 0; k < turns; k++ {
		for i := 0; i < 60; i++ {
			*fence++
			b.q(t, "gfx", *fence).run(t, "gfx", *fence)
			t += 100 * us
			if i == 59 {
				t += 6400 * us // switched out while the job runs
			}
			b.done(t, *fence)
		}
	}
	return t
}

func TestLostEventsAreNotEvidence(t *testing.T) {
	var b builder
	var f uint64
	t1 := switched(&b, 0, 20, &f)
	// A lost-events marker inside a long gap: the gap must not become a window.
	f++
	b.q(t1, "gfx", f).run(t1, "gfx", f).lost(t1+3*ms, 17).done(t1+9*ms, f)
	e := b.engine(Config{})
	s := e.Snapshot()
	if s.Input.Lost != 17 {
		t.Errorf("lost %d", s.Input.Lost)
	}
	for _, w := range s.Windows {
		if w.End > t1 {
			t.Errorf("window across lost events: %+v", w)
		}
	}
	if !s.Timeslice.Detected {
		t.Errorf("schedule not detected: %+v", s.Timeslice)
	}
}

func TestExpiryBoundsState(t *testing.T) {
	// The completions of gfx never come (lost, or the trace cut them)
	// while sdma0 keeps completing: gfx's jobs age and expire, and state
	// stays bounded.
	e := New(Config{MaxJobAge: 100 * time.Millisecond})
	for i := 0; i < 200000; i++ {
		ts := int64(i) * 10 * us
		e.Feed(event.Event{Time: ts, Kind: event.KindQueue, Ring: "gfx", Job: event.JobKey{Fence: uint64(i + 1)}})
		if i%10 == 0 {
			k := event.JobKey{Fence: uint64(1<<40 + i)}
			e.Feed(event.Event{Time: ts, Kind: event.KindQueue, Ring: "sdma0", Job: k})
			e.Feed(event.Event{Time: ts + 5*us, Kind: event.KindDone, Job: k})
		}
	}
	if n := e.jobs.len(); n > 10011 {
		t.Errorf("%d jobs followed, want ≤ 10011 (100 ms at one job per 10 µs, and the 100 µs since the last completion)", n)
	}
	if e.order.size > 2*10001+64 {
		t.Errorf("expiry queue %d", e.order.size)
	}
	s := e.Snapshot()
	if s.Input.Expired < 189989 {
		t.Errorf("expired %d", s.Input.Expired)
	}
	e2 := New(Config{MaxJobs: 1000})
	for i := 0; i < 5000; i++ {
		e2.Feed(event.Event{Time: int64(i), Kind: event.KindQueue, Ring: "gfx", Job: event.JobKey{Fence: uint64(i + 1)}})
	}
	if e2.jobs.len() > 1000 {
		t.Errorf("MaxJobs: %d jobs", e2.jobs.len())
	}
}

func TestNoExpiryWithoutProgress(t *testing.T) {
	// Nothing completes for 30 s (a host outage, a starved VF): the jobs
	// wait, they are not lost; the stretch is one window, whatever
	// MaxJobAge says.
	e := New(Config{MaxJobAge: 100 * time.Millisecond})
	var fence uint64
	job := func(q, d int64) {
		fence++
		k := event.JobKey{Fence: fence}
		e.Feed(event.Event{Time: q, Kind: event.KindQueue, Ring: "gfx", Job: k})
		e.Feed(event.Event{Time: d, Kind: event.KindDone, Job: k})
	}
	for i := int64(0); i < 100; i++ {
		job(i*100*us, i*100*us+50*us)
	}
	fence++
	stuck := event.JobKey{Fence: fence}
	t0 := int64(100 * 100 * us)
	e.Feed(event.Event{Time: t0, Kind: event.KindQueue, Ring: "gfx", Job: stuck})
	t1 := t0 + 30*int64(time.Second)
	e.Advance(t1 - 1)
	e.Feed(event.Event{Time: t1, Kind: event.KindDone, Job: stuck})
	s := e.Snapshot()
	if s.Input.Expired != 0 {
		t.Errorf("expired %d, want 0: nothing completed meanwhile", s.Input.Expired)
	}
	var long *Window
	for i := range s.Windows {
		if w := &s.Windows[i]; w.Kind != GuestIdle && w.Duration() >= 29*time.Second {
			long = w
		}
	}
	if long == nil {
		t.Fatalf("no 30 s window with work outstanding: %+v", s.Windows)
	}
	if long.Start != t0 || long.End != t1 {
		t.Errorf("window %d..%d, want %d..%d", long.Start, long.End, t0, t1)
	}
}

func TestInOrderRetirement(t *testing.T) {
	// The completion of job 1 is lost; job 2, run after it on the same
	// ring, completes: job 1 is done too and must not keep the ring busy.
	var b builder
	b.q(0, "gfx", 1).run(0, "gfx", 1).q(0, "gfx", 2).run(1*ms, "gfx", 2).done(2*ms, 2)
	e := b.engine(Config{})
	s := e.Snapshot()
	if s.Input.Implied != 1 || s.Rings[0].InFlight != 0 || s.Rings[0].Jobs != 2 || e.jobs.len() != 0 {
		t.Errorf("input %+v ring %+v", s.Input, s.Rings[0])
	}
}

func TestGuestIdleIsNeverSwitchedOut(t *testing.T) {
	var b builder
	var f uint64
	t1 := switched(&b, 0, 20, &f)
	// idle for 8 periods, then switched-out again in phase
	idleEnd := t1 - 100*us + 8*12400*us
	t2 := switched(&b, idleEnd, 20, &f)
	s := b.engine(Config{}).Snapshot()
	var idle, so int
	for _, w := range s.Windows {
		switch w.Kind {
		case GuestIdle:
			idle++
			if w.Start != t1 || w.End != idleEnd {
				t.Errorf("idle window %v..%v, want %v..%v", w.Start, w.End, t1, idleEnd)
			}
		case SwitchedOut:
			so++
			if w.Start < idleEnd && w.End > t1 {
				t.Errorf("switched-out window inside guest idle: %+v", w)
			}
		}
	}
	if idle != 1 || so != 40 {
		t.Errorf("idle %d switched-out %d, want 1 and 40: %+v", idle, so, s.Timeslice)
	}
	if s.GuestIdleTotal != time.Duration(idleEnd-t1) {
		t.Errorf("guest idle total %v", s.GuestIdleTotal)
	}
	_ = t2
}

func TestAdvanceShowsOpenWindow(t *testing.T) {
	var b builder
	var f uint64
	t1 := switched(&b, 0, 20, &f)
	f++
	b.q(t1, "gfx", f).run(t1, "gfx", f)
	e := b.engine(Config{Horizon: 10 * time.Second})
	e.Advance(t1 + 50*ms)
	s := e.Snapshot()
	last := s.Windows[len(s.Windows)-1]
	if !last.Open || last.Start != t1 || last.End != t1+50*ms || last.Kind != SwitchedOut {
		t.Errorf("last window %+v, want open switched-out from %d", last, t1)
	}
	if s.End != t1+50*ms || s.Rings[0].InFlight != 1 {
		t.Errorf("end %d in flight %d", s.End, s.Rings[0].InFlight)
	}
}

func TestHorizon(t *testing.T) {
	var b builder
	var f uint64
	t1 := switched(&b, 0, 200, &f) // ~2.5 s
	e := b.engine(Config{Horizon: time.Second})
	s := e.Snapshot()
	for _, w := range s.Windows {
		if w.End < t1-int64(time.Second) {
			t.Fatalf("window %+v outside the horizon (end %d)", w, t1)
		}
	}
	if len(s.Windows) < 75 || len(s.Windows) > 82 {
		t.Errorf("%d windows in 1 s, want ~80", len(s.Windows))
	}
	if s.WindowsTotal != 200 {
		t.Errorf("windows total %d, want 200", s.WindowsTotal)
	}
	if !s.Recent.Detected || s.Recent.Windows >= s.Timeslice.Windows {
		t.Errorf("recent %+v timeslice %+v", s.Recent, s.Timeslice)
	}
}

func TestPassthroughClaimsNothing(t *testing.T) {
	for _, dist := range []string{"const", "exp", "uniform"} {
		sc := scenario{Passthrough: true, Job: 300 * time.Microsecond, JobDist: dist, Depth: 4, Duration: 3 * time.Second, Seed: 11}
		evs, _ := sc.run(t)
		s := New(Config{}).feedAll(evs).Snapshot()
		if s.Timeslice.Detected {
			t.Errorf("%s: detected %+v", dist, s.Timeslice)
		}
		for _, w := range s.Windows {
			if w.Kind == SwitchedOut {
				t.Errorf("%s: switched-out window %+v", dist, w)
			}
		}
	}
}

func TestResetForgets(t *testing.T) {
	var b builder
	var f uint64
	switched(&b, 0, 20, &f)
	e := b.engine(Config{Horizon: time.Second})
	e.Reset()
	s := e.Snapshot()
	if s.Input.Events != 0 || len(s.Rings) != 0 || len(s.Windows) != 0 || s.Timeslice.Detected || e.cfg.Horizon != time.Second {
		t.Errorf("after reset: %+v", s)
	}
}

func TestSnapshotIsImmutable(t *testing.T) {
	var b builder
	var f uint64
	t1 := switched(&b, 0, 20, &f)
	e := b.engine(Config{})
	s := e.Snapshot()
	n, ev := len(s.Windows), s.Input.ByName["gpu_scheduler:drm_run_job"]
	switched(&b, t1, 20, &f)
	feedAll(e, b.evs[len(b.evs)/2:])
	if len(s.Windows) != n || s.Input.ByName["gpu_scheduler:drm_run_job"] != ev {
		t.Error("snapshot changed after more events")
	}
}

func TestFeedDoesNotAllocate(t *testing.T) {
	var b builder
	var f uint64
	switched(&b, 0, 400, &f)
	e := New(Config{Horizon: 10 * time.Second})
	half := len(b.evs) / 2
	feedAll(e, b.evs[:half])
	rest := b.evs[half:]
	i := 0
	allocs := testing.AllocsPerRun(len(rest)-1, func() {
		e.Feed(rest[i])
		i++
	})
	if allocs > 0.01 {
		t.Errorf("%.3f allocations per event in steady state", allocs)
	}
}

func lostMarker(t int64, n uint64) event.Event {
	return event.Event{Time: t, Kind: event.KindLost, Count: n}
}

// retained sums the sizes of everything the engine keeps per event.
func (e *Engine) retained() int {
	n := e.cands.cap() + len(e.short.buf) + len(e.recentDone.buf) + len(e.order.buf) + e.jobs.len() + len(e.input.ByName)
	for i := range e.rings {
		n += len(e.rings[i].order.buf) + len(e.rings[i].procs)
	}
	return n
}

// A live engine fed for hours (here two hours of trace time at ~80
// switch-outs a second, replayed from a 2 s scenario) keeps bounded state:
// what it retains after two hours is what it retained after twenty minutes.
func TestLongStreamBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("feeds two hours of trace time")
	}
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 1 * time.Millisecond, JobDist: "exp", Depth: 3, Duration: 2 * time.Second, Seed: 9, Gen617: true}
	evs, tr := sc.run(t)
	span := replaySpan(tr, evs)
	e := New(Config{Horizon: 10 * time.Second})
	var at20 int
	loops := int(2 * time.Hour / time.Duration(span))
	for k := 0; k < loops; k++ {
		for _, ev := range evs {
			ev.Time += int64(k) * span
			e.Feed(ev)
		}
		if k == loops/6 {
			at20 = e.retained()
			s := e.Snapshot()
			if !s.Recent.Detected || !s.Timeslice.Detected {
				t.Fatalf("not detected after 20 min: %+v", s.Recent)
			}
		}
	}
	s := e.Snapshot()
	end := e.retained()
	t.Logf("retained %d after 20 min, %d after 2 h; %d windows total, %d candidates", at20, end, s.WindowsTotal, e.cands.len())
	if end > at20*11/10 {
		t.Errorf("retained state grows: %d after 20 min, %d after 2 h", at20, end)
	}
	if e.cands.len() > liveCandCap || e.short.size > shortCap || e.recentDone.size > recentDoneCap {
		t.Errorf("caps exceeded: cands %d short %d done %d", e.cands.len(), e.short.size, e.recentDone.size)
	}
	if s.WindowsTotal < uint64(loops)*100 {
		t.Errorf("windows total %d: the totals must cover the whole run", s.WindowsTotal)
	}
	// Recent covers the horizon only.
	for _, w := range s.Windows {
		if w.End < s.End-int64(10*time.Second) {
			t.Fatalf("window %+v outside the horizon", w)
		}
	}
	if relErr(s.Recent.Slice, tr.slice) > 0.01 || relErr(s.Recent.Period, tr.period) > 0.01 {
		t.Errorf("recent %+v", s.Recent)
	}
}

// A live engine's whole-run estimate matches the offline one on the same
// events: always from FinalSnapshot, and from Snapshot while the run is
// short (its cache is only allowed to lag on long runs).
func TestLiveWholeRunMatchesOffline(t *testing.T) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 250 * time.Microsecond, JobDist: "exp", Depth: 2, Duration: 1500 * time.Millisecond, Seed: 77, Gen617: true}
	evs, _ := sc.run(t)
	off := New(Config{}).feedAll(evs).Snapshot().Timeslice
	live := New(Config{Horizon: 10 * time.Second})
	for i, ev := range evs {
		live.Feed(ev)
		if i%500 == 0 {
			_ = live.Snapshot() // a TUI taking snapshots along the way
		}
	}
	if got := live.Snapshot().Timeslice; got != off {
		t.Errorf("live snapshot %+v\noffline %+v", got, off)
	}
	if got := live.FinalSnapshot().Timeslice; got != off {
		t.Errorf("final snapshot %+v\noffline %+v", got, off)
	}
}
