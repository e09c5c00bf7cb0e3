package gaps

import (
	"fmt"
	"math"
	"time"
)

// The measured share.
//
// What a tenant got is measured, not inferred from the schedule: of the
// time the guest had GPU work outstanding (Busy), the part during which
// the VF held the GPU. The rest is the time the VF was switched out (or
// stalled) while work waited: the no-progress windows. A window is seen
// from the last completion before the switch-out to the first completion
// after the switch-in, so it holds, besides the off-time, the one job
// that straddled the switch: in a saturating pipeline a length-biased job
// (E[g²]/E[g]); when the work arrived during the off-time, the delay to
// its first completion after the switch-in (firstDelay: a typical job
// when the hardware runs one at a time). That job is taken out of each
// window; its spread is the correction's uncertainty. Switch-outs too
// short to leave a window come from the schedule (shortUnserved, and the
// hidden time of inferVariable and inferQuanta).
//
// The share holds only when a switch-out cannot hide between two normal
// completions: with jobs as long as a slice, or completions far apart,
// the VF may be switched out inside every gap, and nothing in the trace
// shows it (Resolved is then false, and Reason says what would resolve
// it).

// measureShare fills the measured share of s from the engine's totals
// under classification cl. sp is the normal spacing below the threshold.
// Steal stretches are not in the gap histograms: the VF held the GPU.
func (e *Engine) measureShare(s *Snapshot, cl classification, sp spacing, switched bool) ShareEstimate {
	var m ShareEstimate
	// Busy time counts from when the trace is complete (busyBefore holds
	// what came before, the part of a busy stretch across it included).
	m.Busy = time.Duration(e.busyTotal - e.busyBefore)
	if e.out > 0 {
		m.Busy += time.Duration(e.end - e.busySince)
	}
	nb, sb := e.busyH.from(cl.busyBin)
	na, _ := e.anchH.from(cl.busyBin)
	// The job that ends a window whose work arrived in the off-time.
	first, firstSE := e.firstDelay(sp, cl, switched)
	unserved, v := sb, 0.0
	if nb > 0 {
		nn := float64(nb - na)
		// The straddling job: length-biased where work was outstanding
		// across the switch (anchored: the job running at a switch is a
		// length-biased pick); where the work arrived in the off-time,
		// the delay to the first completion after the switch-in
		// (firstDelay). Its spread per window, and the spacing's own
		// standard error, make the error.
		unserved -= float64(na)*sp.lenBiased + nn*first
		v = float64(nb) * 2 * sp.sd * sp.sd
		// The spacing's own doubt and the first delay's, each common to
		// its windows (and to each other when the first delay is the
		// spacing's: added as one).
		bias := nn * firstSE
		if sp.n > 0 {
			bias += float64(na) * sp.sd * math.Sqrt(2/float64(sp.n))
		}
		v += bias * bias
	}
	for i := range s.Windows {
		w := &s.Windows[i]
		switch {
		case w.Open && w.Kind != GuestIdle && w.Kind != Steal:
			// The window still open at the end: no closing completion.
			unserved += float64(w.End - w.Start)
			m.Windows++
		}
	}
	// Switch-outs below the threshold, over the whole run.
	su, sv, sn := e.shortUnserved(cl, sp, first, switched)
	unserved += su
	v += sv
	m.Windows += sn
	m.Windows += int(nb)
	if u, wv, n, ok := e.windowsUnserved(cl, sp, first); ok {
		// Window by window: unserved holds the open and short windows
		// already, the totals' part is replaced.
		totals := sb
		if nb > 0 {
			totals -= float64(na)*sp.lenBiased + float64(nb-na)*first
		}
		unserved += u - totals
		m.Windows += n - int(nb)
		v += wv - float64(nb)*2*sp.sd*sp.sd
	} else {
		// The candidates no longer hold the whole run: the totals stand
		// in; the retained stretches that ended inside a predicted
		// off-time (steal, see offSteal) count only their overlap with it.
		g := &e.infCache.grid
		for i := 0; i < e.cands.len(); i++ {
			c := e.cands.at(i)
			if !e.offSteal(c, cl, g, sp.lenBiased) {
				continue
			}
			corr := first
			if c.anchored {
				corr = sp.lenBiased
			}
			unserved += g.offOverlap(float64(c.start), float64(c.end)) - max(0, float64(c.end-c.start)-corr)
			m.Windows--
		}
	}
	if g := &e.infCache.grid; cl.found && e.infCache.valid && g.hidden > 0 {
		// Switches inside busy stretches that the schedule implies but
		// no window showed (see inferVariable, inferQuanta).
		unserved += g.hidden
		v += g.hiddenErr * g.hiddenErr
	}
	unserved = math.Max(0, math.Min(unserved, float64(m.Busy)))
	m.Unserved = time.Duration(unserved)

	completions := e.completions
	switch {
	case completions == 0:
		m.Reason = "no completed GPU job: the share cannot be measured"
		return m
	case m.Busy <= 0:
		m.Reason = "no GPU work was outstanding: the share cannot be measured"
		return m
	case e.matchFrac() < defaults.minMatchFrac:
		m.Reason = fmt.Sprintf("only %.0f%% of completions matched a submission: outstanding work is unknown", 100*e.matchFrac())
		return m
	}
	busy := float64(m.Busy)
	m.Ratio = 1 - unserved/busy
	// Half a window either way at the ends of the span: a partial turn
	// there stands for a whole one or for none.
	edge := 0.0
	if nb > 0 {
		edge = sb / float64(nb) / 2
	}
	// Timestamps are microseconds in report text: two per window.
	res := 2e3 * math.Sqrt(float64(max(nb, 1)))
	m.Err = math.Sqrt(v+edge*edge+res*res) / busy
	m.Err = math.Min(m.Err, 1)

	t := &defaults.share
	// Could a switch-out hide between two normal completions? With no
	// window seen, the longest normal gaps (99th percentile) must be at
	// most half the shortest off-time, so that any switch-out would have
	// stood out as a gap twice as long as any other; with windows, the
	// straddling job must be short against them.
	p99 := time.Duration(binLow(e.busyH.quantileBin(0.99)+1, gapSub))
	if cl.found {
		p99 = time.Duration(binLow(quantileBelow(&e.busyH, cl.busyBin, 0.99)+1, gapSub))
	}
	switch {
	case m.Windows == 0:
		if e.busyH.n < t.minGaps {
			m.Reason = fmt.Sprintf("only %d completion gaps with work outstanding: too little to rule out switch-outs (record longer)", e.busyH.n)
			return m
		}
		if p99 > t.minOffTime/2 {
			m.Reason = fmt.Sprintf("completions are up to %s apart while work waits (99th percentile): a switch-out could hide between any two; record a workload of short jobs", p99.Round(time.Microsecond))
			return m
		}
		m.Ratio, m.Resolved, m.Passthrough = 1, true, true
		m.Reason = fmt.Sprintf("no switch-out in %d completion gaps, none longer than %s: the VF held the GPU whenever it had work", e.busyH.n, p99.Round(time.Microsecond))
		return m
	case sp.n < defaults.minNormalGaps:
		m.Reason = "too few completions between the windows to measure the job spacing (jobs as long as a slice?): record a workload of short jobs"
		return m
	case sp.lenBiased > defaults.maxJobFrac*medianWindow(&e.busyH, cl.busyBin):
		m.Reason = fmt.Sprintf("jobs (%.2f ms) too long against the no-progress windows to tell off-time from work: record a workload of short jobs", sp.lenBiased/1e6)
		return m
	case m.Windows < t.minWindows:
		m.Reason = fmt.Sprintf("only %d no-progress windows: too few turns to measure the share (record a few seconds or more)", m.Windows)
		return m
	}
	m.Resolved = true
	return m
}

// windowsUnserved sums the switched-out time window by window while the
// candidates hold the whole run (live, until the oldest are dropped to
// bound memory; then the totals stand in). On
// a rigid fixed schedule (see grid.rigid) a window shorter than a period
// is its overlap with the schedule's off-time (which job ended a window
// that began in an off-time depends on the rings, and is no part of the
// wait); otherwise a window that began with work outstanding is its
// length less the length-biased straddling job, one whose work arrived in
// the off-time its length less the first delay (firstDelay). A steal window counts only the off-time
// a switch-in inside it shows on a rigid schedule. Windows below the
// threshold are left to the caller. v is the variance of the sum.
func (e *Engine) windowsUnserved(cl classification, sp spacing, first float64) (u, v float64, n int, ok bool) {
	if e.candsDropped {
		return 0, 0, 0, false
	}
	g := &e.infCache.grid
	rigid := g.ok && g.rigid && e.infCache.valid && g.period > 0
	// turn is the first turn start at or after a (less the margin).
	turn := func(a float64) float64 {
		return g.psi + math.Ceil((a-g.margin-g.psi)/g.period)*g.period
	}
	perWindow := 2 * sp.sd * sp.sd
	onGrid := 0 // windows whose off-time was read from the grid
	for i := 0; i < e.cands.len(); i++ {
		c := e.cands.at(i)
		a, b := float64(c.start), float64(c.end)
		switch {
		case c.idle:
		case c.steal || e.offSteal(c, cl, g, sp.lenBiased):
			// the part of an off-time the stretch overlaps: one ending
			// at the turn start inside it, or the one it ended in
			if rigid {
				if x := g.offOverlap(a, b); x > 0 {
					u += x
					onGrid++
				}
			}
		case binOf(c.end-c.start, gapSub) < cl.busyBin:
		case c.anchored && !(rigid && b-a < g.period):
			n++
			u += max(0, b-a-sp.lenBiased)
			v += perWindow
		default:
			n++
			if ts := turn(a); rigid && b-a < g.period && ts <= b+g.margin {
				u += max(0, min(b, ts)-max(a, ts-g.off))
				v += g.margin * g.margin
				onGrid++
				continue
			}
			u += max(0, b-a-first)
			v += perWindow
		}
	}
	// The grid's off-time is one estimate: its error is common to every
	// window read from it.
	v += float64(onGrid) * float64(onGrid) * g.offErr * g.offErr
	return u, v, n, true
}

// quantileBelow returns the bin of the q-quantile of the counts in bins
// [0, b).
func quantileBelow(h *gapHist, b int, q float64) int {
	n, _, _ := h.below(b)
	if n == 0 {
		return 0
	}
	want := uint64(q * float64(n))
	var c uint64
	for i := 0; i < b && i < nbGap; i++ {
		c += h.count[i]
		if c > want {
			return i
		}
	}
	return max(b-1, 0)
}

// medianWindow is the median length of the stretches in bins [b, nbGap).
func medianWindow(h *gapHist, b int) float64 {
	n, _ := h.from(b)
	if n == 0 {
		return 0
	}
	var c uint64
	for i := max(b, 0); i < nbGap; i++ {
		c += h.count[i]
		if 2*c > n {
			return h.sum[i] / float64(h.count[i])
		}
	}
	return 0
}

// firstDelay is how long after work arrives, the VF holding the GPU, its
// first job completes, and that mean's standard error: the mean of the
// stretches that began with the guest idle, stayed below the candidate
// floor and held no switch-out (none spans a predicted turn start or slot
// boundary, see shortSwitchOut). A window whose work arrived in the
// off-time ends that long after the switch-in. With one job on the GPU at
// a time it is a typical job; where the hardware runs several at once it
// is less (the first of them to finish). With fewer than minFirst such
// stretches (a saturating guest is never idle) it is the typical job
// spacing.
func (e *Engine) firstDelay(sp spacing, cl classification, switched bool) (mean, se float64) {
	d := make([]float64, 0, e.short.size)
	for i := 0; i < e.short.size; i++ {
		st := e.short.at(i)
		if !e.shortSwitchOut(st.start, st.end, cl, switched) {
			d = append(d, float64(st.end-st.start))
		}
	}
	if len(d) < defaults.share.minFirst {
		if sp.n == 0 {
			return sp.mean, 0
		}
		return sp.mean, sp.sd / math.Sqrt(float64(sp.n))
	}
	m, sd := meanSD(d)
	return m, sd / math.Sqrt(float64(len(d)))
}

// shortSwitchOut reports whether a stretch [a, b] that began with the
// guest idle and stayed below the threshold is a switch-out all the same
// (the whole run's schedule): it began in a predicted off-time and lasted
// past the turn start (a rigid fixed grid), or spans a slot boundary (a
// variable schedule's slot grid, when the windows are switch-outs).
func (e *Engine) shortSwitchOut(a, b int64, cl classification, switched bool) bool {
	if !cl.found || !e.infCache.valid {
		return false
	}
	g := &e.infCache.grid
	return (g.ok && g.crossesTurnStart(a, b)) || (switched && g.crossesSlot(a, b))
}

// shortUnserved sums the switch-outs below the threshold over the whole
// run: the stretches that began with the guest idle and are switch-outs
// all the same (shortSwitchOut), each less the first delay after the
// switch-in; and the switch-outs found inside turns of whole quanta
// (grid.extra), each less the straddling job (work was outstanding). v
// is the variance of the sum, n the windows.
func (e *Engine) shortUnserved(cl classification, sp spacing, first float64, switched bool) (u, v float64, n int) {
	add := func(d, corr float64) {
		u += max(0, d-corr)
		v += 2 * sp.sd * sp.sd
		n++
	}
	for i := 0; i < e.short.size; i++ {
		st := e.short.at(i)
		if e.shortSwitchOut(st.start, st.end, cl, switched) {
			add(float64(st.end-st.start), first)
		}
	}
	for i := 0; i < e.cands.len(); i++ {
		c := e.cands.at(i)
		if !c.idle && !c.steal && !c.anchored && binOf(c.end-c.start, gapSub) < cl.busyBin && e.shortSwitchOut(c.start, c.end, cl, switched) {
			add(float64(c.end-c.start), first)
		}
	}
	if cl.found && e.infCache.valid && switched {
		for _, x := range e.infCache.grid.extra {
			add(float64(x.end-x.start), sp.lenBiased)
		}
	}
	return u, v, n
}

// offSteal reports whether candidate c is steal although nothing closed
// it in a burst: on the whole run's rigid grid g it ended inside a
// predicted off-time (endsInOff, j the straddling job).
func (e *Engine) offSteal(c *cand, cl classification, g *grid, j float64) bool {
	return !c.idle && !c.steal && g.ok && g.rigid && binOf(c.end-c.start, gapSub) >= cl.busyBin && g.endsInOff(c.end, j)
}
