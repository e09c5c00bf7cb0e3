package gaps

import (
	"math"
	"slices"
)

// turnPhase returns psi, the trace time (ns) of a turn start on fit: the
// lattice moved down to the earliest window ends (their 1/tail quantile,
// less the order statistic's bias where the guest saturates, see
// switchExtremes).
func turnPhase(ev *evidence, fit latticeFit) float64 {
	all := make([]float64, 0, len(ev.o))
	for i, w := range ev.o {
		if fit.in[i] {
			all = append(all, w.e-fit.phi-fit.period*fit.k[i])
		}
	}
	slices.Sort(all)
	q := tailAt(len(all))
	minRe := all[q]
	if ev.sat {
		minRe -= float64(q+1) * ev.sp.mean / float64(len(all)+1)
	}
	return ev.e0 + fit.phi + minRe
}

// latestPhase refines the slice of a fixed schedule (turns starting at
// psi + k·period, off-time off) from the completions: every completion
// falls inside a turn, so the latest phase of any completion after the
// turn start bounds the slice from below, and with many turns approaches
// it (the windows' own starts are only the turns that ended busy). It
// returns the latest phase over the turns, passing over the latest of
// all when the guest was held up now and then (hiccups: a completion of
// the turn's end delivered late, in the off-time, would set it) and a few
// latest ones standing apart from the rest (late deliveries too, not the
// turn's end); -1 when no completion is known.
func latestPhase(ev *evidence, psi, period, off float64, hiccups bool) float64 {
	t := &defaults
	lim := period - off*t.phaseCut
	var tops []float64
	turn := math.Inf(-1)
	ev.done.each(func(c int64) {
		x := float64(c) - psi
		k := math.Floor(x / period)
		ph := x - k*period
		if ph > lim {
			return
		}
		if k != turn {
			turn = k
			tops = append(tops, ph)
		} else if ph > tops[len(tops)-1] {
			tops[len(tops)-1] = ph
		}
	})
	if len(tops) == 0 {
		return -1
	}
	slices.Sort(tops)
	q := 0
	if hiccups && len(tops) >= t.tailSkipMin {
		q = max(tailAt(len(tops)), 1)
	}
	for q+1 < len(tops)/t.apartDecile && tops[len(tops)-1-q]-tops[len(tops)-2-q] > t.apartJobs*ev.j {
		q++
	}
	return tops[len(tops)-1-q]
}

// refineSlice returns the slice and off-time of a fixed schedule: period
// less the off-time, raised to the latest completion phase (latestPhase)
// when the off-time came from the extremes and the phase lies at most
// raiseJobs jobs above.
func refineSlice(ev *evidence, psi, period float64, ot offTime, hiccups bool) (slice, off float64) {
	off = ot.off
	slice = period - off
	if !ot.ext || ev.done.n == 0 {
		return slice, off
	}
	if best := latestPhase(ev, psi, period, off, hiccups); best > slice && best-slice <= defaults.raiseJobs*ev.j {
		slice, off = best, period-best
	}
	return slice, off
}
