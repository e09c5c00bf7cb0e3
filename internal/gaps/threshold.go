package gaps

import "math"

// threshold is the split between normal completion spacing and
// no-progress windows, derived from the histogram of busy gaps.
type threshold struct {
	bin int // gaps in bins >= bin are windows
	// sep in [0,1]: how empty the valley between the two clusters is
	// (1: no gap at all falls between them).
	sep float64
	// lowPeak, highPeak: the modes of the two clusters (bins).
	lowPeak, highPeak int
}

const (
	// simultaneous: gaps up to this long are not spacing (see findThreshold)
	simultaneous = 4 * 1000 // ns
	minPeakSep   = 6        // bins (1/8 octave each): the clusters' modes differ by ≥ ×1.68
	maxValley    = 0.3      // valley density relative to the smaller peak
	minHighMass  = 3        // gaps in the upper cluster
)

// findThreshold looks for two clusters in the log-scaled histogram of
// busy gaps: the normal spacing between completions and, clearly longer,
// the stretches in which the VF was switched out. It returns the middle of
// the emptiest stretch of bins between the two modes. A unimodal
// distribution (passthrough: however heavy its tail) has no threshold.
func findThreshold(h *gapHist) (threshold, bool) {
	if h.n < 8 {
		return threshold{}, false
	}
	// Density per unit of log-duration (the linear sub-bins of an octave
	// differ in relative width), scaled to counts per average bin, then
	// smoothed [1 2 1].
	var dens [nbGap]float64
	for b := 1; b < nbGap-1; b++ {
		lo, hi := float64(binLow(b, gapSub)), float64(binLow(b+1, gapSub))
		dens[b] = float64(h.count[b]) * (math.Ln2 / (1 << gapSub)) / math.Log(hi/lo)
	}
	var sm [nbGap]float64
	for b := 1; b < nbGap-1; b++ {
		sm[b] = (dens[b-1] + 2*dens[b] + dens[b+1]) / 4
	}
	// suffix argmax of sm
	var sufArg [nbGap + 1]int
	sufArg[nbGap] = -1
	for b := nbGap - 1; b >= 0; b-- {
		sufArg[b] = b
		if a := sufArg[b+1]; a >= 0 && sm[a] >= sm[b] {
			sufArg[b] = a
		}
	}
	var suffixMass [nbGap + 1]uint64
	for b := nbGap - 1; b >= 0; b-- {
		suffixMass[b] = suffixMass[b+1] + h.count[b]
	}
	best := threshold{bin: -1}
	bestScore := -1.0
	bestMinority := false
	// Gaps of a few µs are simultaneous completions (on different
	// rings, printed with µs timestamps that round them to 0–3 µs): not a
	// mode of the spacing (jobs of 10 µs still are), and no window is
	// that short.
	for b := 0; b <= binOf(simultaneous, gapSub) && b < nbGap; b++ {
		sm[b] = 0
	}
	pl := 1
	for b := 2; b < nbGap; b++ {
		if sm[b-1] > sm[pl] {
			pl = b - 1
		}
		ph := sufArg[b]
		if ph < 0 || ph-pl < minPeakSep || sm[pl] == 0 || sm[ph] == 0 {
			continue
		}
		if suffixMass[b] < minHighMass {
			continue
		}
		// Windows are at most one per turn, and a turn holds more than
		// one completion when a schedule can be resolved at all: an
		// upper cluster holding most gaps is likely the normal spacing,
		// above a cluster of bursts (completions delivered late all at
		// once after the guest was held up). A split leaving the
		// majority below it is preferred.
		minority := 2*suffixMass[b] <= h.n
		if !minority && bestMinority {
			continue
		}
		// Both modes are clusters holding a good part of their side,
		// not stray counts in a tail.
		if near(h, ph) < max(minHighMass, suffixMass[b]/5) {
			continue
		}
		if low := h.n - suffixMass[b]; near(h, pl) < max(defaults.minNormalGaps, low/5) {
			continue
		}
		v, vb := sm[pl], pl
		for i := pl; i <= ph; i++ {
			if sm[i] < v {
				v, vb = sm[i], i
			}
		}
		peak := min(sm[pl], sm[ph])
		if v > maxValley*peak {
			continue
		}
		depth := (peak - v) / peak
		// The widest run of near-empty bins between the modes (the
		// largest margin on the log scale): the threshold is its middle.
		tol := v + 0.05*(peak-v)
		lo, hi := vb, vb
		for i := pl + 1; i < ph; {
			if sm[i] > tol {
				i++
				continue
			}
			k := i
			for k+1 < ph && sm[k+1] <= tol {
				k++
			}
			if k-i > hi-lo {
				lo, hi = i, k
			}
			i = k + 1
		}
		// Between equally deep valleys the wider one wins: a world
		// switch leaves octaves empty between the spacing and the
		// windows, while two rings' spacings sit an octave apart.
		score := depth + 0.004*float64(hi-lo)
		if score > bestScore+1e-9 || (minority && !bestMinority) {
			bestScore, bestMinority = score, minority
			best = threshold{bin: (lo + hi + 1) / 2, sep: depth, lowPeak: pl, highPeak: ph}
		}
	}
	if best.bin < 0 {
		return threshold{}, false
	}
	return best, true
}

// near counts the gaps within 3 bins of b.
func near(h *gapHist, b int) uint64 {
	var n uint64
	for i := max(b-3, 0); i <= min(b+3, nbGap-1); i++ {
		n += h.count[i]
	}
	return n
}
