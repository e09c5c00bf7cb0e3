package gaps

import "slices"

// majorLim is the defaults.majorQuantile (90th) percentile of the
// windows' lengths: windows at least majorFrac (half) as long are major.
func majorLim(ws []cand) int64 {
	lens := make([]int64, len(ws))
	for i, w := range ws {
		lens[i] = w.end - w.start
	}
	slices.Sort(lens)
	return lens[len(lens)*defaults.majorQuantile/100]
}

// isMajor reports whether a window of length l is major under lim.
func isMajor(l, lim int64) bool {
	return float64(l) >= defaults.majorFrac*float64(lim)
}

// majorWindows returns the windows at least half as long as the longest
// tenth of them: the switch-outs, when the rest are hiccups of the guest.
func majorWindows(ws []cand) []cand {
	lim := majorLim(ws)
	var out []cand
	for _, w := range ws {
		if isMajor(w.end-w.start, lim) {
			out = append(out, w)
		}
	}
	return out
}

// minorAreHiccups reports whether the minor windows are hiccups: most
// (and at least minWindows) end with the completions held up meanwhile
// delivered in a burst (the next hiccupBurst closer together than
// hiccupSpacing normal spacings each), not switch-outs of their own (a
// variable schedule's short off-times).
func minorAreHiccups(ws []cand, sp spacing, done completions) bool {
	t := &defaults
	ba := burstAfter(ws, done, t.hiccupBurst)
	lim := float64(t.hiccupBurst) * t.hiccupSpacing * sp.mean
	var minor, bursts int
	ml := majorLim(ws)
	for i, w := range ws {
		if isMajor(w.end-w.start, ml) || ba[i] < 0 {
			continue
		}
		minor++
		if ba[i] < lim {
			bursts++
		}
	}
	return bursts >= t.minWindows && 2*bursts >= minor
}

// lateEdges marks the window edges set by a burst of completions
// delivered late (the guest held up), which are not switch instants: a
// window that begins right after one began when the driver caught up,
// later than the switch-out; one that ends with one ended when the
// driver woke, later than the switch-in. A burst now and then is chance
// (short jobs in a row): only a guest held up again and again (a late
// edge at one window in defaults.lateWindows) has its edges marked, and
// hiccups is then true.
func lateEdges(ws []cand, sp spacing, done completions) (lateStart, lateEnd []bool, hiccups bool) {
	t := &defaults
	n := len(ws)
	lateStart, lateEnd = make([]bool, n), make([]bool, n)
	bb, ba := burstBefore(ws, done, t.lateBurst), burstAfter(ws, done, t.lateBurst)
	blim := float64(t.lateBurst) * t.lateSpacing * sp.mean
	late := 0
	for i := range ws {
		lateStart[i] = bb[i] >= 0 && bb[i] < blim
		lateEnd[i] = ba[i] >= 0 && ba[i] < blim
		if lateStart[i] || lateEnd[i] {
			late++
		}
	}
	hiccups = late >= t.minWindows && t.lateWindows*late >= n
	if !hiccups {
		clear(lateStart)
		clear(lateEnd)
	}
	return lateStart, lateEnd, hiccups
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
