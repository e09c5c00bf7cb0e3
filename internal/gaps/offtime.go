package gaps

import (
	"math"
	"slices"
)

// offTime is the estimated off-time and its standard error (ns).
type offTime struct {
	off, se float64
	// ext: from the extremes of the switch instants (fixed lattice), not
	// from the mean window; mean is then the mean window's estimate.
	ext  bool
	mean float64
}

// estimateOff estimates a fixed lattice's off-time from its anchored
// windows, whose length is Off plus one straddling job: from the extremes
// of the switch instants or the mean (offFixed); on drifting turns, from
// the mean of the typical windows; with no anchored window (frame-paced
// work), from the longest windows. Late edges (late) take no part.
func estimateOff(ev *evidence, fit latticeFit, late lateMarks) offTime {
	o, j := ev.o, ev.j
	offs := make([]float64, 0, len(o))
	for i, w := range o {
		if w.anchored && fit.in[i] && !late.start[i] && !late.end[i] {
			offs = append(offs, w.e-w.s)
		}
	}
	switch {
	case !fit.local && len(offs) >= 2:
		return offFixed(ev, fit, offs, late)
	case len(offs) >= 2:
		m, sd := meanSD(robustCore(offs, j))
		return offTime{off: m - j, se: lengthSE(sd, len(offs), ev.sp)}
	}
	// Frame-paced: windows begin when a job arrives during the off-time.
	// The longest of them approach Off + one job.
	bs := make([]float64, 0, len(o))
	for i, w := range o {
		if fit.in[i] {
			bs = append(bs, w.e-w.s)
		}
	}
	slices.Sort(bs)
	return offTime{
		off: bs[len(bs)*defaults.framesQuantile/100] - j,
		se:  max(j, (bs[len(bs)-1]-bs[0])/math.Sqrt(float64(len(bs)))),
	}
}

// offFixed estimates a fixed lattice's off-time from the anchored window
// lengths offs. The switch instants themselves sit on the lattice: a
// window ends R ≥ 0 after its turn starts (what remains of the straddling
// job) and starts U ≥ 0 before its turn ends (the part already done). The
// extremes over many windows approach R = U = 0, a far tighter estimate
// than the mean, when they agree with it; otherwise, or when jobs are
// phase-locked to the slice (constant jobs dividing it, where the mean is
// exact), the mean is used.
func offFixed(ev *evidence, fit latticeFit, offs []float64, late lateMarks) offTime {
	t, j, sp := &defaults, ev.j, ev.sp
	core := robustCore(offs, j)
	m, sd := meanSD(core)
	offMean := m - j
	seMean := lengthSE(sd, len(offs), sp)
	// windows far from the bulk (cut short by a late completion) take no
	// part in the extremes either
	lo, hi := slices.Min(core), slices.Max(core)
	x := switchExtremes(ev, fit, lo, hi, late)
	// The extremes are trusted only when they are tight (their
	// neighbouring order statistics close together, as on a clean
	// schedule): a few windows that began late (a stalled driver, events
	// delivered late) otherwise drag them far off. (In a saturating
	// pipeline the mean rests on the straddling job model, which holds
	// less exactly than the extremes: give the extremes more room before
	// calling the jobs phase-locked.)
	kse := t.agreeSE
	if ev.sat {
		kse = t.agreeSESaturating
	}
	lockedMean, locked := phaseLocked(core, j, ev.done)
	if locked {
		offMean = lockedMean
	}
	tight := x.se <= t.extJobs*j+t.extSEs*seMean
	switch {
	// The two must agree: the mean within its errors and its model's
	// doubt (the straddling job lies between a typical and a
	// length-biased one, half their difference either way), the
	// extremes within theirs. Host jitter moves the extremes (the
	// earliest end and latest start are the turns the jitter moved
	// most), not the mean; truncated long jobs move the mean. Where the
	// guest saturates, the renewal argument also tells a sharp edge from
	// one the jitter spread; sparse work (frames) has no renewal ages,
	// and there the extremes only need to be no larger than the mean
	// allows.
	case !locked && ev.sat && sharpEdge(x.ends, sp.mean) &&
		math.Abs(x.off-offMean) <= kse*seMean+x.se+(j-sp.mean)/2 && tight,
		!locked && !ev.sat && x.off <= offMean+kse*seMean+x.se && tight:
		return offTime{off: x.off, se: x.se, ext: true, mean: offMean}
	}
	return offTime{off: offMean, se: seMean}
}

// extremes is the off-time from the switch instants' extremes.
type extremes struct {
	off, se float64
	ends    []float64 // sorted residuals of the window ends (for sharpEdge)
}

// switchExtremes measures the off-time as the earliest window end less
// the latest window start, both as residuals from their turn on fit (at
// the 1/tail quantile, the latest start passed over when there are
// enough: one window that began late would otherwise set it). Anchored
// windows whose length lies outside [lo, hi], and late edges, take no
// part. Where the guest saturates, the order statistics' bias is taken
// out; se is the spread of the next order statistics.
func switchExtremes(ev *evidence, fit latticeFit, lo, hi float64, late lateMarks) extremes {
	n := len(ev.o)
	re := make([]float64, 0, n)
	rs := make([]float64, 0, n)
	for i, w := range ev.o {
		if !fit.in[i] {
			continue
		}
		if w.anchored && !late.start[i] && !late.end[i] && (w.e-w.s < lo || w.e-w.s > hi) {
			continue
		}
		l := fit.phi + fit.period*fit.k[i]
		if !late.end[i] {
			re = append(re, w.e-l)
		}
		if w.anchored && !late.start[i] {
			rs = append(rs, w.s-l)
		}
	}
	slices.Sort(re)
	slices.Sort(rs)
	qe, q := tailAt(len(re)), tailAt(len(rs))
	if len(rs) >= defaults.tailSkipMin {
		q = max(q, 1)
	}
	off := re[qe] - rs[len(rs)-1-q]
	// The extremes are order statistics of the straddling jobs'
	// remainder (ends) and age (starts). Both have density 1/E[g] at 0
	// (renewal theory), so the (k+1)-th smallest of n sits about
	// (k+1)·E[g]/(n+1) above 0: take that bias out. This holds for a
	// saturating pipeline (jobs back to back); with sparse work (frames)
	// the age is not a renewal age.
	corrSE := 0.0
	if ev.sat {
		off -= float64(qe+1)*ev.sp.mean/float64(len(re)+1) + float64(q+1)*ev.sp.mean/float64(len(rs)+1)
		// The (k+1)-th smallest scatters by about √(k+1)·E[g]/(n+1)
		// around where the correction puts it.
		corrSE = math.Hypot(math.Sqrt(float64(qe+1))*ev.sp.mean/float64(len(re)+1), math.Sqrt(float64(q+1))*ev.sp.mean/float64(len(rs)+1))
	}
	// The spread of the next order statistics, and the correction's.
	se := math.Hypot(max(re[min(qe+1, len(re)-1)]-re[qe], rs[len(rs)-1-q]-rs[max(len(rs)-2-q, 0)], fit.periodSE), corrSE)
	return extremes{off: off, se: se, ends: re}
}

// rigidEnds reports whether the window ends sit on fit as a rigid lattice
// puts them: a sharp lower edge (sharpEdge), and the middle 80 % of the
// residuals no wider than rigidSpread straddling jobs (each end is one
// job's remainder after its turn's start: an exponential one's 10–90 %
// spread is 1.1 length-biased jobs). The switch-ins are then where the
// lattice says, and each window's off-time can be read from it. Host
// jitter and drifting turns blur the edge or widen the spread.
func rigidEnds(ev *evidence, fit latticeFit) bool {
	re := make([]float64, 0, len(ev.o))
	for i, w := range ev.o {
		if fit.in[i] {
			re = append(re, w.e-fit.phi-fit.period*fit.k[i])
		}
	}
	if len(re) == 0 {
		return false
	}
	slices.Sort(re)
	n := len(re) - 1
	spread := re[n*9/10] - re[n/10]
	// The edge from the low tail quantile, not the lowest: one stray end
	// (a completion delivered late just before a switch-in) must not
	// make the whole grid unreadable.
	return sharpEdge(re[tailAt(len(re)):], ev.sp.mean) && spread <= defaults.rigidSpread*ev.j
}

// phaseLocked reports whether jobs are phase-locked to the slice: every
// window the same length (the interquartile range of core below
// lockedIQR jobs), off-time plus one whole job. The straddling job is then
// the typical spacing itself, best taken as the median gap (robust to a
// guest held up now and then, whose hiccups and bursts skew E[g²]/E[g]),
// and the off-time is the window's median length less it.
func phaseLocked(core []float64, j float64, done completions) (float64, bool) {
	t := &defaults
	if len(core) < t.lockedMin {
		return 0, false
	}
	c := slices.Clone(core)
	slices.Sort(c)
	if c[len(c)*3/4]-c[len(c)/4] >= t.lockedIQR*j {
		return 0, false
	}
	jm := medianGap(done, slices.Min(core)/2)
	if jm > t.lockedGapMin*j && jm < t.lockedGapMax*j {
		return c[len(c)/2] - jm, true
	}
	return 0, false
}

// sharpEdge reports whether the sorted lattice residuals of the window
// ends, x, rise from their lowest as a rigid lattice makes them: the
// straddling jobs' remainders have density 1/E[g] at the switch-in
// (renewal), so the m-th lowest lies about (m-1)·E[g]/(n+1) above the
// lowest. Host jitter (a switch a little early or late, or turn starts
// that drift) spreads that edge: the extremes then measure the jitter,
// not the switch. edgeRenewals times the renewal spread (and edgeRes of
// timestamp resolution) is the most a sharp edge shows. (Completions
// delivered late only move ends later, never earlier: the lower edge of
// the ends is theirs to keep.)
func sharpEdge(x []float64, meanGap float64) bool {
	t := &defaults
	n := len(x)
	m := max(n/t.edgeDecile, t.edgeMin)
	if n < 2*m {
		return true // too few to tell: the extremes' own spread decides
	}
	return x[m-1]-x[0] <= t.edgeRenewals*float64(m-1)*meanGap/float64(n+1)+t.edgeRes
}

// robustCore drops the window lengths far from the median (by more than
// coreJobs straddling jobs or coreMADs median absolute deviations):
// windows cut short by a late completion, or stretched by a stalled one,
// are not off-times. With few lengths it keeps them all. (It keeps more
// than half of them: those within one median deviation.)
func robustCore(x []float64, j float64) []float64 {
	t := &defaults
	if len(x) < t.coreMin {
		return x
	}
	med := median(x)
	dev := make([]float64, len(x))
	for i, v := range x {
		dev[i] = math.Abs(v - med)
	}
	lim := max(t.coreJobs*j, t.coreMADs*median(dev))
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if math.Abs(v-med) <= lim {
			out = append(out, v)
		}
	}
	return out
}

// medianGap is the median spacing of consecutive completions closer than
// below (0 when done is nil or none are).
func medianGap(done completions, below float64) float64 {
	if done.n == 0 {
		return 0
	}
	d := make([]float64, 0, done.n)
	prev := int64(math.MinInt64)
	done.each(func(t int64) {
		if prev != math.MinInt64 {
			if g := float64(t - prev); g > simultaneous && g < below {
				d = append(d, g)
			}
		}
		prev = t
	})
	if len(d) == 0 {
		return 0
	}
	return median(d)
}
