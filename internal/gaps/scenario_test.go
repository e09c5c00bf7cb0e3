package gaps

import (
	"cmp"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// scenario is a test's host and guest in the terms of the engine's tests;
// run simulates it with internal/simulate (the one generator of events and
// their truth) and reads the trace back as a 4.15 source (or a 6.17 one:
// Gen617) would give it.
type scenario struct {
	VFs         int
	Slice, Cost time.Duration // Cost: one world switch
	// Passthrough: policy none, the VF always active.
	Passthrough bool
	// Variable: a skipping host (policy skip), each other VF idle, and
	// its turn skipped, with probability SkipProb in each round.
	Variable bool
	SkipProb float64

	Job     time.Duration // mean job duration
	JobDist string        // a simulate.DistKind: "const", "exp", "uniform", "bimodal"

	// Frames > 0: frame-paced, FrameJobs jobs every Frames; else
	// saturating, Depth jobs submitted, all of them on the hardware ring
	// (0: simulate's defaults, 4 submitted, 2 on the ring).
	Frames    time.Duration
	FrameJobs int
	Depth     int

	Duration time.Duration
	Seed     uint64
	// Gen617: the 6.17 tracepoints (jobs named context:seqno, run
	// events); else 4.15's (fence addresses, no run event).
	Gen617 bool
}

// truth is what the tests check the engine against, from simulate.Truth.
type truth struct {
	// offs are the switched-out windows [start,end) of our VF that the
	// guest could see (work outstanding in them, not a self switch).
	offs [][2]int64
	// allOffs are all switched-out windows.
	allOffs [][2]int64
	// slice is the mean turn, period the mean turn-to-turn time, share
	// the fraction of time our VF holds the GPU.
	slice, period time.Duration
	share         float64
}

// sim is sc as a simulate.Scenario.
func (sc scenario) sim() simulate.Scenario {
	p := simulate.Params{
		VFs: sc.VFs, Slices: []time.Duration{sc.Slice}, SwitchCost: sc.Cost, Policy: simulate.Strict,
		Workload: simulate.Saturate, Job: sc.Job, JobDist: simulate.DistKind(sc.JobDist),
		Duration: sc.Duration, Seed: sc.Seed, Gen: tracepoint.GenAMD, Nanoseconds: true,
	}
	if sc.Gen617 {
		p.Gen = tracepoint.Gen617
	}
	if sc.Passthrough {
		p.Policy = simulate.None
	}
	if sc.Variable {
		p.Policy, p.NeighbourLoad = simulate.Skip, 1-sc.SkipProb
	}
	if sc.Frames > 0 {
		p.Workload, p.FPS, p.JobsPerFrame = simulate.Frames, float64(time.Second)/float64(sc.Frames), sc.FrameJobs
	}
	s := p.Scenario()
	s.Rings[0].Workload.Depth = sc.Depth
	if sc.Depth > 0 {
		s.Rings[0].HWLimit = sc.Depth
	}
	return s
}

// run simulates sc and returns its events and truth (failing tb on error).
func (sc scenario) run(tb testing.TB) ([]event.Event, truth) {
	tb.Helper()
	evs, st, err := simulate.Events(sc.sim())
	if err != nil {
		tb.Fatal(err)
	}
	ns := func(s float64) int64 { return int64(math.Round(s * 1e9)) }
	tr := truth{slice: st.SliceDuration(), period: st.PeriodDuration(), share: st.Share}
	for _, w := range st.Windows {
		o := [2]int64{ns(w.Start), ns(w.End)}
		tr.allOffs = append(tr.allOffs, o)
		if w.Seen() {
			tr.offs = append(tr.offs, o)
		}
	}
	return evs, tr
}

func sortEvents(evs []event.Event) {
	// stable by time; queue before run before done at equal times is
	// already the generation order for one job
	slices.SortStableFunc(evs, func(a, b event.Event) int { return cmp.Compare(a.Time, b.Time) })
}

// windowF1 matches detected switched-out windows to true off-windows in
// which the guest had work: a detected window matches the true window it
// overlaps most.
func windowF1(ws []Window, tr truth) (f1, prec, rec float64) {
	var det [][2]int64
	for _, w := range ws {
		if w.Kind == SwitchedOut && !w.Open {
			det = append(det, [2]int64{w.Start, w.End})
		}
	}
	used := make([]bool, len(tr.offs))
	tp := 0
	j := 0
	for _, d := range det {
		for j < len(tr.offs) && tr.offs[j][1] <= d[0] {
			j++
		}
		for k := j; k < len(tr.offs) && tr.offs[k][0] < d[1]; k++ {
			if !used[k] {
				used[k] = true
				tp++
				break
			}
		}
	}
	if len(det) == 0 || len(tr.offs) == 0 {
		if len(det) == 0 && len(tr.offs) == 0 {
			return 1, 1, 1
		}
		return 0, 0, 0
	}
	prec = float64(tp) / float64(len(det))
	rec = float64(tp) / float64(len(tr.offs))
	if prec+rec == 0 {
		return 0, prec, rec
	}
	return 2 * prec * rec / (prec + rec), prec, rec
}

func relErr(got, want time.Duration) float64 {
	return math.Abs(float64(got-want)) / float64(want)
}
