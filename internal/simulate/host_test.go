package simulate

import (
	"math"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

const (
	ms = time.Millisecond
	us = time.Microsecond
)

// TestHostModels: every host model keeps the model's laws (verify).
func TestHostModels(t *testing.T) {
	for name, f := range map[string]func(*Scenario){
		"accumulate":    func(sc *Scenario) { sc.Jitter = 150 * us },
		"deadline":      func(sc *Scenario) { sc.Jitter, sc.JitterMode = 150*us, Deadline },
		"switch step":   func(sc *Scenario) { sc.SwitchStep = 100 * us },
		"fairness":      func(sc *Scenario) { sc.Policy, sc.Jitter, sc.SwitchStep = Fairness, 100*us, 100*us },
		"liquid":        func(sc *Scenario) { sc.Policy, sc.Neighbours = Liquid, []Neighbour{{Load: 0.7}} },
		"liquid onoff":  func(sc *Scenario) { sc.Policy, sc.VFs, sc.NeighbourOn, sc.NeighbourOff = Liquid, 4, 30*ms, 20*ms },
		"liquid frames": func(sc *Scenario) { sc.Policy, sc.Rings[0].Workload = Liquid, Workload{Kind: "frames"} },
		"deadline skip": func(sc *Scenario) { sc.Policy, sc.VFs, sc.Jitter, sc.JitterMode = Skip, 4, 100*us, Deadline },
		"asymmetric": func(sc *Scenario) {
			sc.Policy, sc.VFs, sc.Slices, sc.Neighbours = Skip, 3, []time.Duration{6 * ms, 2 * ms, 8 * ms}, []Neighbour{{Load: 0.9}, {On: 40 * ms, Off: 60 * ms}}
		},
		"steal": func(sc *Scenario) { sc.StealEvery = 125 * ms },
		"steal bursts": func(sc *Scenario) {
			sc.StealEvery, sc.Rings[0].Workload = 50*ms, Workload{Kind: "bursts", On: 100 * ms, Off: 50 * ms}
		},
		"outage": func(sc *Scenario) { sc.Outages = []Outage{{At: 300 * ms, Len: 200 * ms, Kind: "outage"}} },
		"outage liquid": func(sc *Scenario) {
			sc.Policy, sc.Outages = Liquid, []Outage{{At: 100 * ms, Len: 50 * ms}, {At: 500 * ms, Len: 300 * ms}}
		},
		"starve long": func(sc *Scenario) { sc.Outages = []Outage{{At: 200 * ms, Len: 5 * time.Second, Kind: "starve"}} },
		"long jobs":   func(sc *Scenario) { sc.Rings[0].Job.Mean, sc.Rings[0].Workload = 15*ms, Workload{Kind: "long"} },
		"everything": func(sc *Scenario) {
			sc.Policy, sc.VFs, sc.Jitter, sc.SwitchStep, sc.StealEvery, sc.Outages = Liquid, 8, 100*us, 100*us, 100*ms, []Outage{{At: 400 * ms, Len: 100 * ms}}
		},
		"fairness 16vf ": func(sc *Scenario) {
			sc.Policy, sc.VFs, sc.Slices, sc.Jitter = Fairness, 16, []time.Duration{ms}, 100*us
		},
	} {
		t.Run(name, func(t *testing.T) {
			sc := baseScenario()
			sc.Rings = append([]Ring(nil), sc.Rings...)
			f(&sc)
			evs, tr := collect(t, sc)
			if err := verify(sc, evs, tr); err != nil {
				t.Fatal(err)
			}
			if len(tr.Windows) == 0 || tr.Turns == 0 || tr.BusyTime == 0 {
				t.Fatalf("%d windows, %d turns, busy %v s", len(tr.Windows), tr.Turns, tr.BusyTime)
			}
		})
	}
}

func rms(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// TestJitterModes: with accumulating jitter turn starts random-walk away
// from any lattice (their spread grows with time); with deadline jitter
// every turn starts within the jitter of its lattice point.
func TestJitterModes(t *testing.T) {
	const j = 100 * us
	sc := baseScenario()
	sc.Duration, sc.Jitter = 4*time.Second, j
	_, acc := collect(t, sc)
	sc.JitterMode = Deadline
	_, dl := collect(t, sc)

	d := dl.LatticeDeviation()
	for i, v := range d {
		if math.Abs(v) > 2*j.Seconds()+1e-9 {
			t.Fatalf("deadline: turn %d is %.1f µs off its lattice point (jitter %v)", i, v*1e6, j)
		}
	}
	a := acc.LatticeDeviation()
	q := len(a) / 4
	early, late := rms(a[:q]), rms(a[len(a)-q:])
	if late < 4*j.Seconds() || late < 2*early {
		t.Fatalf("accumulate: rms lattice deviation %.0f µs in the first quarter, %.0f µs in the last (want a growing random walk, ≥ 4 × %v)", early*1e6, late*1e6, j)
	}
	// both keep the mean slice and period
	for _, tr := range []Truth{acc, dl} {
		if math.Abs(tr.Slice-0.006) > 30e-6 || math.Abs(tr.Period-tr.NominalPeriod) > 30e-6 {
			t.Errorf("%s: slice %v period %v (nominal %v)", tr.JitterMode, tr.Slice, tr.Period, tr.NominalPeriod)
		}
	}
}

// TestSwitchStep: switch costs come in polling steps: every window is
// slice + two switches, each a whole number of steps, and they vary.
func TestSwitchStep(t *testing.T) {
	sc := baseScenario()
	sc.SwitchStep = 100 * us
	_, tr := collect(t, sc)
	seen := map[int64]bool{}
	for _, w := range tr.Windows {
		extra := int64(math.Round((w.End-w.Start)*1e9)) - int64(6*ms)
		if extra%int64(100*us) != 0 || extra < int64(200*us) || extra > int64(600*us) {
			t.Fatalf("window %+v: %d ns of switching (want 2 × 100–300 µs in 100 µs steps)", w, extra)
		}
		seen[extra] = true
	}
	if len(seen) < 3 {
		t.Fatalf("switch costs %v: no variation", seen)
	}
}

// TestFairnessBounded: under fairness any run of our turns has on-time
// within 2 × jitter of its due; with no correction the error drifts.
func TestFairnessBounded(t *testing.T) {
	sc := baseScenario()
	sc.Jitter, sc.Duration = 100*us, 3*time.Second
	worst := func(tr Truth) float64 {
		var sum, w float64
		for i, on := range tr.OnTimes() {
			sum += on
			w = math.Max(w, math.Abs(sum-float64(i+1)*0.006))
		}
		return w
	}
	_, strict := collect(t, sc)
	sc.Policy = Fairness
	_, fair := collect(t, sc)
	if w := worst(fair); w > 2*sc.Jitter.Seconds()+2e-9 {
		t.Fatalf("fairness: accumulated on-time error %.1f µs (want ≤ 2 × %v)", w*1e6, sc.Jitter)
	}
	if w := worst(strict); w < 4*sc.Jitter.Seconds() {
		t.Fatalf("strict: accumulated on-time error only %.1f µs: the comparison shows nothing", w*1e6)
	}
}

// TestLiquidQuantum: on a liquid host our on-times are whole multiples of
// the quantum, extended when the neighbour is idle; the truth gives the
// quantum and the turn-to-turn mean and spread.
func TestLiquidQuantum(t *testing.T) {
	sc := baseScenario()
	sc.Policy, sc.Neighbours, sc.Duration = Liquid, []Neighbour{{Load: 0.7}}, 2*time.Second
	_, tr := collect(t, sc)
	if tr.Quantum != 0.006 {
		t.Fatalf("quantum %v", tr.Quantum)
	}
	mult := map[int]int{}
	for _, on := range tr.OnTimes() {
		m := math.Round(on / 0.006)
		if math.Abs(on-m*0.006) > 1e-9 || m < 1 {
			t.Fatalf("on-time %v is no whole multiple of 6 ms", on)
		}
		mult[int(m)]++
	}
	if mult[1] == 0 || mult[2] == 0 || mult[3] == 0 {
		t.Fatalf("multiples of the quantum seen: %v (want 1, 2 and 3 with a neighbour busy 70%%)", mult)
	}
	// turns are further apart than a fixed round robin's, and spread
	if tr.Period <= tr.NominalPeriod || tr.PeriodStd < 0.002 || tr.HeldShare < 0.5 {
		t.Fatalf("period %v ± %v (nominal %v), held share %v", tr.Period, tr.PeriodStd, tr.NominalPeriod, tr.HeldShare)
	}
}

// TestLiquidEarlySwitch: a liquid neighbour whose work runs out is
// switched out early, never before EarlySwitch.
func TestLiquidEarlySwitch(t *testing.T) {
	sc := baseScenario()
	sc.Policy, sc.Duration = Liquid, 2*time.Second
	sc.Neighbours = []Neighbour{{On: 7 * ms, Off: 5 * ms}}
	_, tr := collect(t, sc)
	short := 0
	lo := (EarlySwitch + 2*sc.SwitchCost).Seconds()
	for _, w := range tr.Windows {
		l := w.End - w.Start
		if l < lo-1e-9 {
			t.Fatalf("window %+v shorter than an early switch (%v)", w, lo)
		}
		if l < 0.006+0.0004-1e-6 {
			short++
		}
	}
	if short == 0 {
		t.Fatalf("no neighbour turn cut short in %d windows", len(tr.Windows))
	}
}

// TestNeighbourLoads: each neighbour has its own load: one always busy,
// one never, on a skipping host.
func TestNeighbourLoads(t *testing.T) {
	sc := baseScenario()
	sc.Policy, sc.VFs = Skip, 3
	sc.Slices = []time.Duration{6 * ms, 2 * ms, 9 * ms}
	sc.Neighbours = []Neighbour{{Load: 1}, {Load: 0}}
	_, tr := collect(t, sc)
	for _, w := range tr.Windows {
		if l := w.End - w.Start; math.Abs(l-0.0024) > 1e-9 {
			t.Fatalf("window %+v: %v long, want VF 1's 2 ms + 2 switches only", w, l)
		}
	}
	if tr.BusyVFs != 2 {
		t.Fatalf("%d VFs busy in a round, want 2 (VF 2 never runs)", tr.BusyVFs)
	}
	sc.Policy = Strict
	if _, tr := collect(t, sc); tr.BusyVFs != 3 {
		t.Fatalf("strict: %d VFs busy in a round, want 3", tr.BusyVFs)
	}
}

// TestSteal: no completion is signalled inside a steal episode; those
// that happened in one are signalled together just after it.
func TestSteal(t *testing.T) {
	sc := baseScenario()
	sc.StealEvery, sc.Duration = 125*ms, 4*time.Second
	evs, tr := collect(t, sc)
	if n := len(tr.Steal); n < 16 || n > 50 {
		t.Fatalf("%d steal episodes in 4 s at one per 125 ms", n)
	}
	bursts := 0
	for _, sp := range tr.Steal {
		a, b := int64(sp.Start*1e9+0.5), int64(sp.End*1e9+0.5)
		if l := b - a; l < int64(1125*us) || l > int64(1875*us) {
			t.Fatalf("episode %+v: %v long (want 1.5 ms ± 25 %%)", sp, time.Duration(l))
		}
		n := 0
		for _, ev := range evs {
			if ev.Kind != event.KindDone {
				continue
			}
			if ev.Time > a && ev.Time < b {
				t.Fatalf("completion at %d inside steal episode %+v", ev.Time, sp)
			}
			if ev.Time >= b && ev.Time <= b+int64(5*us) {
				n++
			}
		}
		if n >= 2 {
			bursts++
		}
	}
	if bursts == 0 {
		t.Fatal("no completions held back and signalled together")
	}
	// steal draws from its own stream: the host's schedule is unchanged
	sc.StealEvery = 0
	_, plain := collect(t, sc)
	if plain.Slice != tr.Slice || plain.Windows[0] != tr.Windows[0] {
		t.Fatalf("steal changed the host's schedule: %+v vs %+v", plain.Windows[0], tr.Windows[0])
	}
}

// TestOutageHeldShare: an outage of 1.5 s in 6 s of a 1/2 host lowers the
// held share to about 4.5/6 of the schedule's, and it sits in one busy
// switched-out window; a 5 s starvation keeps the guest's jobs in flight
// (nothing completes in it).
func TestOutageHeldShare(t *testing.T) {
	sc := baseScenario()
	sc.Duration = 6 * time.Second
	sc.Outages = []Outage{{At: 2 * time.Second, Len: 1500 * ms, Kind: "outage"}}
	_, tr := collect(t, sc)
	want := 0.4839 * 4.5 / 6
	if math.Abs(tr.HeldShare-want) > 0.005 || len(tr.Outages) != 1 || tr.Outages[0].Kind != "outage" {
		t.Fatalf("held share %v (want ≈ %v), outages %+v", tr.HeldShare, want, tr.Outages)
	}
	found := false
	for _, w := range tr.Windows {
		if w.Start <= tr.Outages[0].Start && w.End >= tr.Outages[0].End {
			found = w.Busy && w.End-w.Start < 1.5+0.0125
		}
	}
	if !found {
		t.Fatal("no busy window of the outage's length around it")
	}

	sc.Duration = 3 * time.Second
	sc.Outages = []Outage{{At: time.Second, Len: 5 * time.Second, Kind: "starve"}}
	evs, st := collect(t, sc)
	inFlight := map[event.JobKey]bool{}
	for _, ev := range evs {
		switch ev.Kind {
		case event.KindQueue:
			inFlight[ev.Job] = true
		case event.KindDone:
			delete(inFlight, ev.Job)
			if ev.Time > int64(st.Outages[0].Start*1e9)+int64(ms) {
				t.Fatalf("completion at %d inside the starvation %+v", ev.Time, st.Outages[0])
			}
		}
	}
	if math.Abs(st.HeldShare-0.4839/3) > 0.01 || len(inFlight) < 1 {
		t.Fatalf("starvation: held share %v, %d jobs left in flight", st.HeldShare, len(inFlight))
	}
}
