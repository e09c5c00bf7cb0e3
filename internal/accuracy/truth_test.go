package accuracy

import (
	"fmt"
	"math"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
)

// TestGridTruth checks the simulator's truth on every host-model scenario
// of the grid (Quick with -short), without the estimator: the held share
// is a fraction, windows lie in the trace in order; steal runs have steal
// episodes, outage and starvation runs their spans inside one busy window
// and a held share below the schedule's; liquid on-times are whole quanta;
// fairness keeps the accumulated on-time error within twice the jitter;
// accumulating jitter drifts off the lattice, deadline jitter stays on it.
func TestGridTruth(t *testing.T) {
	g, least := Grid(), 200
	if testing.Short() {
		g, least = Quick(), 20
	}
	n := 0
	for _, sc := range g {
		c := Class(sc)
		switch c {
		case "drift", "deadline-jitter", "fairness", "liquid", "steal", "outage", "starvation":
		default:
			continue
		}
		n++
		tr, err := simulate.Run(sc, func(event.Event) error { return nil })
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		if err := truthInvariants(c, &tr); err != "" {
			t.Errorf("%s: %s", sc.Name, err)
		}
	}
	if n < least {
		t.Fatalf("only %d host-model scenarios", n)
	}
}

func truthInvariants(class string, tr *simulate.Truth) string {
	if tr.HeldShare <= 0 || tr.HeldShare > 1 || tr.BusyTime <= 0 || tr.BusyTime > tr.End-tr.Start+1e-9 {
		return fmtS("held share %v over %v s busy", tr.HeldShare, tr.BusyTime)
	}
	if len(tr.Windows) < 10 {
		return fmtS("%d windows", len(tr.Windows))
	}
	for i, w := range tr.Windows {
		if w.Start < tr.Start || w.End > tr.End || w.End <= w.Start || (i > 0 && w.Start < tr.Windows[i-1].End) {
			return fmtS("window %d %+v", i, w)
		}
	}
	j := tr.Jitter
	switch class {
	case "steal":
		if len(tr.Steal) < 5 {
			return fmtS("%d steal episodes", len(tr.Steal))
		}
	case "outage", "starvation":
		if len(tr.Outages) != 1 {
			return fmtS("outages %+v", tr.Outages)
		}
		o := tr.Outages[0]
		in := false
		for _, w := range tr.Windows {
			in = in || (w.Busy && w.Start <= o.Start && w.End >= o.End)
		}
		if !in {
			return fmtS("outage %+v in no busy window", o)
		}
		// a saturating guest: the held share is the schedule's share
		// over the time outside the outage
		lost := (o.End - o.Start) / (tr.End - tr.Start)
		if want := tr.Slices[0] / tr.NominalPeriod * (1 - lost); math.Abs(tr.HeldShare-want) > 0.01 {
			return fmtS("held share %v, want ≈ %v (%.0f%% of the trace lost)", tr.HeldShare, want, 100*lost)
		}
	case "liquid":
		q := tr.Quantum
		if q <= 0 {
			return "no quantum"
		}
		for _, on := range tr.OnTimes() {
			if m := math.Round(on / q); m < 1 || math.Abs(on-m*q) > j+1e-9 {
				return fmtS("on-time %v not a whole number of %v quanta (± %v)", on, q, j)
			}
		}
		if tr.Period <= 0 || tr.PeriodStd < 0 {
			return fmtS("period %v ± %v", tr.Period, tr.PeriodStd)
		}
	case "fairness":
		var sum, worst float64
		for i, on := range tr.OnTimes() {
			sum += on
			worst = math.Max(worst, math.Abs(sum-float64(i+1)*tr.Slices[0]))
		}
		if worst > 2*j+1e-8 {
			return fmtS("accumulated on-time error %.1f µs (jitter %.0f µs)", worst*1e6, j*1e6)
		}
	case "drift":
		// the mean square deviation of the last quarter of the turns
		d := tr.LatticeDeviation()
		var ms float64
		for _, v := range d[len(d)-len(d)/4:] {
			ms += v * v / float64(len(d)/4)
		}
		if ms < 4*j*j {
			return fmtS("rms lattice deviation %.0f µs in the last quarter: no drift (jitter %.0f µs)", math.Sqrt(ms)*1e6, j*1e6)
		}
	case "deadline-jitter":
		for _, v := range tr.LatticeDeviation() {
			if math.Abs(v) > 2*j+1e-8 {
				return fmtS("turn %.0f µs off its lattice point (jitter %.0f µs)", v*1e6, j*1e6)
			}
		}
	}
	return ""
}

func fmtS(f string, a ...any) string { return fmt.Sprintf(f, a...) }
