package gaps

import (
	"math"
	"slices"
)

// turns is what findTurns learnt of the host's turns.
type turns struct {
	// base is the typical shortest spacing of window ends (lowCluster):
	// one period, or in variable mode a few slots.
	base  float64
	fixed bool       // a fixed lattice holds the window ends
	fit   latticeFit // that lattice (when fixed)
}

// tolerance is how far a window end may lie from its lattice point on a
// trial period p0 with straddling jobs j: window ends sit within the
// straddling job's remainder after the turn start, which tolJobs·j covers,
// but no more than tolMaxFrac of the trial period (long exponential jobs
// would otherwise forbid any fit; the one-step test rejects a
// sub-multiple of the true period), and no less than tolMinFrac of it.
func tolerance(j, p0 float64) float64 {
	t := &defaults
	return max(min(t.tolJobs*j, t.tolMaxFrac*p0), t.tolMinFrac*p0)
}

// findTurns fits a fixed schedule's lattice to the window ends: the
// largest trial period (a whole fraction of the spacings' low cluster)
// whose lattice holds at least minIn of them, covers a few turns, steps
// one period between consecutive busy windows, exceeds the off-time and
// leaves no long busy stretch without a window. A lattice that leaves
// many windows off while a whole fraction of it holds nearly all is a
// variable schedule's slot grid instead: turns.fixed is then false.
func findTurns(o []obs, j float64, sp spacing, minIn float64) turns {
	t := &defaults
	n := len(o)
	diffs := make([]float64, 0, n-1)
	for i := 1; i < n; i++ {
		diffs = append(diffs, o[i].e-o[i-1].e)
	}
	slices.Sort(diffs)
	tr := turns{base: lowCluster(diffs)}
	medAnch := anchoredOff(o, j)
	// A turn holds its off-time, so consecutive windows of a fixed
	// schedule are more than an off-time apart: spurious short windows
	// (a vCPU or tracer held up) close together must not set the trial
	// period. The plain base is tried too (a guest idle at most turn
	// ends leaves no consecutive pairs).
	bases := []float64{tr.base}
	if medAnch > 0 {
		long := make([]float64, 0, n)
		for _, d := range diffs {
			if d > medAnch {
				long = append(long, d)
			}
		}
		if b := lowCluster(long); b > 0 && math.Abs(b-tr.base) > t.distinctBase*b {
			bases = append([]float64{b}, bases...)
		}
	}
	for _, base := range bases {
		if tr.fixed || base <= 0 {
			continue
		}
		for m := 1; m <= t.subMultiples; m++ {
			p0 := base / float64(m)
			f := fitLattice(o, p0, tolerance(j, p0), true)
			if f.inliers >= minIn && f.span >= t.minSpan && f.oneStep >= t.minOneStep && medAnch < f.period && windowless(o, f.period, medAnch, sp.mean) <= t.maxWindowless {
				tr.fit, tr.fixed = f, true
				break
			}
		}
	}
	if tr.fixed && tr.fit.inliers < t.slotCheckInliers && finerGrid(o, tr.fit, j) {
		tr.fixed = false
	}
	if tr.fixed && offVaries(o, tr.fit, j) {
		tr.fixed = false
	}
	return tr
}

// offVaries reports whether the off-times of the busy turns on fit vary
// more than a fixed schedule allows: every VF keeps its slot there, so a
// window that began with work outstanding lasts the off-time plus the
// straddling job, and their interquartile range stays within
// offSpreadTols tolerances. A work-conserving host whose neighbours come
// and go (liquid, with early switch-outs) can still put most windows on
// some lattice, but its off-times are whatever the busy neighbours took.
func offVaries(o []obs, fit latticeFit, j float64) bool {
	t := &defaults
	var lens []float64
	for i, w := range o {
		if w.adjacent && fit.in[i] {
			lens = append(lens, w.e-w.s)
		}
	}
	if len(lens) < t.minSlotWindows {
		return false
	}
	slices.Sort(lens)
	iqr := lens[3*len(lens)/4] - lens[len(lens)/4]
	return iqr > t.offSpreadTols*tolerance(j, fit.period)
}

// anchoredOff is the median length of the anchored windows less one
// straddling job j: a first guess at the off-time (0 when none is
// anchored).
func anchoredOff(o []obs, j float64) float64 {
	lens := make([]float64, 0, len(o))
	for _, w := range o {
		if w.anchored {
			lens = append(lens, w.e-w.s)
		}
	}
	if len(lens) == 0 {
		return 0
	}
	return median(lens) - j
}

// finerGrid reports whether a whole fraction of fit's period holds nearly
// all the windows and clearly more than fit: the slot grid of a variable
// schedule, not a fixed schedule with spurious windows (with two VFs and
// idle neighbours skipped, windows fall on every slot, not every other).
func finerGrid(o []obs, fit latticeFit, j float64) bool {
	t := &defaults
	for m := 2; m <= t.subMultiples; m++ {
		p0 := fit.period / float64(m)
		if f := fitLattice(o, p0, tolerance(j, p0), false); f.inliers >= t.slotInliers && f.inliers > fit.inliers+t.slotGain {
			return true
		}
	}
	return false
}

// lowCluster returns the typical shortest spacing in sorted diffs: the
// median of the values near the 20th percentile (robust to a few
// spurious short ones and to skipped turns, which give multiples).
func lowCluster(d []float64) float64 {
	if len(d) == 0 {
		return 0
	}
	return clusterAt(d, d[len(d)/defaults.clusterQuantile])
}

// windowless returns the fraction of the time between consecutive busy
// windows (the guest had work outstanding throughout) that lies in
// stretches longer than 1.5 periods, beyond their first period, in which
// the guest progressed for clearly more of the time than a fixed schedule
// allows (period-off of each period). With a strict round robin a busy
// guest is switched out every period, so it is near zero (a window missed
// here and there leaves the guest progressing at its usual share); a
// work-conserving host whose neighbours go idle gives the guest turn after
// turn with only a switch cost between them (too short to see), and whole
// stretches pass without a window, the guest progressing nearly all the
// time. gap is the mean completion spacing inside a turn: completions×gap
// is the time the guest progressed.
func windowless(o []obs, period, off, gap float64) float64 {
	if period <= 0 || gap <= 0 {
		return 0
	}
	allowed := max(0, min(1, (period-off)/period))
	lim := allowed + 0.5*(1-allowed)
	var tot, extra float64
	for i := 1; i < len(o); i++ {
		if !o[i].adjacent {
			continue
		}
		d := o[i].e - o[i-1].e
		tot += d
		if d > defaults.windowlessStretch*period && float64(o[i].comps)*gap > lim*d {
			extra += d - period
		}
	}
	if tot == 0 {
		return 0
	}
	return extra / tot
}
