package gaps

import (
	"fmt"
	"math"
	"slices"
	"time"
)

const (
	// minWindows is the fewest switched-out windows a schedule is
	// inferred from (the confidence stays low near it).
	minWindows = 3
	// minNormalGaps is the fewest normal (in-turn) completion gaps needed
	// to estimate the job service time.
	minNormalGaps = 8
	// minInliers is the least fraction of windows on a fixed lattice: a
	// third may be spurious (a guest vCPU or the tracer held up, delaying
	// completions), far above the fraction a lattice catches by chance
	// (2·tolerance/period, a few per cent).
	minInliers = 0.6
	// minMajorInliers is minInliers for the major windows of a guest
	// that was held up now and then: a hiccup that overlaps a turn start
	// delays that window's end off the lattice too.
	minMajorInliers = 0.5
	// maxVFs bounds the VF count (SR-IOV GPUs expose at most a few dozen).
	maxVFs = 64
)

// spacing summarises the normal completion gaps: those with work
// outstanding throughout and shorter than the window threshold. In a
// saturating pipeline each is one job's service time.
type spacing struct {
	n    uint64
	mean float64 // ns
	// lenBiased is E[g²]/E[g]: the expected service time of the job that
	// straddles a switch-out (a long job is proportionally more likely to
	// be the one running when the VF is switched out).
	lenBiased float64
	sd        float64
}

func spacingBelow(h *gapHist, bin int) spacing {
	n, s, s2 := h.below(bin)
	if n == 0 || s == 0 {
		return spacing{n: n}
	}
	m := s / float64(n)
	v := s2/float64(n) - m*m
	return spacing{n: n, mean: m, lenBiased: s2 / s, sd: math.Sqrt(max(v, 0))}
}

// spacingInTurns is spacingBelow corrected for the turns' cut: a job
// longer than others is likelier to straddle a switch, where it is seen as
// part of a window and not as a gap, so the gaps inside turns of length
// slice under-represent long jobs by 1 − g/slice. Each bin is weighted
// back by 1/(1 − g/slice) (at most 4). A slice of 0 leaves them as they
// are.
func spacingInTurns(h *gapHist, bin int, slice float64) spacing {
	if slice <= 0 {
		return spacingBelow(h, bin)
	}
	var n, s, s2 float64
	var cnt uint64
	for i := 0; i < bin && i < nbGap; i++ {
		c := h.count[i]
		if c == 0 {
			continue
		}
		m := h.sum[i] / float64(c)
		w := 1 / max(1-m/slice, 0.25)
		cnt += c
		n += float64(c) * w
		s += h.sum[i] * w
		s2 += h.sum2[i] * w
	}
	if n == 0 || s == 0 {
		return spacing{n: cnt}
	}
	m := s / n
	v := s2/n - m*m
	return spacing{n: cnt, mean: m, lenBiased: s2 / s, sd: math.Sqrt(max(v, 0))}
}

type obs struct {
	s, e     float64 // relative to the first window's end, ns
	anchored bool
	// adjacent: the previous window is the previous turn of a busy
	// stretch (nothing idle in between, this window began with work
	// outstanding).
	adjacent bool
	comps    uint64 // completions between the previous window and this one
}

// infer estimates the schedule from switched-out windows ws (time order).
//
// Model: the VF holds the GPU for Slice, then is off for Off while the
// other VFs run; Period = Slice + Off. A window is observed from the last
// completion before the switch to the first completion after it, so in a
// saturating pipeline it is Off plus the service time of the job that
// straddles the switch (length-biased: spacing.lenBiased). Window ends lie
// within one job time after the start of a turn, so in fixed mode they sit
// on a lattice φ + k·Period, with k skipping the turns in which the guest was
// idle; Period is the least-squares slope over all windows.
// grid is a detected fixed schedule's timing: turns start at
// psi + k·period (trace clock, ns) after an off-time of off.
type grid struct {
	ok bool
	// slotted: no schedule, but the windows lie on a slot grid (variable
	// mode, period unmeasurable): they are still switch-outs.
	slotted          bool
	psi, period, off float64
	margin           float64
}

// done, when not nil, visits the recent completion times.
//
// When no schedule fits all the windows, it is looked for again among the
// major ones alone (see majorWindows): on a loaded guest the driver's
// thread or the vCPU is held up now and then, and each hiccup leaves a
// short no-progress stretch (completions delivered late, in a burst) that
// no lattice holds.
func infer(ws []cand, sp spacing, sep, matchFrac float64, g *grid, done completions) Timeslice {
	ts := inferAll(ws, sp, sep, matchFrac, g, done, minInliers)
	if ts.Detected || len(ws) < 2*minWindows {
		return ts
	}
	major := majorWindows(ws)
	if len(major) == len(ws) || len(major) < minWindows {
		return ts
	}
	// The minor windows must be hiccups: each ends with the completions
	// held up meanwhile delivered in a burst (the next four closer
	// together than two normal spacings), not switch-outs of their own
	// (a variable schedule's short off-times).
	const k = 4
	ba := burstAfter(ws, done, k)
	lim := float64(k) * 0.5 * sp.mean
	var minor, bursts int
	ml := majorLim(ws)
	for i, w := range ws {
		if 2*(w.end-w.start) >= ml || ba[i] < 0 {
			continue
		}
		minor++
		if ba[i] < lim {
			bursts++
		}
	}
	if bursts < minWindows || 2*bursts < minor {
		return ts
	}
	var g2 grid
	ts2 := inferAll(major, sp, sep, matchFrac, &g2, done, minMajorInliers)
	if !ts2.Detected {
		return ts
	}
	if g != nil {
		*g = g2
	}
	minor = len(ws) - len(major)
	ts2.Windows = len(ws)
	// the schedule rests on part of the evidence only
	ts2.Confidence *= float64(len(major)) / float64(len(ws))
	note := fmt.Sprintf("%d short no-progress stretches off the schedule (the guest held up: completions delivered late) left out", minor)
	if ts2.Reason != "" {
		note += "; " + ts2.Reason
	}
	ts2.Reason = note
	return ts2
}

// burstBefore returns, for each window (time order), the time from the
// k-th completion before its start to its start (-1 when unknown).
func burstBefore(ws []cand, done completions, k int) []float64 {
	out := make([]float64, len(ws))
	for i, w := range ws {
		out[i] = -1
		// the completions at or before the start: [0, j)
		j := done.search(w.start + 1)
		if j > k {
			out[i] = float64(w.start - done.at(j-1-k))
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

// majorLim is the 90th percentile of the windows' lengths: windows at
// least half as long are major.
func majorLim(ws []cand) int64 {
	lens := make([]int64, len(ws))
	for i, w := range ws {
		lens[i] = w.end - w.start
	}
	slices.Sort(lens)
	return lens[len(lens)*9/10]
}

// burstAfter returns, for each window (time order), the time from its end
// to the k-th completion after it (-1 when unknown: fewer than k retained
// completions follow, or the completions before its end are not retained).
func burstAfter(ws []cand, done completions, k int) []float64 {
	out := make([]float64, len(ws))
	for i, w := range ws {
		out[i] = -1
		if done.n == 0 || w.end < done.at(0) {
			continue
		}
		// the first completion at or after the end, then k more
		j := done.search(w.end)
		if j+k < done.n {
			out[i] = float64(done.at(j+k) - w.end)
		}
	}
	return out
}

// majorWindows returns the windows at least half as long as the longest
// tenth of them: the switch-outs, when the rest are hiccups of the guest.
func majorWindows(ws []cand) []cand {
	lim := majorLim(ws)
	var out []cand
	for _, w := range ws {
		if 2*(w.end-w.start) >= lim {
			out = append(out, w)
		}
	}
	return out
}

func inferAll(ws []cand, sp spacing, sep, matchFrac float64, g *grid, done completions, minIn float64) Timeslice {
	ts := Timeslice{Mode: ModeNone, Windows: len(ws)}
	n := len(ws)
	switch {
	case n == 0:
		ts.Reason = "no switched-out windows: completions never stopped while work was outstanding (passthrough, or a VF alone on its GPU)"
		return ts
	case n < minWindows:
		ts.Reason = fmt.Sprintf("only %d switched-out window(s); at least %d are needed", n, minWindows)
		return ts
	case matchFrac < 0.5:
		ts.Reason = fmt.Sprintf("only %.0f%% of completions matched a submission: outstanding work is unknown", 100*matchFrac)
		return ts
	case sp.n < minNormalGaps:
		ts.Reason = "too few completions inside turns to measure the job spacing (jobs as long as a slice?)"
		return ts
	}
	j := sp.lenBiased
	lens := make([]float64, n)
	for i, w := range ws {
		lens[i] = float64(w.end - w.start)
	}
	if ml := median(lens); j > 0.35*ml {
		ts.Reason = fmt.Sprintf("jobs (%.2f ms) too long against the no-progress windows (%.2f ms) to resolve the schedule", j/1e6, ml/1e6)
		return ts
	}
	e0 := float64(ws[0].end)
	o := make([]obs, n)
	for i, w := range ws {
		o[i] = obs{s: float64(w.start) - e0, e: float64(w.end) - e0, anchored: w.anchored}
		if i > 0 {
			p := ws[i-1]
			o[i].adjacent = w.anchored && w.zeroStart == p.zeroEnd
			o[i].comps = w.compStart - p.compEnd + 1
		}
	}

	// Saturating: the guest was busy across most consecutive windows.
	nAdj := 0
	for i := 1; i < n; i++ {
		if o[i].adjacent {
			nAdj++
		}
	}
	// (The order-statistic corrections below need it, and enough
	// windows for the asymptotics: with a handful the extremes are
	// left as they are, and the confidence is low anyway.)
	saturating := float64(nAdj) >= 0.8*float64(n-1) && n >= 8

	// Fixed-mode fit: the largest lattice period that holds ≥ 80 % of the window ends.
	diffs := make([]float64, 0, n-1)
	for i := 1; i < n; i++ {
		diffs = append(diffs, o[i].e-o[i-1].e)
	}
	slices.Sort(diffs)
	base := lowCluster(diffs)
	// A turn holds its off-time: the period exceeds the anchored windows.
	anchLens := make([]float64, 0, n)
	for _, w := range o {
		if w.anchored {
			anchLens = append(anchLens, w.e-w.s)
		}
	}
	medAnch := 0.0
	if len(anchLens) > 0 {
		medAnch = median(anchLens) - j
	}
	var fit latticeFit
	fixed := false
	// A turn holds its off-time, so consecutive windows of a fixed
	// schedule are more than an off-time apart: spurious short windows
	// (a vCPU or tracer held up) close together must not set the trial
	// period. The plain base is tried too (a guest idle at most turn
	// ends leaves no consecutive pairs).
	bases := []float64{base}
	if medAnch > 0 {
		long := make([]float64, 0, n)
		for _, d := range diffs {
			if d > medAnch {
				long = append(long, d)
			}
		}
		if b := lowCluster(long); b > 0 && math.Abs(b-base) > 0.02*b {
			bases = append([]float64{b}, bases...)
		}
	}
	for _, base := range bases {
		if fixed || base <= 0 {
			continue
		}
		for m := 1; m <= 4; m++ {
			p0 := base / float64(m)
			// Window ends sit within the straddling job's remainder
			// after the turn start: 2j covers it, but no more than a
			// fifth of the trial period (long exponential jobs would
			// otherwise forbid any fit; the one-step test below rejects
			// a sub-multiple of the true period).
			tol := max(min(2*j, 0.2*p0), 0.02*p0)
			f := fitLattice(o, p0, tol, true)
			if f.inliers >= minIn && f.span >= 3 && f.oneStep >= 0.9 && medAnch < f.period && windowless(o, f.period, medAnch, sp.mean) <= maxWindowless {
				fit, fixed = f, true
				break
			}
		}
	}

	// A lattice that leaves many windows off it while a finer one (a
	// whole fraction of its period) holds nearly all of them is the slot
	// grid of a variable schedule, not a fixed schedule with spurious
	// windows: with two VFs and idle neighbours skipped, windows fall on
	// every slot, not every other one.
	if fixed && fit.inliers < 0.85 {
		for m := 2; m <= 4; m++ {
			p0 := fit.period / float64(m)
			tol := max(min(2*j, 0.2*p0), 0.02*p0)
			if f := fitLattice(o, p0, tol, false); f.inliers >= 0.9 && f.inliers > fit.inliers+0.15 {
				fixed = false
				break
			}
		}
	}

	// Edges set by a burst of completions delivered late (the guest
	// held up) are not switch instants: a window that begins right after
	// one began when the driver caught up, later than the switch-out; one
	// that ends with one ended when the driver woke, later than the
	// switch-in. Their lengths and those edges take no part in the
	// off-time.
	// (Looked for only where they are used: a fixed lattice's edges.)
	const kb = 6
	lateStart := make([]bool, n)
	lateEnd := make([]bool, n)
	hiccups := false
	if fixed && !fit.local {
		bb, ba := burstBefore(ws, done, kb), burstAfter(ws, done, kb)
		blim := float64(kb) * 0.35 * sp.mean
		late := 0
		for i := range ws {
			lateStart[i] = bb[i] >= 0 && bb[i] < blim
			lateEnd[i] = ba[i] >= 0 && ba[i] < blim
			if lateStart[i] || lateEnd[i] {
				late++
			}
		}
		// A burst now and then is chance (short jobs in a row); only a
		// guest held up again and again shows them at a tenth of the
		// windows.
		hiccups = late >= minWindows && 10*late >= n
		if !hiccups {
			clear(lateStart)
			clear(lateEnd)
		}
	}

	// Off-time from anchored windows (their length is Off + one straddling job).
	offs := make([]float64, 0, n)
	for i, w := range o {
		if w.anchored && (!fixed || fit.in[i]) && !lateStart[i] && !lateEnd[i] {
			offs = append(offs, w.e-w.s)
		}
	}
	var off, offSE float64
	usedExt := false
	switch {
	case fixed && !fit.local && len(offs) >= 2:
		// In fixed mode the switch instants themselves sit on the
		// lattice: a window ends R ≥ 0 after its turn starts (what
		// remains of the straddling job) and starts U ≥ 0 before its
		// turn ends (the part already done). The extremes over many
		// windows approach R = U = 0, a far tighter estimate than the
		// mean, unless jobs are phase-locked to the slice (constant
		// jobs dividing it); then the mean estimate, exact in that
		// case, is used.
		core := robustCore(offs, j)
		m, sd := meanSD(core)
		offMean := m - j
		// windows far from the bulk (cut short by a late completion)
		// take no part in the extremes either
		lo, hi := slices.Min(core), slices.Max(core)
		seMean := math.Hypot(sd/math.Sqrt(float64(len(offs))), sp.sd/math.Sqrt(float64(sp.n)))
		re := make([]float64, 0, n)
		rs := make([]float64, 0, n)
		for i, w := range o {
			if !fit.in[i] {
				continue
			}
			if w.anchored && !lateStart[i] && !lateEnd[i] && (w.e-w.s < lo || w.e-w.s > hi) {
				continue
			}
			l := fit.phi + fit.period*fit.k[i]
			if !lateEnd[i] {
				re = append(re, w.e-l)
			}
			if w.anchored && !lateStart[i] {
				rs = append(rs, w.s-l)
			}
		}
		slices.Sort(re)
		slices.Sort(rs)
		// The latest start is passed over when there are enough: one
		// window that began late (completions of the turn's end delivered
		// late, during the off-time) would otherwise set it.
		q := len(rs) / 40
		if len(rs) >= 16 {
			q = max(q, 1)
		}
		offExt := re[len(re)/40] - rs[len(rs)-1-q]
		// The extremes are order statistics of the straddling jobs'
		// remainder (ends) and age (starts). Both have density 1/E[g]
		// at 0 (renewal theory), so the (k+1)-th smallest of n sits
		// about (k+1)·E[g]/(n+1) above 0: take that bias out. This
		// holds for a saturating pipeline (jobs back to back); with
		// sparse work (frames) the age is not a renewal age.
		if saturating {
			offExt -= float64(len(re)/40+1)*sp.mean/float64(len(re)+1) + float64(q+1)*sp.mean/float64(len(rs)+1)
		}
		// spread of the extremes: the next order statistics
		seExt := max(re[min(len(re)/40+1, len(re)-1)]-re[len(re)/40], rs[len(rs)-1-q]-rs[max(len(rs)-2-q, 0)], fit.periodSE)
		// The extremes are trusted only when they are tight (their
		// neighbouring order statistics close together, as on a clean
		// schedule): a few windows that began late (a stalled driver,
		// events delivered late) otherwise drag them far off.
		// (In a saturating pipeline the mean rests on the straddling
		// job model, which holds less exactly than the extremes: give
		// the extremes more room before calling the jobs phase-locked.)
		kse := 2.0
		if saturating {
			kse = 3
		}
		// Jobs phase-locked to the slice make every window the same
		// length (off-time plus one whole job): then the straddling job
		// is the typical spacing itself, best taken as the median gap
		// (robust to a guest held up now and then, whose hiccups and
		// bursts skew E[g²]/E[g]), and the window's median length.
		locked := false
		if len(core) >= 8 {
			c := slices.Clone(core)
			slices.Sort(c)
			if c[len(c)*3/4]-c[len(c)/4] < 0.1*j {
				if jm := medianGap(done, lo/2); jm > 0.7*j && jm < 1.3*j {
					locked = true
					offMean = c[len(c)/2] - jm
				}
			}
		}
		switch {
		// The two must agree: the mean within its errors and its model's
		// doubt (the straddling job lies between a typical and a
		// length-biased one, half their difference either way), the
		// extremes within theirs. Host jitter moves the extremes (the
		// earliest end and latest start are the turns the jitter moved
		// most), not the mean; truncated long jobs move the mean.
		// Where the guest saturates, the renewal argument also tells a
		// sharp edge from one the jitter spread; sparse work (frames)
		// has no renewal ages, and there the extremes only need to be
		// no larger than the mean allows.
		case !locked && saturating && sharpEdge(re, sp.mean) &&
			math.Abs(offExt-offMean) <= kse*seMean+seExt+(j-sp.mean)/2 && seExt <= 0.25*j+2*seMean,
			!locked && !saturating && offExt <= offMean+kse*seMean+seExt && seExt <= 0.25*j+2*seMean:
			off, offSE = offExt, seExt
			usedExt = true
		default:
			off, offSE = offMean, seMean
		}
	case len(offs) >= 2:
		m, sd := meanSD(robustCore(offs, j))
		off = m - j
		offSE = math.Hypot(sd/math.Sqrt(float64(len(offs))), sp.sd/math.Sqrt(float64(sp.n)))
	default:
		// Frame-paced: windows begin when a job arrives during the
		// off-time. The longest of them approach Off + one job.
		bs := make([]float64, 0, n)
		for i, w := range o {
			if !fixed || fit.in[i] {
				bs = append(bs, w.e-w.s)
			}
		}
		slices.Sort(bs)
		off = bs[(len(bs)*9)/10] - j
		offSE = max(j, (bs[len(bs)-1]-bs[0])/math.Sqrt(float64(len(bs))))
	}

	// Observed on-times between adjacent windows: Slice minus the two
	// partial jobs at its edges (together one job on average).
	ons := make([]float64, 0, n)
	turns := make([]float64, 0, n)
	comps := make([]float64, 0, n)
	for i := 1; i < n; i++ {
		if o[i].adjacent {
			ons = append(ons, o[i].s-o[i-1].e+j)
			turns = append(turns, o[i].e-o[i-1].e)
			comps = append(comps, float64(o[i].comps))
		}
	}

	var psi float64
	if fixed {
		minRe := math.Inf(1)
		all := make([]float64, 0, n)
		for i, w := range o {
			if fit.in[i] {
				all = append(all, w.e-fit.phi-fit.period*fit.k[i])
			}
		}
		slices.Sort(all)
		minRe = all[len(all)/40]
		if saturating {
			minRe -= float64(len(all)/40+1) * sp.mean / float64(len(all)+1)
		}
		psi = e0 + fit.phi + minRe
	}

	var slice, period, sliceErr, periodErr float64
	conf := 1.0
	var notes []string
	if fixed {
		ts.Mode = ModeFixed
		period, periodErr = fit.period, max(fit.periodSE, fit.blockSE)
		slice = period - off
		if usedExt && done.n > 0 {
			// Every completion falls inside a turn: the latest phase
			// of any completion after the turn start bounds the slice
			// from below, and with many turns approaches it (the
			// windows' own starts are only the turns that ended busy).
			// The latest phase of each turn; on a guest held up now and
			// then, the latest of all is passed over when there are
			// enough turns (a completion of the turn's end delivered
			// late, in the off-time, would set it).
			lim := period - off/2
			var tops []float64
			turn := math.Inf(-1)
			done.each(func(t int64) {
				x := float64(t) - psi
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
			best := -1.0
			if len(tops) > 0 {
				slices.Sort(tops)
				q := 0
				if hiccups && len(tops) >= 16 {
					q = max(len(tops)/40, 1)
				}
				// a few latest phases standing apart from the rest
				// are late deliveries too, not the turn's end
				for q+1 < len(tops)/10 && tops[len(tops)-1-q]-tops[len(tops)-2-q] > 0.25*j {
					q++
				}
				best = tops[len(tops)-1-q]
			}
			if best > slice && best-slice <= 2*j {
				slice, off = best, period-best
			}
		}
		sliceErr = math.Hypot(periodErr, offSE)
		conf *= fit.inliers
		if fit.local {
			notes = append(notes, "turns drift around the period (host jitter): period from the mean step, slice from the mean window")
		}
		if len(ons) == 0 {
			notes = append(notes, "no two consecutive turns observed busy")
			conf *= 0.8
		}
	} else {
		v, reason := inferVariable(o, base, j, sp)
		if reason != "" {
			ts.Reason = reason
			if v.slotted && n >= 8 {
				ts.Reason = fmt.Sprintf("the windows are switch-outs on a grid of %.2f ms slots (slice ≈ %.2f ms), but %s", v.slot/1e6, v.slice/1e6, reason)
				if g != nil {
					g.slotted = true
				}
			}
			return ts
		}
		ts.Mode = ModeVariable
		slice, sliceErr, period, periodErr = v.slice, v.sliceErr, v.period, v.periodErr
		off = period - slice
		ts.VFs = v.vfs
		conf *= 0.8 * v.inliers
		notes = append(notes, "turns do not recur on one period (idle neighbours skipped): Period is the mean turn-to-turn time, VFs the most seen busy at once")
	}
	if slice <= 0 || off <= 0 || slice >= period {
		ts.Mode = ModeNone
		ts.Reason = fmt.Sprintf("inconsistent estimate (slice %.2f ms, period %.2f ms)", slice/1e6, period/1e6)
		return ts
	}
	if j > 0.75*slice {
		ts.Mode = ModeNone
		ts.Reason = fmt.Sprintf("jobs (%.2f ms) too long against the apparent slice (%.2f ms) to resolve it", j/1e6, slice/1e6)
		return ts
	}
	if len(comps) > 0 {
		slices.Sort(comps)
		if comps[len(comps)/2] < 3 {
			notes = append(notes, "few completions per turn")
			conf *= 0.6
		}
	}

	ts.Detected = true
	if fixed && !fit.local && g != nil {
		*g = grid{ok: true, psi: psi, period: period, off: off, margin: sliceErr + 10e3}
	}
	ts.Slice = time.Duration(slice)
	ts.SliceErr = time.Duration(sliceErr)
	ts.Period = time.Duration(period)
	ts.PeriodErr = time.Duration(periodErr)
	ts.ScheduleShare = slice / period
	ts.ScheduleShareErr = ts.ScheduleShare * math.Hypot(sliceErr/slice, periodErr/period)
	if ts.Mode == ModeFixed {
		ts.VFs, ts.SwitchCost = vfs(period, slice)
	} else if ts.VFs > 0 {
		ts.SwitchCost = time.Duration(max(0, (period-slice*float64(ts.VFs))/float64(ts.VFs)))
	}

	// Confidence: evidence count × lattice fit × cluster separation ×
	// resolvability (jobs short against the slice) × matched completions.
	conf *= 1 - math.Exp(-float64(n)/8)
	conf *= 0.5 + 0.5*sep
	r := j / slice
	conf *= 1 / (1 + 8*r*r)
	conf *= min(1, matchFrac)
	// A slice known to no better than ±1 % (two standard errors) is not
	// a confident one: the targets gpuwatch is held to are 1 %.
	if rel := sliceErr / slice; rel > 0.005 {
		conf *= 0.005 / rel
	}
	// A period known only to a few per cent (variable mode from few
	// consecutive turns) cannot give a confident share.
	if rel := periodErr / period; rel > 0.005 {
		conf *= 0.005 / rel
	}
	ts.Confidence = math.Max(0, math.Min(1, conf))
	if n < 8 {
		notes = append(notes, fmt.Sprintf("only %d windows", n))
	}
	if len(notes) > 0 {
		ts.Reason = joinNotes(notes)
	}
	for _, x := range []float64{slice, sliceErr, period, periodErr, ts.ScheduleShare, ts.ScheduleShareErr, ts.Confidence} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Timeslice{Mode: ModeNone, Windows: n, Reason: "numerically degenerate estimate"}
		}
	}
	return ts
}

// vfs infers the number of VFs from Period = N·(Slice + c), with c the
// per-turn switch cost: N is the largest count whose implied c is not
// negative, preferring the one whose c is closest to a typical world switch
// (~0.2 ms on MxGPU) when several fit within 30 % of the slice.
func vfs(period, slice float64) (int, time.Duration) {
	if slice <= 0 {
		return 0, 0
	}
	nmax := int(math.Floor(period/slice + 0.25)) // the slice estimate may run a little over Period/N
	if nmax < 2 || nmax > maxVFs {
		return 0, 0
	}
	const typical = 0.2e6
	best, bestD := nmax, math.Inf(1)
	for k := nmax; k >= 2; k-- {
		c := period/float64(k) - slice
		if c > 0.3*slice && k != nmax {
			break
		}
		if d := math.Abs(c - typical); d < bestD {
			best, bestD = k, d
		}
	}
	c := max(period/float64(best)-slice, 0)
	return best, time.Duration(c)
}

type latticeFit struct {
	period, periodSE float64
	// blockSE is the period's standard error from the spread of block
	// slopes (see blockSlopeSE): the one to report when turns drift.
	blockSE    float64
	phi        float64   // end = phi + k·period
	k          []float64 // turn index of each window
	inliers    float64   // fraction of windows on the lattice
	span       int       // turns covered
	oneStep    float64   // fraction of consecutive busy windows one period apart
	minAdjStep float64   // fewest periods between consecutive busy windows
	in         []bool
	// local: the turns drift (host jitter): no single lattice holds the
	// windows, but each sits one period after the previous; period is
	// the mean step and phi/k do not describe absolute turn starts.
	local bool
}

// fitLattice assigns each window end a turn index using a trial period p0,
// fits end = φ + k·period by least squares on the inliers and repeats.
func fitLattice(o []obs, p0, tol float64, track bool) latticeFit {
	n := len(o)
	k := make([]float64, n)
	in := make([]bool, n)
	// Turn indices by tracking: each window is placed relative to the
	// last window that sat on the trial lattice (its anchor), so spurious
	// windows in between (a vCPU or the tracer held up) neither shift the
	// count nor, in the first fit, pull the line. Three misses in a row
	// re-anchor: the anchor itself may have been spurious.
	trk := make([]bool, n)
	if n > 0 {
		trk[0] = true
	}
	anchor, miss := 0, 0
	for i := 1; i < n; i++ {
		if !track {
			// cumulative steps (variable mode: windows whole slots apart)
			k[i] = k[i-1] + math.Round((o[i].e-o[i-1].e)/p0)
			trk[i] = true
			continue
		}
		x := math.Round((o[i].e - o[anchor].e) / p0)
		k[i] = k[anchor] + x
		// a step may also carry the host's jitter: a wider band
		if r := o[i].e - o[anchor].e - x*p0; math.Abs(r) <= max(tol, 0.1*p0) {
			anchor, miss, trk[i] = i, 0, true
		} else if miss++; miss >= 3 {
			anchor, miss = i, 0
		}
	}
	ktrk := slices.Clone(k)
	p, phi := p0, 0.0
	var se float64
	cnt := n
	for iter := 0; iter < 5; iter++ {
		// residuals against the current line, inliers around their median
		res := make([]float64, n)
		for i := range o {
			res[i] = o[i].e - phi - p*k[i]
		}
		med := median(res)
		cnt = 0
		for i := range o {
			// The first pass fits the tracked windows: their turn
			// indices are right, only the trial period is off, so
			// residuals drift.
			in[i] = (iter == 0 && trk[i]) || (iter > 0 && math.Abs(res[i]-med) <= tol)
			if in[i] {
				cnt++
			}
		}
		if cnt < 2 {
			break
		}
		var sx, sy float64
		for i := range o {
			if in[i] {
				sx += k[i]
				sy += o[i].e
			}
		}
		mx, my := sx/float64(cnt), sy/float64(cnt)
		var sxx, sxy float64
		for i := range o {
			if in[i] {
				sxx += (k[i] - mx) * (k[i] - mx)
				sxy += (k[i] - mx) * (o[i].e - my)
			}
		}
		if sxx == 0 {
			break
		}
		p = sxy / sxx
		phi = my - p*mx
		var rss float64
		for i := range o {
			if in[i] {
				r := o[i].e - phi - p*k[i]
				rss += r * r
			}
		}
		if cnt > 2 {
			se = math.Sqrt(rss / float64(cnt-2) / sxx)
		}
		// re-index with the refined period
		for i := range o {
			k[i] = math.Round((o[i].e - phi) / p)
		}
	}
	// Drifting turns (a host whose slices jitter): the turn starts
	// random-walk around any lattice, so a global line leaves windows
	// off it while the tracking, step by step, held nearly all. The mean
	// step over the tracked windows is then the period.
	local := false
	if track && float64(cnt) < minInliers*float64(n) {
		nt, first, last := 0, -1, -1
		for i := range trk {
			if trk[i] {
				nt++
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if float64(nt) >= 0.8*float64(n) && last > first && ktrk[last] > ktrk[first] {
			steps := ktrk[last] - ktrk[first]
			p = (o[last].e - o[first].e) / steps
			var ss float64
			m := 0
			for i := first + 1; i <= last; i++ {
				if trk[i] && trk[i-1] && ktrk[i]-ktrk[i-1] == 1 {
					d := o[i].e - o[i-1].e - p
					ss += d * d
					m++
				}
			}
			se = 0
			if m > 1 {
				se = math.Sqrt(ss/float64(m-1)) / math.Sqrt(steps)
			}
			copy(k, ktrk)
			copy(in, trk)
			cnt, local = nt, true
			phi = o[first].e - p*k[first]
		}
	}
	// Window ends cannot precede their turn's start: they lie on or
	// above the line of turn starts, and the earliest ones touch it.
	// The lower envelope's slope is far less noisy than least squares
	// over the straddling jobs' remainders.
	if env, ok := lowerEnvelopeSlope(o, k, in); !local && ok && se > 0 && math.Abs(env-p) <= 3*se {
		p = env
		minR := math.Inf(1)
		for i := range o {
			if in[i] {
				minR = min(minR, o[i].e-p*k[i])
			}
		}
		// keep phi as the least-squares line (ends' mean offset) with the new slope
		var sr float64
		for i := range o {
			if in[i] {
				sr += o[i].e - p*k[i] - minR
			}
		}
		if cnt > 0 {
			phi = minR + sr/float64(cnt)
		}
	}
	blockSE := 0.0
	if !local {
		blockSE = blockSlopeSE(o, k, in)
	}
	span := 0
	if n > 0 {
		span = int(k[n-1] - k[0])
	}
	// With the guest busy from one window to the next, the host cannot
	// have given it two turns in between: consecutive busy windows are
	// one period apart.
	adj, one := 0, 0
	for i := 1; i < n; i++ {
		if o[i].adjacent && in[i] && in[i-1] {
			adj++
			if k[i]-k[i-1] == 1 {
				one++
			}
		}
	}
	oneStep := 1.0
	if adj > 0 {
		oneStep = float64(one) / float64(adj)
	}
	minAdj := math.Inf(1)
	for i := 1; i < n; i++ {
		if o[i].adjacent && in[i] && in[i-1] {
			minAdj = min(minAdj, k[i]-k[i-1])
		}
	}
	return latticeFit{period: p, periodSE: se, blockSE: blockSE, phi: phi, k: k, inliers: float64(cnt) / float64(n), span: span, in: in, oneStep: oneStep, minAdjStep: minAdj, local: local}
}

// sharpEdge reports whether the sorted lattice residuals of the window
// ends, x, rise from their lowest as a rigid lattice makes them: the
// straddling jobs' remainders have density 1/E[g] at the switch-in
// (renewal), so the m-th lowest lies about (m-1)·E[g]/(n+1) above the
// lowest. Host jitter (a switch a little early or late, or turn starts
// that drift) spreads that edge: the extremes then measure the jitter,
// not the switch. Three times the renewal spread (and 2 µs of timestamp
// resolution) is the most a sharp edge shows. (Completions delivered late
// only move ends later, never earlier: the lower edge of the ends is
// theirs to keep.)
func sharpEdge(x []float64, meanGap float64) bool {
	n := len(x)
	m := max(n/10, 4)
	if n < 2*m {
		return true // too few to tell: the extremes' own spread decides
	}
	return x[m-1]-x[0] <= 3*float64(m-1)*meanGap/float64(n+1)+2e3
}

// slopeBlocks is how many consecutive blocks blockSlopeSE cuts the
// windows into.
const slopeBlocks = 4

// blockSlopeSE is the standard error of the period from the spread of the
// slopes fitted to slopeBlocks consecutive blocks of the inlier windows
// (0 when a block has too few). A host whose turns drift (relative
// timers: each switch armed after the previous one completed) leaves
// residuals that wander together, which least squares takes for
// independent noise: its standard error is then far too small, while
// the blocks' slopes disagree by as much as the drift.
func blockSlopeSE(o []obs, k []float64, in []bool) float64 {
	idx := make([]int, 0, len(o))
	for i := range o {
		if in[i] {
			idx = append(idx, i)
		}
	}
	if len(idx) < 4*slopeBlocks {
		return 0
	}
	var ps []float64
	for b := range slopeBlocks {
		blk := idx[b*len(idx)/slopeBlocks : (b+1)*len(idx)/slopeBlocks]
		var sx, sy float64
		for _, i := range blk {
			sx += k[i]
			sy += o[i].e
		}
		m := float64(len(blk))
		mx, my := sx/m, sy/m
		var sxx, sxy float64
		for _, i := range blk {
			sxx += (k[i] - mx) * (k[i] - mx)
			sxy += (k[i] - mx) * (o[i].e - my)
		}
		if sxx == 0 {
			return 0
		}
		ps = append(ps, sxy/sxx)
	}
	_, sd := meanSD(ps)
	return sd / math.Sqrt(float64(slopeBlocks))
}

// maxWindowless is the largest fraction of the busy time between
// consecutive windows that a fixed schedule may leave without a window
// (a missed window here and there), see windowless.
const maxWindowless = 0.05

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
		if d > 1.5*period && float64(o[i].comps)*gap > lim*d {
			extra += d - period
		}
	}
	if tot == 0 {
		return 0
	}
	return extra / tot
}

// lowCluster returns the typical shortest spacing in sorted diffs: the
// median of the values near the 20th percentile (robust to a few
// spurious short ones and to skipped turns, which give multiples).
func lowCluster(d []float64) float64 {
	if len(d) == 0 {
		return 0
	}
	q := d[len(d)/5]
	c := make([]float64, 0, len(d))
	for _, v := range d {
		if v >= 0.75*q && v <= 1.25*q {
			c = append(c, v)
		}
	}
	if len(c) == 0 {
		return q
	}
	return c[len(c)/2]
}

// robustCore drops the window lengths far from the median (by more than
// three straddling jobs or four median absolute deviations): windows cut
// short by a late completion, or stretched by a stalled one, are not
// off-times.
func robustCore(x []float64, j float64) []float64 {
	if len(x) < 8 {
		return x
	}
	med := median(x)
	dev := make([]float64, len(x))
	for i, v := range x {
		dev[i] = math.Abs(v - med)
	}
	lim := max(3*j, 4*median(dev))
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if math.Abs(v-med) <= lim {
			out = append(out, v)
		}
	}
	if len(out) < len(x)/2 {
		return x
	}
	return out
}

func median(x []float64) float64 {
	c := slices.Clone(x)
	slices.Sort(c)
	if len(c) == 0 {
		return 0
	}
	return c[len(c)/2]
}

func meanSD(x []float64) (float64, float64) {
	if len(x) == 0 {
		return 0, 0
	}
	var s float64
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	var v float64
	for _, y := range x {
		v += (y - m) * (y - m)
	}
	if len(x) > 1 {
		v /= float64(len(x) - 1)
	}
	return m, math.Sqrt(v)
}

func joinNotes(n []string) string {
	s := n[0]
	for _, x := range n[1:] {
		s += "; " + x
	}
	return s
}

type variableFit struct {
	slice, sliceErr, period, periodErr float64
	vfs                                int
	inliers                            float64
	// slotted: the windows sit on a grid of slots (slot long) although
	// the period could not be measured: they are switch-outs all the same.
	slotted bool
	slot    float64
}

// inferVariable fits the variable (work-conserving) schedule: the host
// still switches on a grid of slots Q = Slice + switch cost, but skips idle
// VFs, so windows are whole numbers of slots apart, not one period. Window
// ends sit R ≥ 0 after a slot start, window starts U ≥ 0 before a slot's
// end: with the grid's phase ψ from the earliest end, Slice is the largest
// (start - ψ) mod Q.
func inferVariable(o []obs, base, j float64, sp spacing) (variableFit, string) {
	const notSched = "windows are not separated by whole numbers of one slot: not a time-slice schedule"
	if base <= 0 {
		return variableFit{}, notSched
	}
	// A slot grid rests on many windows: with a handful, some trial
	// slot always fits them.
	if len(o) < 8 {
		return variableFit{}, fmt.Sprintf("only %d windows, and they do not recur on one period: too few to find a slot grid", len(o))
	}
	var fit latticeFit
	found := false
	for m := 2; m <= 16; m++ {
		p0 := base / float64(m)
		// Window ends sit within the straddling job's remainder
		// after a slot start: 2j covers it, but no more than a fifth
		// of the slot (long exponential jobs would otherwise forbid
		// any fit); slots shorter than four straddling jobs cannot be
		// resolved.
		tol := max(min(2*j, 0.2*p0), 0.02*p0)
		if p0 < 4*j {
			break
		}
		f := fitLattice(o, p0, tol, false)
		if f.inliers >= 0.85 && f.span >= 6 && f.minAdjStep >= 2 {
			fit, found = f, true
			break
		}
	}
	if !found {
		return variableFit{}, notSched
	}
	q := fit.period
	minRe := math.Inf(1)
	for i, w := range o {
		if fit.in[i] {
			minRe = min(minRe, w.e-fit.phi-q*fit.k[i])
		}
	}
	psi := fit.phi + minRe
	var tops []float64
	for i, w := range o {
		if fit.in[i] && w.anchored {
			tops = append(tops, math.Mod(math.Mod(w.s-psi, q)+q, q))
		}
	}
	if len(tops) < 3 {
		return variableFit{}, "too few windows that began with work outstanding to measure the slice"
	}
	slices.Sort(tops)
	qi := len(tops) / 40
	slice := tops[len(tops)-1-qi]
	// Jobs phase-locked to the slot (constant jobs dividing it) keep U
	// and R from reaching 0: then U+R stays one straddling job and the
	// spread of the starts is small. Add back what the spread cannot
	// account for.
	slice += max(0, j-(tops[len(tops)-1]-tops[0]))
	sliceErr := max(tops[len(tops)-1-qi]-tops[max(len(tops)-2-qi, 0)], fit.periodSE)
	c := q - slice
	// Turns: each busy stretch between adjacent windows holds whole slots.
	var span, turns float64
	var pairs [][2]float64 // (span, turns) of each busy stretch
	vfs := 0
	for i := 1; i < len(o); i++ {
		if !o[i].adjacent || !fit.in[i] || !fit.in[i-1] {
			continue
		}
		on := o[i].s - o[i-1].e + j + c
		m := math.Round(on / q)
		if m < 1 {
			continue
		}
		turns += m
		span += o[i].e - o[i-1].e
		pairs = append(pairs, [2]float64{o[i].e - o[i-1].e, m})
		off := o[i].e - o[i].s - j - c
		vfs = min(max(vfs, 1+int(math.Round(off/q))), maxVFs)
	}
	if turns < 3 {
		// Sparse work (frame-paced): the off-times seen are only those
		// the guest had work in, and a turn whose neighbours were all
		// skipped leaves no window at all, so the turn-to-turn time
		// cannot be measured from them: say so rather than guess.
		return variableFit{slot: q, slice: slice, slotted: true}, "too few consecutive busy turns to measure the period (in variable mode a turn whose neighbours were all idle leaves no window)"
	}
	period := span / turns
	// The mean turn-to-turn time is a ratio estimate over the stretches
	// seen (each a span of whole turns, their share of skipped
	// neighbours random): its standard error comes from their scatter,
	// and with few turns the confidence says so.
	var ss float64
	for _, p := range pairs {
		d := p[0] - period*p[1]
		ss += d * d
	}
	periodErr := max(q/turns, math.Sqrt(ss)/turns)
	return variableFit{slice: slice, sliceErr: sliceErr, period: period, periodErr: periodErr, vfs: vfs, inliers: fit.inliers * turns / (turns + 20)}, ""
}

func span0(k []float64) float64 {
	if len(k) == 0 {
		return 0
	}
	return k[len(k)-1] - k[0]
}

// lowerEnvelopeSlope returns the slope of the lower convex hull of the
// inlier points (k, end) at the points' mean k: the line under all ends
// that is closest to them on average.
func lowerEnvelopeSlope(o []obs, k []float64, in []bool) (float64, bool) {
	type pt struct{ x, y float64 }
	pts := make([]pt, 0, len(o))
	var sx float64
	for i := range o {
		if !in[i] {
			continue
		}
		p := pt{k[i], o[i].e}
		if n := len(pts); n > 0 && pts[n-1].x == p.x {
			pts[n-1].y = min(pts[n-1].y, p.y)
			continue
		}
		if n := len(pts); n > 0 && pts[n-1].x > p.x {
			return 0, false
		}
		pts = append(pts, p)
		sx += p.x
	}
	if len(pts) < 3 {
		return 0, false
	}
	mx := sx / float64(len(pts))
	h := make([]pt, 0, len(pts))
	for _, p := range pts {
		for len(h) >= 2 {
			a, b := h[len(h)-2], h[len(h)-1]
			if (b.x-a.x)*(p.y-a.y)-(b.y-a.y)*(p.x-a.x) <= 0 {
				h = h[:len(h)-1]
				continue
			}
			break
		}
		h = append(h, p)
	}
	for i := 0; i+1 < len(h); i++ {
		if h[i].x <= mx && mx <= h[i+1].x {
			return (h[i+1].y - h[i].y) / (h[i+1].x - h[i].x), true
		}
	}
	return 0, false
}
