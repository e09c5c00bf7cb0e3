package simulate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

func baseScenario() Scenario {
	return Scenario{
		Name: "t", VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: Strict, Duration: time.Second, Seed: 1,
		Rings: []Ring{{Name: "gfx", Job: Dist{"uniform", 300 * time.Microsecond}}},
	}
}

func collect(t *testing.T, sc Scenario) ([]event.Event, Truth) {
	t.Helper()
	var evs []event.Event
	tr, err := Run(sc, func(ev event.Event) error { evs = append(evs, ev); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return evs, tr
}

// verify checks the model's laws on one run: events in time order inside
// the trace, no completion strictly inside a true switched-out window, at
// most HWLimit jobs on each hardware ring, runs after queues, dones after
// runs, lost markers adding up to the truth.
func verify(sc Scenario, evs []event.Event, tr Truth) error {
	ts, te := int64(tr.Start*1e9+0.5), int64(tr.End*1e9+0.5)
	lim := map[string]int{}
	for _, r := range sc.Rings {
		lim[r.Name] = max(r.HWLimit, 1)
		if r.HWLimit == 0 {
			lim[r.Name] = 2
		}
	}
	type st struct{ q, r int64 }
	jobs := map[event.JobKey]*st{}
	hw := map[string]int{}
	var prev int64
	var lost uint64
	wi := 0
	lossy := sc.LostEvery > 0
	for _, ev := range evs {
		if ev.Time < prev || ev.Time < ts || ev.Time > te {
			return fmt.Errorf("event %v out of order or outside [%d,%d]", ev, ts, te)
		}
		prev = ev.Time
		if ev.Kind == event.KindLost {
			lost += ev.Count
			continue
		}
		j := jobs[ev.Job]
		if j == nil {
			j = &st{-1, -1}
			jobs[ev.Job] = j
		}
		switch ev.Kind {
		case event.KindQueue:
			j.q = ev.Time
		case event.KindRun:
			if j.q > ev.Time {
				return fmt.Errorf("run before queue: %v", ev)
			}
			j.r = ev.Time
			hw[ev.Ring]++
			// (a lower bound: jobs run before the trace are not counted)
			if hw[ev.Ring] > lim[ev.Ring] && !lossy {
				return fmt.Errorf("%d jobs on %s's hardware ring at %v (limit %d)", hw[ev.Ring], ev.Ring, ev, lim[ev.Ring])
			}
		case event.KindDone:
			if j.r >= 0 {
				hw[ev.Ring]--
			}
			if j.r > ev.Time || j.q > ev.Time {
				return fmt.Errorf("done before run or queue: %v", ev)
			}
			delete(jobs, ev.Job)
			for wi < len(tr.Windows) && int64(tr.Windows[wi].End*1e9) < ev.Time {
				wi++
			}
			if wi < len(tr.Windows) {
				w := tr.Windows[wi]
				if s, e := int64(w.Start*1e9+0.5), int64(w.End*1e9+0.5); ev.Time > s && ev.Time < e && !afterSteal(tr.Steal, ev.Time) {
					return fmt.Errorf("completion %v inside switched-out window %+v", ev, w)
				}
			}
		}
	}
	// busy windows: a submission inside a window makes it busy from no
	// later than that submission; a window busy from after its start
	// became so through a submission at BusyFrom
	if !lossy {
		qi := 0
		var queues []int64
		for _, ev := range evs {
			if ev.Kind == event.KindQueue {
				queues = append(queues, ev.Time)
			}
		}
		for _, w := range tr.Windows {
			s, e := int64(w.Start*1e9+0.5), int64(w.End*1e9+0.5)
			for qi < len(queues) && queues[qi] < s {
				qi++
			}
			if qi < len(queues) && queues[qi] < e {
				if !w.Busy || int64(w.BusyFrom*1e9+0.5) > queues[qi] {
					return fmt.Errorf("window %+v: submission at %d inside it", w, queues[qi])
				}
			}
			if w.Busy && int64(w.BusyFrom*1e9+0.5) > s && (qi == len(queues) || queues[qi] != int64(w.BusyFrom*1e9+0.5)) {
				return fmt.Errorf("window %+v busy from a time with no submission", w)
			}
		}
	}
	if lost != tr.Lost {
		return fmt.Errorf("markers count %d lost events, truth %d", lost, tr.Lost)
	}
	for i, w := range tr.Windows {
		if w.End <= w.Start || w.Start < tr.Start || w.End > tr.End || (i > 0 && w.Start < tr.Windows[i-1].End) ||
			(w.Busy && (w.BusyFrom < w.Start || w.BusyFrom >= w.End)) || (!w.Busy && w.BusyFrom != 0) {
			return fmt.Errorf("bad true window %d: %+v", i, w)
		}
	}
	if tr.HeldShare < 0 || tr.HeldShare > 1 || tr.BusyTime < 0 || tr.BusyTime > tr.End-tr.Start+1e-9 {
		return fmt.Errorf("held share %v of %v s busy in a %v s trace", tr.HeldShare, tr.BusyTime, tr.End-tr.Start)
	}
	if tr.Policy == None && tr.BusyTime > 0 && tr.HeldShare != 1 {
		return fmt.Errorf("passthrough held share %v", tr.HeldShare)
	}
	for i, sp := range tr.Steal {
		if sp.End <= sp.Start || sp.Start < tr.Start || sp.End > tr.End || (i > 0 && sp.Start < tr.Steal[i-1].End) {
			return fmt.Errorf("bad steal span %d: %+v", i, sp)
		}
	}
	// an outage lies inside one switched-out window (or at the trace's edge)
	for _, o := range tr.Outages {
		if o.End <= o.Start || o.Start < tr.Start || o.End > tr.End {
			return fmt.Errorf("bad outage span %+v", o)
		}
		in := false
		for _, w := range tr.Windows {
			in = in || (w.Start <= o.Start && w.End >= o.End)
		}
		if !in && o.Start-tr.Start > 0.05 && tr.End-o.End > 0.05 {
			return fmt.Errorf("outage %+v in no switched-out window", o)
		}
	}
	return nil
}

// afterSteal: t is when completions held back by a steal episode are
// signalled (within 5 µs after its end).
func afterSteal(st []Span, t int64) bool {
	for _, sp := range st {
		if e := int64(sp.End*1e9 + 0.5); t >= e && t <= e+5000 {
			return true
		}
	}
	return false
}

// TestInvariants runs verify on every workload and policy, and checks the
// truth's schedule.
func TestInvariants(t *testing.T) {
	for _, pol := range []Policy{Strict, Skip, Liquid, Fairness, None} {
		for _, wl := range []WorkloadKind{Saturate, Frames, Bursts, Long} {
			sc := baseScenario()
			sc.Policy, sc.VFs = pol, 4
			sc.Slices = []time.Duration{3 * time.Millisecond, 2 * time.Millisecond}
			sc.Jitter = 100 * time.Microsecond
			sc.Rings = []Ring{
				{Name: "gfx", Job: Dist{"exp", 250 * time.Microsecond}, Workload: Workload{Kind: wl}},
				{Name: "sdma0", Job: Dist{"const", 80 * time.Microsecond}, HWLimit: 1, Workload: Workload{Kind: wl, Depth: 2}},
			}
			if wl == "long" {
				sc.Rings[0].Job = Dist{"uniform", 8 * time.Millisecond}
				sc.Rings[1].Workload.Kind = "saturate"
			}
			sc.Name = string(pol) + "/" + string(wl)
			t.Run(sc.Name, func(t *testing.T) {
				evs, tr := collect(t, sc)
				if len(evs) < 100 {
					t.Fatalf("only %d events", len(evs))
				}
				if err := verify(sc, evs, tr); err != nil {
					t.Fatal(err)
				}
				if pol == None {
					if len(tr.Windows) != 0 || tr.Share != 1 {
						t.Fatalf("passthrough: %d windows, share %v", len(tr.Windows), tr.Share)
					}
					return
				}
				if len(tr.Windows) < 10 {
					t.Fatalf("only %d true windows", len(tr.Windows))
				}
				if pol == Strict {
					for _, w := range tr.Windows {
						if d := w.End - w.Start; d < 3*0.002+4*0.0002-0.0003 || d > 3*0.002+4*0.0002+0.0003 {
							t.Fatalf("strict off-window %+v lasts %v s, want 3·2 ms + 4·0.2 ms ± jitter", w, d)
						}
					}
					if math.Abs(tr.Period-tr.NominalPeriod) > 0.0002 {
						t.Fatalf("strict period %v, nominal %v", tr.Period, tr.NominalPeriod)
					}
				} else if pol == Skip {
					self := 0
					for _, w := range tr.Windows {
						if w.Self {
							self++
							if d := w.End - w.Start; math.Abs(d-0.0002) > 1e-9 {
								t.Fatalf("self window %+v is not one switch cost", w)
							}
						}
					}
					if tr.Period >= tr.NominalPeriod*0.95 {
						t.Fatalf("skip period %v not below nominal %v", tr.Period, tr.NominalPeriod)
					}
				}
				if pol == Liquid {
					// on-times are whole quanta: the mean is at least one
					if tr.Slice < 0.003-0.0001 || tr.Quantum != 0.003 {
						t.Fatalf("liquid slice %v quantum %v, want ≥ 3 ms", tr.Slice, tr.Quantum)
					}
				} else if math.Abs(tr.Slice-0.003) > 0.0001 {
					t.Fatalf("slice %v, want 3 ms ± jitter", tr.Slice)
				}
				if math.Abs(tr.Share-tr.Slice/tr.Period) > 0.005 {
					t.Fatalf("share %v, slice/period %v", tr.Share, tr.Slice/tr.Period)
				}
				switch wl {
				case "saturate", "long":
					for _, w := range tr.Windows {
						if !w.Busy {
							t.Fatalf("saturating guest idle in window %+v", w)
						}
					}
					if len(tr.Idle) != 0 {
						t.Fatalf("saturating guest has idle spans %v", tr.Idle[0])
					}
				case "bursts", "frames":
					if len(tr.Idle) == 0 {
						t.Fatalf("%s without idle spans", wl)
					}
				}
			})
		}
	}
}

// FuzzRun checks verify's laws and the absence of panics on random
// scenarios; Validate must reject what Run cannot simulate.
func FuzzRun(f *testing.F) {
	f.Add(uint64(1), uint8(2), uint16(6000), uint16(200), uint16(0), uint8(0), uint8(0), uint16(300), uint8(2), uint8(4), uint16(0))
	f.Add(uint64(7), uint8(8), uint16(1000), uint16(50), uint16(100), uint8(1), uint8(1), uint16(120), uint8(1), uint8(8), uint16(50))
	f.Add(uint64(9), uint8(4), uint16(3000), uint16(200), uint16(0), uint8(2), uint8(2), uint16(9000), uint8(2), uint8(3), uint16(0))
	f.Add(uint64(3), uint8(16), uint16(1000), uint16(0), uint16(999), uint8(1), uint8(3), uint16(2500), uint8(3), uint8(1), uint16(7))
	f.Add(uint64(1)<<8|1<<11|5<<12|3<<18|1<<21|50<<22|20<<29|1<<37|5<<38, uint8(3), uint16(2000), uint16(200), uint16(100), uint8(3), uint8(0), uint16(200), uint8(2), uint8(4), uint16(0))
	f.Add(uint64(2)<<9|1<<21|1<<37|1<<41|9<<42|4<<47, uint8(2), uint16(6000), uint16(200), uint16(150), uint8(4), uint8(1), uint16(300), uint8(2), uint8(4), uint16(0))
	f.Fuzz(func(t *testing.T, seed uint64, vfs uint8, sliceUs, costUs, jitUs uint16, pol, wl uint8, jobUs uint16, hwl, depth uint8, lost uint16) {
		wls := []WorkloadKind{Saturate, Frames, Bursts, Long}
		sc := Scenario{
			VFs: int(vfs % 20), Slices: []time.Duration{time.Duration(sliceUs) * time.Microsecond},
			SwitchCost: time.Duration(costUs) * time.Microsecond, Jitter: time.Duration(jitUs) * time.Microsecond,
			Policy: []Policy{Strict, Skip, None, Liquid, Fairness}[pol%5], Duration: 150 * time.Millisecond, Seed: seed, LostEvery: int(lost),
			Rings: []Ring{{Name: "gfx", Job: Dist{[]DistKind{Const, Exp, Uniform}[seed%3], time.Duration(jobUs) * time.Microsecond},
				HWLimit: int(hwl % 5), Workload: Workload{Kind: wls[wl%4], Depth: int(depth % 10)}}},
		}
		// the host models, from the seed's higher bits
		if seed>>8&1 == 1 {
			sc.JitterMode = Deadline
		}
		sc.SwitchStep = time.Duration(seed>>9&3) * 50 * time.Microsecond
		if seed>>11&1 == 1 {
			sc.StealEvery, sc.StealLen = time.Duration(seed>>12&63+1)*time.Millisecond, time.Duration(seed>>18&7)*500*time.Microsecond
		}
		if seed>>21&1 == 1 {
			sc.Outages = []Outage{{At: time.Duration(seed>>22&127) * time.Millisecond, Len: time.Duration(seed>>29&255+1) * time.Millisecond}}
		}
		if seed>>37&1 == 1 && sc.VFs > 1 {
			sc.Neighbours = []Neighbour{{Load: float64(seed>>38&7) / 7}}
			if seed>>41&1 == 1 {
				sc.Neighbours[0] = Neighbour{On: time.Duration(seed>>42&31+1) * time.Millisecond, Off: time.Duration(seed>>47&31+1) * time.Millisecond}
			}
		}
		var evs []event.Event
		tr, err := Run(sc, func(ev event.Event) error { evs = append(evs, ev); return nil })
		if err != nil {
			if vsc := sc; vsc.Validate() == nil {
				t.Fatalf("valid scenario failed: %v", err)
			}
			return
		}
		if err := verify(sc, evs, tr); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDeterministic: the same scenario gives the same events and truth.
func TestDeterministic(t *testing.T) {
	sc := baseScenario()
	sc.Policy = Skip
	a, ta := collect(t, sc)
	b, tb := collect(t, sc)
	ja, _ := json.Marshal(ta)
	jb, _ := json.Marshal(tb)
	if len(a) != len(b) || !bytes.Equal(ja, jb) {
		t.Fatal("two runs differ")
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs: %v vs %v", i, a[i], b[i])
		}
	}
	sc.Seed = 2
	c, _ := collect(t, sc)
	if len(c) == len(a) && c[len(c)/2] == a[len(a)/2] {
		t.Fatal("seed does not change the run")
	}
}

// TestStop: ErrStop ends the run with the truth so far.
func TestStop(t *testing.T) {
	sc := baseScenario()
	sc.Duration = time.Hour
	n := 0
	tr, err := Run(sc, func(event.Event) error {
		n++
		if n == 5000 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 5000 || tr.Events != 5000 || tr.End-tr.Start > 10 {
		t.Fatalf("err %v, %d events, truth %d events over %v s", err, n, tr.Events, tr.End-tr.Start)
	}
	// the truth covers the stopped trace only
	if maxTurns := int((tr.End-tr.Start)/tr.NominalPeriod) + 1; tr.Turns > maxTurns || tr.Turns < maxTurns-2 {
		t.Fatalf("%d turns in %v s of trace (period %v s)", tr.Turns, tr.End-tr.Start, tr.NominalPeriod)
	}
	if math.Abs(tr.Period-tr.NominalPeriod) > 1e-6 {
		t.Fatalf("period %v, nominal %v", tr.Period, tr.NominalPeriod)
	}
	boom := errors.New("boom")
	if _, err := Run(sc, func(event.Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("emit error not returned: %v", err)
	}
}

// TestLost: LostEvery drops events behind markers whose counts add up.
func TestLost(t *testing.T) {
	sc := baseScenario()
	sc.LostEvery = 300
	evs, tr := collect(t, sc)
	var lost uint64
	for _, ev := range evs {
		if ev.Kind == event.KindLost {
			lost += ev.Count
		}
	}
	if lost == 0 || lost != tr.Lost {
		t.Fatalf("markers count %d lost, truth %d", lost, tr.Lost)
	}
}

// TestReportRoundTrip: the report text reads back to the same jobs in
// every generation, and the engine finds the strict 2-VF schedule.
func TestReportRoundTrip(t *testing.T) {
	for _, g := range tracepoint.Generations() {
		sc := baseScenario()
		sc.Gen, sc.Nanoseconds = g, g == tracepoint.Gen617
		evs, tr, err := Events(sc)
		if err != nil {
			t.Fatal(err)
		}
		eng := gaps.New(gaps.Config{})
		runs := 0
		for _, ev := range evs {
			eng.Feed(ev)
			if ev.Kind == event.KindRun {
				runs++
			}
		}
		n := len(evs)
		want := int(tr.Events)
		if g == tracepoint.GenAMD {
			want = int(tr.Events) * 2 / 3 // no run events before 4.16
		}
		if n < want-2 || n > want+2 || (g == tracepoint.GenAMD) != (runs == 0) {
			t.Fatalf("%v: read %d events (%d runs), wrote %d", g, n, runs, want)
		}
		for _, ev := range evs {
			if k := ev.Job; (g == tracepoint.Gen617) != (k.Fence == 0 && k.Seqno != 0) {
				t.Fatalf("%v: event %v names its job as %+v", g, ev, k)
			}
			if !sc.Nanoseconds && ev.Time%1000 != 0 {
				t.Fatalf("%v: time %d not rounded to the microsecond", g, ev.Time)
			}
		}
		snap := eng.FinalSnapshot()
		ts := snap.Timeslice
		t.Logf("%v: %d events, detected %v slice %v (true %v) period %v (true %v) share %.3f (true %.3f) conf %.2f",
			g, n, ts.Detected, ts.Slice, tr.SliceDuration(), ts.Period, tr.PeriodDuration(), ts.ScheduleShare, tr.Share, ts.Confidence)
		if !ts.Detected || math.Abs(ts.ScheduleShare-tr.Share) > 0.02 {
			t.Fatalf("%v: engine %+v, truth share %v", g, ts, tr.Share)
		}
	}
}

// TestBimodal: the bimodal distribution's mean is Mean, one job in twenty
// is long (20 short means ± 20 %), the rest short (± 50 %).
func TestBimodal(t *testing.T) {
	s := &sim{rng: rand.New(rand.NewPCG(3, 4))}
	r := &Ring{Job: Dist{Bimodal, 390 * time.Microsecond}}
	short := 200 * time.Microsecond // 390 µs / 1.95
	const n = 200000
	var sum float64
	long := 0
	for i := 0; i < n; i++ {
		x := time.Duration(s.jobLen(r))
		sum += float64(x)
		switch {
		case x >= 16*short && x <= 24*short:
			long++
		case x < short/2 || x > short*3/2:
			t.Fatalf("job %v is neither short (%v ± 50 %%) nor long", x, short)
		}
	}
	if m := time.Duration(sum / n); m < 380*time.Microsecond || m > 400*time.Microsecond {
		t.Errorf("mean %v, want 390µs", m)
	}
	if f := float64(long) / n; f < 0.045 || f > 0.055 {
		t.Errorf("%.3f of jobs long, want 0.05", f)
	}
}

// BenchmarkRun measures the simulator alone (events per second in the
// ns/op of one event); the speed benchmark's inputs come from it.
func BenchmarkRun(b *testing.B) {
	sc := baseScenario()
	sc.Duration = time.Hour
	sc.Rings = append(sc.Rings, Ring{Name: "sdma0", Job: Dist{"exp", 50 * time.Microsecond}})
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	_, err := Run(sc, func(event.Event) error {
		n++
		if n >= b.N {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// TestHostBounded: the host keeps a bounded number of turns however long
// the run (the speed benchmark streams gigabytes through it).
func TestHostBounded(t *testing.T) {
	sc := baseScenario()
	sc.Slices = []time.Duration{time.Millisecond}
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	h := newHost(&sc, rand.New(rand.NewPCG(1, 2)), 0, nil)
	var tm int64
	for i := 0; i < 200000; i++ {
		tm = h.finish(tm, int64(300*time.Microsecond))
		h.prune(tm - int64(time.Second))
	}
	if len(h.on) > 8192 || len(h.on) != len(h.cum) {
		t.Fatalf("%d turns retained after %v of simulated time", len(h.on), time.Duration(tm))
	}
	// finish still maps work correctly after pruning: 1 ms of work from a
	// turn start ends at the turn's end
	s := h.on[len(h.on)-1][0]
	if got := h.finish(s, int64(time.Millisecond)); got != h.on[len(h.on)-1][1] && got-s != int64(time.Millisecond) {
		t.Fatalf("finish after prune: %d from %d", got, s)
	}
}

// TestValidate: scenarios Run cannot simulate are refused with a reason.
func TestValidate(t *testing.T) {
	bad := map[string]func(*Scenario){
		"unknown policy":  func(sc *Scenario) { sc.Policy = "fifo" },
		"jitter mode":     func(sc *Scenario) { sc.JitterMode = "sometimes" },
		"steal":           func(sc *Scenario) { sc.StealEvery = -1 },
		"outage":          func(sc *Scenario) { sc.Outages = []Outage{{At: 0, Len: 0}} },
		"neighbours":      func(sc *Scenario) { sc.Neighbours = []Neighbour{{Load: 0.5}, {Load: 0.5}} },
		"neighbour 1":     func(sc *Scenario) { sc.Neighbours = []Neighbour{{Load: -1}} },
		"one vf":          func(sc *Scenario) { sc.VFs = 1 },
		"no slice":        func(sc *Scenario) { sc.Slices = nil },
		"jitter ≥ slice":  func(sc *Scenario) { sc.Jitter = sc.Slices[0] },
		"no duration":     func(sc *Scenario) { sc.Duration = 0 },
		"no ring":         func(sc *Scenario) { sc.Rings = nil },
		"no job":          func(sc *Scenario) { sc.Rings[0].Job.Mean = 0 },
		"bad dist":        func(sc *Scenario) { sc.Rings[0].Job.Kind = "pareto" },
		"bad workload":    func(sc *Scenario) { sc.Rings[0].Workload.Kind = "idle" },
		"neighbour load":  func(sc *Scenario) { sc.NeighbourLoad = 2 },
		"negative lost":   func(sc *Scenario) { sc.LostEvery = -1 },
		"negative switch": func(sc *Scenario) { sc.SwitchCost = -1 },
	}
	for name, f := range bad {
		sc := baseScenario()
		sc.Rings = append([]Ring(nil), sc.Rings...)
		f(&sc)
		if _, err := Run(sc, func(event.Event) error { return nil }); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	for _, s := range []string{"strict", "solid", "skip", "liquid", "fairness", "none", "passthrough"} {
		if _, err := ParsePolicy(s); err != nil {
			t.Errorf("ParsePolicy(%q): %v", s, err)
		}
	}
}

// TestNeighbourOnOff: neighbours with their own on/off workload are
// skipped in stretches, not turn by turn.
func TestNeighbourOnOff(t *testing.T) {
	sc := baseScenario()
	sc.Policy, sc.VFs, sc.Duration = Skip, 2, 2*time.Second
	sc.NeighbourOn, sc.NeighbourOff = 150*time.Millisecond, 100*time.Millisecond
	evs, tr := collect(t, sc)
	if err := verify(sc, evs, tr); err != nil {
		t.Fatal(err)
	}
	self, changes := 0, 0
	for i, w := range tr.Windows {
		if w.Self {
			self++
		}
		if i > 0 && w.Self != tr.Windows[i-1].Self {
			changes++
		}
	}
	// 2 s of 250 ms cycles: about 16 changes; i.i.d. skips would give
	// about half the windows
	if self < len(tr.Windows)/5 || changes > 24 || changes < 8 {
		t.Fatalf("%d windows, %d self, %d changes of kind", len(tr.Windows), self, changes)
	}
	sc.NeighbourOff = 0
	if _, err := Run(sc, func(event.Event) error { return nil }); err == nil {
		t.Fatal("NeighbourOn without NeighbourOff accepted")
	}
}
